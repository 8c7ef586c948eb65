"""The newcomer path: clone the repository and run the README's demo command, no terminal;
then the README tour's replay line, which needs the module the demo writes."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_line(start: str) -> str:
    """The README's tour line starting with ``start`` (exactly as a reader copies it)."""
    readme = (ROOT / "README.md").read_text()
    lines = [line.strip() for line in readme.splitlines() if line.strip().startswith(start)]
    assert lines, f"the README has no line starting with {start!r}"
    return lines[0].split("#")[0].strip()


def check_demo_graphs(out: str) -> None:
    """The no-terminal demo drew the motivating instance; with `dot`, as a real SVG too."""
    paths = re.findall(r"durascope demo: graph of legacy-loop: (\S+)", out)
    assert any(p.endswith(".dot") for p in paths), out[-3000:]
    svgs = [Path(p) for p in paths if p.endswith(".svg")]
    if shutil.which("dot") is not None:
        assert svgs, f"dot is installed but no SVG was written:\n{out[-3000:]}"
        assert svgs[0].exists() and "<svg" in svgs[0].read_text()


@pytest.mark.slow
@pytest.mark.timeout(1500)  # the suite's 300 s would cut the 900 s + 600 s runs below short
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
    check_demo_graphs(out)
    assert "Traceback" not in proc.stderr
    # The tour's replay line, word for word, in the clone (its own environment).
    line = shlex.split(readme_line("durascope replay"))
    replay = subprocess.run(
        [str(clone / ".venv" / "bin" / "durascope"), *line[1:]],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert replay.returncode == 1, replay.stdout[-3000:] + replay.stderr[-3000:]  # it diverges
    assert "nondeterminism" in replay.stdout and "what-if" in replay.stdout
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


@pytest.mark.slow
def test_the_tour_replay_line_works_after_the_demo(tmp_path: Path) -> None:
    """``durascope demo`` writes my_orchestrations.py beside its store: the line runs."""
    demo = subprocess.run(
        [sys.executable, "-m", "durascope.cli", "demo", "--no-tui"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    module = tmp_path / "my_orchestrations.py"
    assert f"wrote the demo's code to {module}" in demo.stdout
    assert "durascope replay durascope-demo.db --instance deploy-approval" in demo.stdout
    check_demo_graphs(demo.stdout)

    line = shlex.split(readme_line("durascope replay"))
    assert line[0] == "durascope" and "my_orchestrations.py" in line
    replay = subprocess.run(
        [sys.executable, "-m", "durascope.cli", *line[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = replay.stdout
    assert replay.returncode == 1, out[-3000:] + replay.stderr[-3000:]  # the divergence
    assert "nondeterminism" in out and "deploy-approval" in out
    assert "ActivityScheduled Echo" in out  # the fraud check the changed code added
    assert "what-if: recorded under the fixed policy" in out

    # The module is the demo's code: the instances it did not change replay cleanly.
    args = ["replay", "durascope-demo.db", "--instance", "healthy-loop", "--module", str(module)]
    healthy = subprocess.run(
        [sys.executable, "-m", "durascope.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "no divergence" in healthy.stdout

    # A second demo keeps a module the user changed.
    module.write_text(module.read_text() + "\n# my change\n")
    again = subprocess.run(
        [sys.executable, "-m", "durascope.cli", "demo", "--no-tui"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert again.returncode == 0 and f"kept your {module}" in again.stdout
    assert module.read_text().endswith("# my change\n")
