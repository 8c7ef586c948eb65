"""Several runtime processes on one store file: leases, late acks, a locked database.

- Three processes share ``SHARED`` orchestrations: each completes exactly once.
- A process that dies holding an instance lock hands the instance over when the
  lease expires.
- A process stopped (SIGSTOP) mid-turn or mid-activity loses its lease to another
  process; when it is continued, its late ack is refused and nothing is completed
  twice.
- An exclusive lock held on the file during a run is waited out; busy errors that
  outlast the store's retries do not kill a dispatcher.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from durascope.history import event_to_dict
from durascope.runtime import Runtime, RuntimeOptions, SqliteStore
from tests.programs.mixed_workload import add_code, expected_output
from tests.reliability.peek import peek
from tests.reliability.tally import NOTES
from tests.reliability.test_faults import check_final_state, child_id
from tests.runtime.integrity import decoded, integrity_problems

ROOT = Path(__file__).resolve().parents[2]
SOAK = os.environ.get("DURASCOPE_SOAK") == "1"
SHARED = 5000 if SOAK else 500
LOCK_MS = 1000


class Proc:
    """A faulty_runtime subprocess with its own log and stderr files."""

    def __init__(self, tmp: Path, name: str, db: Path, **env: str) -> None:
        self.log = tmp / f"{name}.log"
        self.stderr = tmp / f"{name}.stderr"
        full_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DURASCOPE_FAULT_LOG": str(self.log),
            "DURASCOPE_LOCK_MS": str(LOCK_MS),
            **env,
        }
        with self.stderr.open("wb") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.faulty_runtime", "run", str(db)],
                cwd=ROOT,
                env=full_env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    @property
    def worker_id(self) -> str:
        return f"faulty-{self.popen.pid}"

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    async def wait_line(self, prefix: str, timeout_s: float = 30) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            exited = self.popen.poll() is not None
            found = [line for line in self.lines() if line.startswith(prefix)]
            if found:
                return found[0]
            if exited:
                break
            await asyncio.sleep(0.02)
        raise AssertionError(
            f"no {prefix!r} line from {self.worker_id}: {self.lines()} "
            f"{self.stderr.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGKILL late
            self.popen.kill()
        self.popen.wait(timeout=30)

    def no_traceback(self) -> None:
        text = self.stderr.read_text()
        assert "Traceback" not in text, text[-3000:]
        died = [line for line in self.lines() if line.startswith("dispatcher-died")]
        assert died == [], died


async def wait_completed(store: SqliteStore, ids: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    wanted = set(ids)
    while True:
        rows = {r.instance_id: r.status for r in await store.list_instances()}
        left = [i for i in wanted if rows.get(i) != "Completed"]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(left)} unfinished after {timeout_s}s, e.g. {left[:5]}")
        await asyncio.sleep(0.05)


def lease(db: Path, table: str, instance: str) -> tuple[str, int] | None:
    """(token, expiry) of the lease on an instance (``instance_locks``) or its activity
    row (``worker_queue``), read with plain sqlite3; None when nobody holds one."""
    rows = peek(
        db, f"SELECT lock_token, locked_until_ms FROM {table} WHERE instance_id = ?", (instance,)
    )
    if not rows or rows[0][0] is None:
        return None
    return str(rows[0][0]), int(rows[0][1])


def dead_dispatchers(runtime: Runtime) -> list[tuple[str, str]]:
    """Dispatcher tasks of ``runtime`` that ended by an exception: (name, error)."""
    assert runtime.dispatchers is not None
    return [
        (t.get_name(), repr(t.exception()))
        for t in runtime.dispatchers._tasks
        if t.done() and not t.cancelled() and t.exception() is not None
    ]


async def start_roots(store: SqliteStore, n: int, prefix: str = "m", first: int = 0) -> list[str]:
    client = Runtime(store).client()
    ids = []
    for i in range(first, first + n):
        await client.start_orchestration(f"{prefix}{i}", "Mixed", i)
        ids.append(f"{prefix}{i}")
    return ids


async def histories(store: SqliteStore, instance: str) -> list[dict[str, object]]:
    return [
        event_to_dict(e)
        for ex in await store.list_executions(instance)
        for e in await store.read_history(instance, ex.execution_id)
    ]


@pytest.mark.slow
@pytest.mark.timeout(1200 if SOAK else 300)
async def test_three_processes_complete_each_orchestration_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    store = await SqliteStore.open(db)
    procs = [Proc(tmp_path, f"p{k}", db) for k in range(3)]
    try:
        for p in procs:
            await p.wait_line("started")
        started = time.monotonic()
        roots = await start_roots(store, SHARED)
        await wait_completed(store, roots, timeout_s=120 if not SOAK else 900)
        elapsed = time.monotonic() - started
        await check_final_state(store, db, SHARED)
        # Exactly once: one completing turn per instance, journaled by one process.
        completing: Counter[str] = Counter()
        workers: Counter[str] = Counter()
        for r in await store.list_instances():
            for t in await store.list_turns(r.instance_id):
                workers[t.worker_id] += 1
                if t.result == "completed":
                    completing[r.instance_id] += 1
        assert set(completing.values()) == {1} and len(completing) == 2 * SHARED
        assert set(workers) == {p.worker_id for p in procs}, workers  # all three took turns
        refused = sum(line.startswith("ack-refused") for p in procs for line in p.lines())
        NOTES.append(
            f"contention: 3 processes, {SHARED} orchestrations ({2 * SHARED} instances) in "
            f"{elapsed:.1f}s; turns per process {sorted(workers.values())}; "
            f"late acks refused: {refused}"
        )
    finally:
        for p in procs:
            p.stop()
        await store.close()
    for p in procs:
        p.no_traceback()


@pytest.mark.slow
async def test_a_dead_holders_lock_expires_and_another_process_takes_over(
    tmp_path: Path,
) -> None:
    db = tmp_path / "dead.db"
    store = await SqliteStore.open(db)
    holder = Proc(tmp_path, "holder", db, DURASCOPE_STALL="turn:m4", DURASCOPE_STALL_SIGNAL="KILL")
    heir = None
    try:
        await holder.wait_line("started")
        await start_roots(store, 1, first=4)
        await holder.wait_line("stall turn m4")
        holder.popen.wait(timeout=30)
        assert holder.popen.returncode == -signal.SIGKILL
        held = lease(db, "instance_locks", "m4")
        assert held is not None  # it died holding the instance lock
        heir = Proc(tmp_path, "heir", db)
        await wait_completed(store, ["m4"], timeout_s=30)
        assert decoded((await store.get_instance("m4")).output) == expected_output(4)  # type: ignore[union-attr]
        turns = await store.list_turns("m4")
        assert {t.worker_id for t in turns} == {heir.worker_id}
        # The heir's first turn came only once the dead holder's lease had run out.
        assert turns[0].timestamp_ms >= held[1]
        assert await integrity_problems(store) == []
    finally:
        holder.stop()
        if heir is not None:
            heir.stop()
        await store.close()
    if heir is not None:
        heir.no_traceback()


@pytest.mark.slow
@pytest.mark.parametrize("where", ["turn", "activity"])
async def test_a_stopped_holders_late_ack_is_refused_and_nothing_completes_twice(
    tmp_path: Path, where: str
) -> None:
    """SIGSTOP a process holding an instance lock (or running an activity); continue it late."""
    db = tmp_path / f"stopped-{where}.db"
    store = await SqliteStore.open(db)
    # Mixed(0) has no continue-as-new: its first turn schedules Inc on the root itself.
    victim = "m0"
    holder = Proc(tmp_path, "holder", db, DURASCOPE_STALL=f"{where}:{victim}")
    other = None
    try:
        await holder.wait_line("started")
        await start_roots(store, 1)
        await holder.wait_line(f"stall {where} {victim}")
        held = lease(db, "instance_locks" if where == "turn" else "worker_queue", victim)
        assert held is not None, "the stopped process holds no lease"
        other = Proc(tmp_path, "other", db)
        await wait_completed(store, [victim, child_id(0)], timeout_s=30)
        before = {i: await histories(store, i) for i in (victim, child_id(0))}
        turns_before = [t.model_dump() for t in await store.list_turns(victim)]
        # Continue the stopped process: it finishes its stale turn (or activity) and
        # tries to ack with a lease that another process has since used.
        holder.popen.send_signal(signal.SIGCONT)
        await holder.wait_line(f"resumed {where} {victim}")
        refused = await holder.wait_line(f"ack-refused {where} {victim}")
        if where == "activity":
            assert refused.split()[2] == f"{victim}#2"
        await asyncio.sleep(0.3)  # room for anything else it might (wrongly) commit
        after = {i: await histories(store, i) for i in (victim, child_id(0))}
        assert after == before
        turns = await store.list_turns(victim)
        assert [t.model_dump() for t in turns] == turns_before
        # Stopped in its first turn, the holder journaled none; stopped in the activity,
        # only the first turn (the one that scheduled it).
        by_holder = [t.turn for t in turns if t.worker_id == holder.worker_id]
        assert by_holder == ([] if where == "turn" else [1])
        assert {t.worker_id for t in turns[len(by_holder) :]} == {other.worker_id}
        completions = [e for e in after[victim] if e["type"] == "ActivityCompleted"]
        assert [e["source_event_id"] for e in completions] == [2]  # Inc completed once
        assert await integrity_problems(store) == []
        # The continued process is a healthy runtime again: both share new work.
        more = await start_roots(store, 30, first=1)
        await wait_completed(store, more, timeout_s=60)
        await check_final_state(store, db, 31)
    finally:
        holder.stop()
        if other is not None:
            other.stop()
        await store.close()
    holder.no_traceback()


def hold_exclusive_lock(db: Path, seconds: float, held: threading.Event) -> None:
    """Take SQLite's write lock with a plain connection and sit on it."""
    conn = sqlite3.connect(db, timeout=60, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.mark.slow
async def test_an_exclusive_lock_held_during_a_run_is_waited_out(tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    store = await SqliteStore.open(db)
    n = 300
    # One process with the default busy timeout (10 s: SQLite itself waits the lock
    # out); two whose SQLite gives up after 20 ms, so that the store's retries with
    # backoff run out during the 2 s hold, and what comes after them is exercised.
    procs = [
        Proc(tmp_path, "patient", db),
        Proc(tmp_path, "quick0", db, DURASCOPE_BUSY_TIMEOUT_MS="20"),
        Proc(tmp_path, "quick1", db, DURASCOPE_BUSY_TIMEOUT_MS="20"),
    ]
    try:
        for p in procs:
            await p.wait_line("started")
        roots = await start_roots(store, n)
        for _ in range(2):
            await asyncio.sleep(0.15)  # mid-run
            held = threading.Event()
            locker = threading.Thread(target=hold_exclusive_lock, args=(db, 2.0, held))
            locker.start()
            while not held.is_set():
                await asyncio.sleep(0.005)
            await asyncio.to_thread(locker.join)
        await wait_completed(store, roots, timeout_s=90)
        assert all(p.popen.poll() is None for p in procs)  # nobody crashed
        await check_final_state(store, db, n)
        # The processes whose SQLite gave up early still dispatch: without the
        # patient one, they finish new work on their own.
        procs[0].stop()
        more = await start_roots(store, 50, first=n)
        await wait_completed(store, more, timeout_s=60)
        await check_final_state(store, db, n + 50)
    finally:
        for p in procs:
            p.stop()
        await store.close()
    for p in procs:
        p.no_traceback()


async def test_busy_errors_past_the_retries_do_not_kill_the_dispatchers(tmp_path: Path) -> None:
    """A lock held longer than busy timeout x retries fails an ack; the turn is redone.

    The orchestration ``Grab`` takes the lock itself on its first run (blocking
    until another connection holds it), so the ack of that very turn is certain
    to find the database locked.
    """
    db = tmp_path / "busy.db"
    store = await SqliteStore.open(db, busy_timeout_ms=50, busy_retries=3)
    runtime = Runtime(store, RuntimeOptions(orchestration_lock_ms=500, worker_lock_ms=500))
    add_code(runtime)
    lockers: list[threading.Thread] = []

    @runtime.register_orchestration("Grab")
    def grab(ctx: Any, x: int) -> Any:
        if not lockers:
            held = threading.Event()
            lockers.append(threading.Thread(target=hold_exclusive_lock, args=(db, 1.5, held)))
            lockers[0].start()
            held.wait(10)
        return (yield ctx.schedule_activity("Inc", x))

    roots = await start_roots(store, 100)
    await Runtime(store).client().start_orchestration("grab", "Grab", 41)
    await runtime.start()
    try:
        while not lockers:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(lockers[0].join)
        await asyncio.sleep(0.2)
        dead = dead_dispatchers(runtime)
        assert dead == [], f"dispatcher tasks died: {dead}"
        await wait_completed(store, [*roots, "grab"], timeout_s=30)
        assert decoded((await store.get_instance("grab")).output) == 42  # type: ignore[union-attr]
        assert await integrity_problems(store) == []
    finally:
        await runtime.shutdown()
        await store.close()


async def test_an_idle_runtime_keeps_dispatching(tmp_path: Path) -> None:
    """A runtime with nothing to do for a while still picks up new work.

    Idle dispatchers back off from 1 ms up to ``idle_poll_max_ms``; with the
    default 50 ms, about a minute of idleness is 1,000+ idle rounds (here 1 ms,
    so the same count comes within seconds).
    """
    store = await SqliteStore.open(tmp_path / "idle.db")
    runtime = Runtime(store, RuntimeOptions(idle_poll_max_ms=1))
    add_code(runtime)
    await runtime.start()
    try:
        await asyncio.sleep(4)  # several thousand idle rounds
        dead = dead_dispatchers(runtime)
        assert dead == [], f"dispatcher tasks died while idle: {dead}"
        roots = await start_roots(store, 5)
        await wait_completed(store, roots, timeout_s=20)
    finally:
        await runtime.shutdown()
        await store.close()
