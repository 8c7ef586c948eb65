"""One duroxide-python script, unchanged, gives the same results on duroxide and on durascope.

See ``compat_script``: it uses ``RuntimeOptions`` with all of duroxide-python's
arguments, the ``TagFilter`` strings, every registration style, the context's
scheduling calls, every client call (``wait_for_status_change`` included) and
reads back ``Event.kind``/``Event.data``, the info objects and the error texts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.differential.harness import REPO_ROOT, SUBPROCESS_TIMEOUT_S, diff_dumps

pytest.importorskip(
    "duroxide", reason="the duroxide wheel (the differential oracle) is not importable"
)


def run_script(runtime: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{runtime}.json"
    db = tmp_path / f"{runtime}.db"
    command = [
        sys.executable, "-m", "tests.differential.compat_script",
        "--runtime", runtime, "--db", str(db), "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "RUST_LOG": "error"},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"{runtime}: exit {proc.returncode}\n{proc.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.mark.differential
def test_the_same_script_sees_the_same_things_on_both_runtimes(tmp_path: Path) -> None:
    oracle = run_script("duroxide", tmp_path)
    assert oracle["main"]["status"] == "Completed", oracle["main"]
    assert oracle["stuck"]["error"] == "canceled: operator"
    candidate = run_script("durascope", tmp_path)
    differences = diff_dumps(oracle, candidate)
    if differences:
        pytest.fail("durascope differs from duroxide\n" + "\n".join(differences), pytrace=False)
    assert candidate == oracle
