"""Golden screenshots of the key screens (Textual's SVG export, text compared).

Regenerate after an intended change with ``DURASCOPE_UPDATE_GOLDEN=1 make test`` (or
pytest on this file), then look at the SVGs in ``tests/tui/golden`` before committing.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from durascope.tui import DurascopeApp

GOLDEN = Path(__file__).with_name("golden")
# The committed fixture store: its instance order and timestamps are fixed, so the
# screens are too (regenerating the fixtures means regenerating these goldens).
STORE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios.db"
SIZE = (120, 34)


async def screenshot(app: DurascopeApp, keys: tuple[str, ...]) -> str:
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        return app.export_screenshot(title="durascope")


@pytest.mark.parametrize(
    ("name", "instance", "keys"),
    [
        ("browser", None, ()),
        ("legacy_loop_stuck_turn", "legacy-loop", ("end",)),
        ("fixed_supervisor_filtered_turn", "fixed-supervisor", ("home", "n")),
    ],
)
async def test_golden_screen(
    name: str,
    instance: str | None,
    keys: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A copy opened by a relative name: the title shows the same text in any checkout.
    shutil.copy(STORE, tmp_path / "scenarios.db")
    monkeypatch.chdir(tmp_path)
    app = DurascopeApp("scenarios.db", instance=instance, poll=False)
    svg = re.sub(r"terminal-\d+", "terminal", await screenshot(app, keys))
    golden = GOLDEN / f"{name}.svg"
    if os.environ.get("DURASCOPE_UPDATE_GOLDEN") or not golden.exists():
        golden.write_text(svg)
        if not os.environ.get("DURASCOPE_UPDATE_GOLDEN"):
            pytest.fail(f"{golden} did not exist; it was written now: inspect it and commit it")
    expected = golden.read_text()
    if svg != expected:
        actual = golden.with_suffix(".actual.svg")
        actual.write_text(svg)
        pytest.fail(f"{name} differs from {golden}; the new rendering is in {actual}")
