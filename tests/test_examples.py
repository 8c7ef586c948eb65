"""The example scripts run as a user runs them, and say what they should."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.slow
def test_run_my_orchestrations_without_the_tui(tmp_path: Path) -> None:
    for _ in range(2):  # a second run reuses the store it wrote
        proc = run_example("run_my_orchestrations.py", "--no-tui", cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = proc.stdout
        assert "order-0: Completed" in out and "order-2: Completed" in out
        assert "'receipt': 'charged order-2 for 3 items'" in out
        assert "no findings" in out
        assert "opened durascope store orders.db" in proc.stderr
        assert "Traceback" not in proc.stderr
    from durascope.replay import open_model

    model = open_model(tmp_path / "orders.db")
    try:
        assert model.origin.kind == "durascope"
        assert {i.instance_id for i in model} >= {"order-0", "order-1", "order-2"}
        assert len(model.instance("order-2").turns) > 0  # durascope journals its turns
        children = [i for i in model if i.parent_instance_id == "order-2"]
        assert len(children) == 3 and {c.status for c in children} == {"Completed"}
    finally:
        model.close()


@pytest.mark.slow
def test_inspect_a_real_duroxide_store(tmp_path: Path) -> None:
    pytest.importorskip("duroxide", reason="needs the real duroxide package")
    from tests.replay.duroxide_stores import generate

    stores = generate(tmp_path / "stores", ["can_children", "explicit_collision"])
    proc = run_example(
        "inspect_duroxide_store.py", str(stores["can_children"]), "can-job", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.startswith("duroxide store, runtime ")
    assert (
        "  can-job [CanParent] #1 ContinuedAsNew -> #2 ContinuedAsNew -> "
        "#3 ContinuedAsNew -> #4 Completed" in out
    )
    assert "  can-job::sub::2_2 [Child] #1 Completed" in out
    assert "0 findings" in out
    assert "turns of can-job (inferred)" in out
    turns = [line for line in out.splitlines() if line.startswith("  turn ")]
    assert len(turns) == 8 and all("(inferred)" in t for t in turns)
    assert turns[0] == "  turn 1 (inferred) exec 1: OrchestrationStarted, SubOrchestrationScheduled"

    proc = run_example("inspect_duroxide_store.py", str(stores["explicit_collision"]), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 findings" in proc.stdout
    assert "warning: child_id_collision pB: child id shared-child" in proc.stdout
    assert "(inferred)" in proc.stdout

    missing = run_example(
        "inspect_duroxide_store.py", str(stores["can_children"]), "nope", cwd=tmp_path
    )
    assert missing.returncode == 2 and "no instance 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
    usage = run_example("inspect_duroxide_store.py", cwd=tmp_path)
    assert usage.returncode == 2 and "inspect_duroxide_store.py PATH" in usage.stdout
