"""Inspecting never writes, and a bundle is data only.

- Every command (and the TUI) leaves a store's files byte for byte unchanged and
  creates nothing beside them: a durascope store, a real duroxide store, a bundle.
- The same while a runtime process writes to the store: the runtime is frozen
  (SIGSTOP) at a few moments mid-run, possibly inside a transaction, every
  command runs against the file, and the file and its ``-wal`` must hash the
  same before and after; then the runtime goes on and finishes everything.
- Opening a bundle never runs code: payloads holding a pickle or a Python
  expression, and orchestration names that are importable modules, run nothing;
  ``replay --module`` runs the user's file only when the user names it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from durascope.runtime import SqliteStore
from tests.reliability.hostile import FIXTURE, FIXTURE_DOC, check_clean, run_cli
from tests.reliability.peek import peek
from tests.reliability.tally import NOTES
from tests.runtime.integrity import integrity_problems

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_STORE = ROOT / "fixtures" / "scenarios.db"

SCENARIO_CODE = """
from durascope.scenarios import SCENARIOS


def register(runtime):
    for scenario in SCENARIOS:
        scenario.register(runtime)
"""
"""A user module for ``replay --module``: the built-in scenarios' code."""


def fingerprint(directory: Path) -> dict[str, str]:
    """Every file in ``directory`` (the store and anything beside it), by content hash."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def every_command(path: Path, instance: str, out: Path, module: Path | None) -> list[list[Any]]:
    """Each inspecting command once, writing its outputs to ``out`` (never beside PATH)."""
    commands: list[list[Any]] = [
        ["history", path, f"--instance={instance}"],
        ["history", path, f"--instance={instance}", "--json", "--execution=1"],
        ["diagnose", path],
        ["diagnose", path, "--json", f"--instance={instance}"],
        ["export", path, "-o", out / "all.json.gz"],
        ["export", path, "-o", out / "tree.json", f"--instance={instance}", "--redact"],
        ["render", path, f"--instance={instance}", "-o", out / "graph.svg"],
        ["render", path, f"--instance={instance}", "-o", out / "graph.dot"],
    ]
    if module is not None:
        commands.append(["replay", path, f"--instance={instance}", "--module", module, "--what-if"])
    return commands


async def browse_in_tui(path: Path, instance: str) -> None:
    """Open the TUI on ``path``, step through an instance's turns and back, and quit."""
    from durascope.tui import DurascopeApp

    app = DurascopeApp(path, instance=instance, poll=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("end", "home", "right", "right", "left", "n", "right_square_bracket")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.export_screenshot()
        assert instance in screen


def cli_process(
    args: list[Any], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``durascope ARGS`` in its own process, as a user's shell runs it."""
    return subprocess.run(
        [sys.executable, "-m", "durascope.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def inspect_everything(path: Path, instance: str, out: Path, module: Path | None) -> int:
    """Run every command in-process, then the TUI; returns how many runs there were."""
    runs = 0
    for args in every_command(path, instance, out, module):
        code, stdout, stderr = run_cli(args)
        check_clean(args, code, stdout, stderr)
        assert code in (0, 1), (args, stderr)  # a healthy input: every command works
        runs += 1
    asyncio.run(browse_in_tui(path, instance))
    return runs + 1


@pytest.fixture
def scenario_module(tmp_path: Path) -> Path:
    module = tmp_path / "code" / "scenario_code.py"
    module.parent.mkdir()
    module.write_text(SCENARIO_CODE)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["durascope", "duroxide", "bundle"])
def test_every_command_leaves_the_input_unchanged(
    tmp_path: Path, duroxide_stores: dict[str, Path], scenario_module: Path, kind: str
) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    if kind == "durascope":
        path, instance, module = store_dir / "scenarios.db", "healthy-loop", scenario_module
        shutil.copy(SCENARIO_STORE, path)
    elif kind == "duroxide":
        path, instance, module = store_dir / "healthy.db", "healthy", None
        shutil.copy(duroxide_stores["healthy"], path)
    else:
        path, instance, module = store_dir / "scenarios.json.gz", "healthy-loop", scenario_module
        shutil.copy(FIXTURE, path)
    before = fingerprint(store_dir)
    runs = inspect_everything(path, instance, out, module)
    assert fingerprint(store_dir) == before  # same bytes, and no -wal, -shm or journal left
    assert {p.name for p in out.iterdir()} >= {"all.json.gz", "tree.json", "graph.svg"}
    NOTES.append(f"read-only at rest ({kind}): {runs} commands, files unchanged")


@pytest.mark.slow
def test_inspecting_while_a_runtime_writes_changes_nothing(
    tmp_path: Path, scenario_module: Path
) -> None:
    store_dir = tmp_path / "live"
    store_dir.mkdir()
    db = store_dir / "live.db"
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    n = 1000
    runner = subprocess.Popen(
        [sys.executable, "-m", "tests.programs.mixed_workload", "run", str(db)],
        cwd=ROOT,
        env=env,
    )
    freezes = runs = 0
    try:
        subprocess.run(
            [sys.executable, "-m", "tests.programs.mixed_workload", "start", str(db), str(n), "m"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        # The freezes must catch the runtime mid-run: until its first turn it may not
        # have opened the file yet (no -wal then; seen on a loaded machine).
        wait_for_first_turn(db)
        for pause in (0.05, 0.3, 0.6):
            time.sleep(pause)
            runner.send_signal(signal.SIGSTOP)  # wherever it is, a transaction included
            try:
                wait_stopped(runner.pid)  # the signal is asynchronous: no write in flight
                before = fingerprint(store_dir)
                assert "live.db-wal" in before  # the runtime has the file open in WAL mode
                # A separate process, as a user's shell would be.
                for args in every_command(db, "m1", out, None):
                    proc = cli_process(args, ROOT, env)
                    check_clean(args, proc.returncode, proc.stdout, proc.stderr)
                    assert proc.returncode in (0, 1), (args, proc.stderr)
                    runs += 1
                asyncio.run(browse_in_tui(db, "m1"))
                runs += 1
                after = fingerprint(store_dir)
                # The store and its WAL are what the runtime left; SQLite's -shm index
                # is shared memory every reader maps (read marks), not store content.
                assert {k: v for k, v in after.items() if not k.endswith("-shm")} == {
                    k: v for k, v in before.items() if not k.endswith("-shm")
                }
                assert queued(db) > 0  # frozen mid-run: work was still waiting
                freezes += 1
            finally:
                runner.send_signal(signal.SIGCONT)
        asyncio.run(_all_complete(db, n))
    finally:
        runner.terminate()
        runner.wait(timeout=30)
    NOTES.append(
        f"read-only while a runtime writes: {freezes} freezes x {runs // max(freezes, 1)} "
        f"commands, store and -wal unchanged; all {n} orchestrations then completed"
    )


def wait_stopped(pid: int, timeout_s: float = 10) -> None:
    """Wait until every thread of ``pid`` is stopped (``T`` in ``/proc/PID/task/*/stat``).

    ``kill`` returns before the signal has stopped the target; a thread of the
    runtime can still be finishing a write (a WAL checkpoint into the main file).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        states = []
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            with contextlib.suppress(OSError):  # a thread that just ended
                states.append(stat.read_text().rpartition(")")[2].split()[0])
        if states and all(state in ("T", "t") for state in states):
            return
        assert time.monotonic() < deadline, f"process {pid} did not stop: {states}"
        time.sleep(0.001)


def wait_for_first_turn(db: Path, timeout_s: float = 60) -> None:
    """Wait until the runtime process has journaled a turn (so it holds the store open)."""
    deadline = time.monotonic() + timeout_s
    while int(peek(db, "SELECT count(*) FROM turns")[0][0]) == 0:
        assert time.monotonic() < deadline, "the runtime took no turn"
        time.sleep(0.01)


def queued(db: Path) -> int:
    """Rows waiting in the orchestrator queue (a read-only look, after the hashes)."""
    return int(peek(db, "SELECT count(*) FROM orchestrator_queue")[0][0])


async def _all_complete(db: Path, n: int) -> None:
    store = await SqliteStore.open(db)
    try:
        deadline = time.monotonic() + 120
        wanted = {f"m{i}" for i in range(n)}
        while True:
            done = {r.instance_id for r in await store.list_instances() if r.status == "Completed"}
            if wanted <= done:
                break
            assert time.monotonic() < deadline, f"{len(wanted - done)} unfinished"
            await asyncio.sleep(0.1)
        assert await integrity_problems(store) == []
    finally:
        await store.close()


# -- bundles are data only ---------------------------------------------------------------

EVIL_MODULE = """
from pathlib import Path

Path(__file__).with_name("IMPORTED").write_text("the module ran")
"""


class _Touch:
    """Unpickling this would create a file: the pickle payload below."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def evil_bundle(directory: Path) -> dict[str, Any]:
    """The fixture with code where data belongs."""
    doc = json.loads(json.dumps(FIXTURE_DOC))
    pickled = base64.b64encode(pickle.dumps(_Touch(str(directory / "UNPICKLED")))).decode()
    expression = f"__import__('pathlib').Path({str(directory / 'EVALUATED')!r}).touch()"
    for inst in doc["instances"]:
        inst["orchestration_name"] = "evil_module"
        inst["custom_status"] = expression
        for ex in inst["executions"]:
            for event in ex["events"]:
                if "name" in event:
                    event["name"] = "evil_module"
                for field in ("input", "result", "output", "data"):
                    if field in event:
                        event[field] = json.dumps({"py/object": "os.system", "pickle": pickled})
                if "version" in event:
                    event["version"] = expression
    doc["origin"]["runtime_version"] = expression
    return doc


def test_opening_a_bundle_runs_no_code(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "evil_module.py").write_text(EVIL_MODULE)  # importable by the name in the bundle
    bundle = work / "evil.json"
    bundle.write_text(json.dumps(evil_bundle(work)))
    pickled = work / "pickled.json"  # a pickle where a bundle should be
    pickled.write_bytes(pickle.dumps(_Touch(str(work / "UNPICKLED"))))
    gz_pickled = work / "pickled.json.gz"
    gz_pickled.write_bytes(gzip.compress(pickled.read_bytes()))
    env = {**os.environ, "PYTHONPATH": f"{work}{os.pathsep}{ROOT}"}
    runs = 0
    for path in (bundle, pickled, gz_pickled):
        for args in every_command(path, "healthy-loop", tmp_path, None):
            proc = cli_process(args, work, env)
            check_clean(args, proc.returncode, proc.stdout, proc.stderr)
            if path != bundle:
                assert proc.returncode == 2 and "neither" in proc.stderr, proc.stderr
            runs += 1
    created = sorted(p.name for p in work.iterdir())
    assert created == ["evil.json", "evil_module.py", "pickled.json", "pickled.json.gz"]
    # Named by the user, the module does run: that is the only way code gets in.
    proc = cli_process(
        ["replay", bundle, "--instance=healthy-loop", "--module", work / "evil_module.py"],
        work,
        env,
    )
    assert (work / "IMPORTED").read_text() == "the module ran"
    assert proc.returncode == 2 and "registers" in proc.stderr, proc.stderr
    NOTES.append(f"bundles are data only: {runs} commands on code-laden inputs ran nothing")
