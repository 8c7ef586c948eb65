"""SIGKILL trials: a runtime dies inside its transactions and activities, and nothing is lost.

Each trial starts ``ORCHESTRATIONS`` instances of ``Mixed`` (activities, timers, a
child and continue-as-new) on a fresh store, then runs
:mod:`tests.reliability.faulty_runtime` until it has killed itself
``KILLS_PER_TRIAL`` times (or the work is done).  The kill points rotate between
trials: inside the fetch transaction, inside the ack transaction before COMMIT,
inside the activity ack, inside an activity, and at a random wall-clock moment.
After every kill the committed state must already be sound; then a clean runtime
finishes the work and every output, history and turn record is checked.

``DURASCOPE_SOAK=1`` runs more and bigger trials with a fresh random seed.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from durascope.runtime import Runtime, SqliteStore
from tests.programs.mixed_workload import OPTIONS, add_code, expected_output
from tests.reliability.faulty_runtime import KILL_POINTS
from tests.reliability.peek import peek
from tests.reliability.tally import KILLS, WHERE
from tests.runtime.integrity import decoded, integrity_problems

ROOT = Path(__file__).resolve().parents[2]
SOAK = os.environ.get("DURASCOPE_SOAK") == "1"

TRIALS = 100 if SOAK else 20
ORCHESTRATIONS = 200 if SOAK else 100
KILLS_PER_TRIAL = 6 if SOAK else 4
LOCK_MS = 500
SEED = random.randrange(1 << 30) if SOAK else 20260
"""Each soak run kills at new moments; CI runs are reproducible."""

# One trial dies at (about) one third of its work, whatever the point: the chance
# per occurrence is ~3 / occurrences per run of 100 orchestrations.
PROBABILITY = {"fetch": 0.004, "ack": 0.004, "work_ack": 0.015, "activity": 0.015}
WINDOW_S = 0.4  # ``anywhere``: a run of 100 orchestrations takes about 0.6 s here

MODES: list[tuple[str, ...]] = [(p,) for p in KILL_POINTS] + [KILL_POINTS]
"""A trial uses one kill point (rotating), every sixth trial all of them at once."""


def child_id(i: int) -> str:
    """The auto id of ``Mixed(i)``'s child: scheduled as event 4 of its last execution."""
    execution = i % 3 + 1
    return f"m{i}::sub::4" if execution == 1 else f"m{i}::sub::{execution}_4"


