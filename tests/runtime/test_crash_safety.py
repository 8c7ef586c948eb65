"""SIGKILL a runtime process mid-run, restart it, and check nothing was lost or duplicated."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from durascope.runtime import SqliteStore
from tests.programs.mixed_workload import expected_output
from tests.runtime.integrity import decoded, integrity_problems

ROOT = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.programs.mixed_workload", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_all_done(store: SqliteStore, ids: list[str], timeout_s: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = {r.instance_id: r for r in await store.list_instances()}
        states = {i: (rows[i].status if i in rows else "missing") for i in ids}
        if all(s in ("Completed", "Failed") for s in states.values()):
            return {i: rows[i].output or "" for i in ids}
        if time.monotonic() > deadline:
            pending = {i: s for i, s in states.items() if s not in ("Completed", "Failed")}
            raise AssertionError(f"not finished after {timeout_s}s: {pending}")
        await asyncio.sleep(0.1)


async def wait_for_share(
    store: SqliteStore, ids: list[str], share: float, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    wanted = set(ids)
    while time.monotonic() < deadline:
        done = sum(
            1
            for r in await store.list_instances()
            if r.instance_id in wanted and r.status == "Completed"
        )
        if done >= share * len(ids):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"fewer than {share:.0%} of the roots completed in {timeout_s}s")


@pytest.mark.slow
async def test_sigkill_mid_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.db")
    n = 150
    rng = random.Random(2026)
    subprocess.run(
        [sys.executable, "-m", "tests.programs.mixed_workload", "start", db, str(n), "m"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    store = await SqliteStore.open(db)
    roots = [f"m{i}" for i in range(n)]
    unfinished_at_kill = []
    for target in (0.2, 0.45, 0.7):
        proc = spawn("run", db)
        # Kill once a share of the roots is done (plus jitter), so every kill lands
        # mid-run however fast the machine is.
        await wait_for_share(store, roots, target, timeout_s=60)
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rows = {r.instance_id: r for r in await store.list_instances()}
        unfinished_at_kill.append(sum(rows[i].status != "Completed" for i in roots if i in rows))
    assert all(left > 0 for left in unfinished_at_kill), unfinished_at_kill
    final = spawn("run", db)
    try:
        outputs = await wait_all_done(store, [f"m{i}" for i in range(n)], timeout_s=90)
        assert {i: decoded(outputs[f"m{i}"]) for i in range(n)} == {
            i: expected_output(i) for i in range(n)
        }
        assert await integrity_problems(store) == []
    finally:
        final.terminate()
        final.wait(timeout=30)
        await store.close()


@pytest.mark.slow
async def test_three_processes_share_one_store(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    n = 60
    procs = [spawn("run", db) for _ in range(3)]
    try:
        subprocess.run(
            [sys.executable, "-m", "tests.programs.mixed_workload", "start", db, str(n), "s"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
        )
        store = await SqliteStore.open(db)
        try:
            outputs = await wait_all_done(store, [f"s{i}" for i in range(n)], timeout_s=90)
            assert {i: decoded(outputs[f"s{i}"]) for i in range(n)} == {
                i: expected_output(i) for i in range(n)
            }
            assert await integrity_problems(store) == []
            workers = {
                t.worker_id
                for r in await store.list_instances()
                for t in await store.list_turns(r.instance_id)
            }
            assert len(workers) == 3, workers  # every process took turns
        finally:
            await store.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
