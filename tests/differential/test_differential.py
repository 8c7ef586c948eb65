"""Each scenario leaves the same (normalised) store on duroxide and on durascope.

Run with ``.venv/bin/python -m pytest tests/differential -m differential``.
The test is skipped only when the ``duroxide`` wheel cannot be imported; a
durascope crash, hang or difference is a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.differential.harness import diff_dumps, normalise, render, run_dump
from tests.differential.scenarios import SCENARIOS

pytest.importorskip(
    "duroxide", reason="the duroxide wheel (the differential oracle) is not importable"
)


@pytest.mark.differential
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_history_as_duroxide(name: str, tmp_path: Path) -> None:
    oracle = normalise(run_dump("duroxide", name, tmp_path))
    expected = SCENARIOS[name].expected
    oracle_statuses = {instance: info["status"] for instance, info in oracle["instances"].items()}
    assert oracle["drive_error"] is None and oracle_statuses == expected, (
        f"the scenario itself misbehaves on duroxide: drive_error={oracle['drive_error']!r}, "
        f"statuses={oracle_statuses}, expected={expected}\n{render(oracle)}"
    )

    candidate = normalise(run_dump("durascope", name, tmp_path))
    differences = diff_dumps(oracle, candidate)
    if differences:
        pytest.fail(
            f"{name}: durascope differs from duroxide\n" + "\n".join(differences), pytrace=False
        )
    assert candidate == oracle  # the diff above must have reported any difference