def spawn_faulty(db: Path, env_extra: dict[str, str], stderr: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    with stderr.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.faulty_runtime", "run", str(db)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


async def roots_done(store: SqliteStore, roots: set[str]) -> int:
    return sum(
        1
        for r in await store.list_instances()
        if r.instance_id in roots and r.status == "Completed"
    )


def queue_rows(db: Path) -> tuple[int, int]:
    """(orchestrator, worker) queue rows, read with plain sqlite3."""
    [(orchestrator, worker)] = peek(
        db, "SELECT (SELECT count(*) FROM orchestrator_queue), (SELECT count(*) FROM worker_queue)"
    )
    return int(orchestrator), int(worker)


async def check_final_state(store: SqliteStore, db: Path, n: int) -> None:
    """Right outputs, exactly the expected instances and executions, sound histories."""
    rows = {r.instance_id: r for r in await store.list_instances()}
    expected_ids = {f"m{i}" for i in range(n)} | {child_id(i) for i in range(n)}
    assert set(rows) == expected_ids, sorted(set(rows) ^ expected_ids)[:10]
    wrong = {
        i: decoded(rows[f"m{i}"].output)
        for i in range(n)
        if decoded(rows[f"m{i}"].output) != expected_output(i)
    }
    assert wrong == {}
    assert {r.status for r in rows.values()} == {"Completed"}
    for i in range(n):
        statuses = [e.status for e in await store.list_executions(f"m{i}")]
        assert statuses == ["ContinuedAsNew"] * (i % 3) + ["Completed"], (i, statuses)
    assert await integrity_problems(store) == []
    assert queue_rows(db) == (0, 0)  # nothing left behind, nothing duplicated in flight


async def wait_roots(store: SqliteStore, roots: set[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while await roots_done(store, roots) < len(roots):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(roots) - await roots_done(store, roots)} roots unfinished after {timeout_s}s"
            )
        await asyncio.sleep(0.05)


async def run_trial(tmp: Path, trial: int, points: tuple[str, ...]) -> Counter[str]:
    """One trial; returns the faults injected, by point."""
    db = tmp / f"trial{trial}.db"
    log = tmp / f"trial{trial}.log"
    stderr = tmp / f"trial{trial}.stderr"
    n = ORCHESTRATIONS
    roots = {f"m{i}" for i in range(n)}
    store = await SqliteStore.open(db)
    injected: Counter[str] = Counter()
    try:
        client = Runtime(store).client()
        for i in range(n):
            await client.start_orchestration(f"m{i}", "Mixed", i)
        # With several points enabled, each gets a share, so a run still lasts a while.
        p = ",".join(f"{pt}={PROBABILITY.get(pt, 0.0) / len(points)}" for pt in points)
        for run in range(KILLS_PER_TRIAL):
            env = {
                "DURASCOPE_FAULT_POINTS": ",".join(points),
                "DURASCOPE_FAULT_P": p,
                "DURASCOPE_FAULT_SEED": str(SEED + trial * 100 + run),
                "DURASCOPE_FAULT_WINDOW_S": str(WINDOW_S * len(points)),
                "DURASCOPE_FAULT_LOG": str(log),
                "DURASCOPE_LOCK_MS": str(LOCK_MS),
            }
            proc = spawn_faulty(db, env, stderr)
            deadline = time.monotonic() + 60
            finished = False
            while proc.poll() is None:
                if await roots_done(store, roots) == n:
                    finished = True
                    break
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                if not finished:
                    raise AssertionError(f"trial {trial} run {run}: no progress in 60 s")
                break  # the run finished the work before its fault came up
            assert proc.returncode == -9, (proc.returncode, stderr.read_text()[-2000:])
            kills = [
                line.split()[1] for line in log.read_text().splitlines() if line[:5] == "kill "
            ]
            assert sum(kills.count(pt) for pt in KILL_POINTS) == sum(injected.values()) + 1, (
                "the process died without writing its marker line"
            )
            injected[kills[-1]] += 1
            last = log.read_text().splitlines()[-1].split()
            WHERE[" ".join(last[1:-1]) if last[1] in ("fetch", "ack", "work_ack") else last[1]] += 1
            # Whatever instant it died at, the committed state is already consistent.
            problems = await integrity_problems(store)
            assert problems == [], (trial, run, kills[-1], problems[:5])
        # Restart a clean runtime and let it finish everything.
        runtime = Runtime(store, OPTIONS)
        add_code(runtime)
        await runtime.start()
        try:
            await wait_roots(store, roots, timeout_s=60)
        finally:
            await runtime.shutdown()
        await check_final_state(store, db, n)
        assert "Traceback" not in stderr.read_text() if stderr.exists() else True
    finally:
        await store.close()
    return injected


def trials_of(mode: int) -> list[int]:
    return [t for t in range(TRIALS) if t % len(MODES) == mode]


@pytest.mark.slow
@pytest.mark.timeout(1800 if SOAK else 300)  # a soak mode runs ~17 trials of 200
@pytest.mark.parametrize(
    "mode", range(len(MODES)), ids=["+".join(m) if len(m) == 1 else "all" for m in MODES]
)
async def test_sigkill_trials_lose_and_duplicate_nothing(tmp_path: Path, mode: int) -> None:
    points = MODES[mode]
    injected: Counter[str] = Counter()
    trials = trials_of(mode)
    for trial in trials:
        injected += await run_trial(tmp_path, trial, points)
    KILLS.update(injected)
    KILLS["trials"] += len(trials)
    KILLS["orchestrations"] += len(trials) * ORCHESTRATIONS
    # The faults really happened (at the point a single-point mode enables).
    if len(points) == 1:
        assert injected[points[0]] >= 1, dict(injected)
    assert sum(injected.values()) >= len(trials), dict(injected)
