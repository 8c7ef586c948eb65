"""The newcomer path: clone the repository and run the README's demo command, no terminal."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_clone_and_run_the_readme_demo_command(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to clone from")
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    clone = tmp_path / "durascope"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    proc = subprocess.run(
        ["make", "demo"],
        cwd=clone,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "wrote the store" in out
    assert (clone / "durascope-demo.db").exists()
    for kind in ("stuck_parent", "child_id_collision", "misrouted_notification"):
        assert kind in out
    assert "graph of legacy-" in out
    assert "Traceback" not in proc.stderr
    # A second run is idempotent (the environment is reused, the store rewritten).
    again = subprocess.run(
        ["make", "demo"],
        cwd=clone,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "pip install" not in again.stdout
