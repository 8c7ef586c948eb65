"""A runtime process that kills or stops itself at chosen moments.

    python -m tests.reliability.faulty_runtime run DB [SECONDS]

runs the workload of :mod:`tests.programs.mixed_workload` (same code, same
``expected_output``) on DB.  The faults are injected by wrapping functions in this
process only; the production code has no fault hooks.  Environment:

``DURASCOPE_FAULT_POINTS``
    Comma-separated points where the process may SIGKILL itself:

    - ``fetch``: inside the orchestration fetch transaction, after the instance
      lock was picked, before one of the later statements or before COMMIT;
    - ``ack``: inside the orchestration ack transaction (history, queues and turn
      record), before one of its statements or before COMMIT;
    - ``work_ack``: inside the activity ack transaction, before COMMIT;
    - ``activity``: inside the ``Inc`` activity, at a random moment of its work;
    - ``anywhere``: from a timer thread, at a random moment of the run.
``DURASCOPE_FAULT_P``
    Probability that one transaction or activity at an enabled point is the one
    the process dies in: one number for every point, or ``POINT=P,...`` (default 0.01).
``DURASCOPE_FAULT_SEED``
    Seed of the choices (default: the pid).
``DURASCOPE_FAULT_WINDOW_S``
    ``anywhere`` kills land uniformly within this many seconds of start (default 1).
``DURASCOPE_FAULT_LOG``
    File to which a line is appended *before* each fault (``kill ack before
    statement 3``), and after every refused late ack (``ack-refused turn ID``,
    ``ack-refused activity ID#N``) and after a dispatcher task died of an exception
    (``dispatcher-died NAME ERROR``), so the test can count what really happened.
``DURASCOPE_STALL``
    ``turn:ID`` or ``activity:ID``: the first time this process runs a turn of
    (or the ``Inc`` activity of) instance ID, it stops itself with SIGSTOP (or
    SIGKILL, with ``DURASCOPE_STALL_SIGNAL=KILL``), after waiting for any store
    transaction of its own to finish, so that it never stops holding SQLite's
    write lock; it holds only its lease on the instance or the activity row.
``DURASCOPE_LOCK_MS``
    Orchestration and activity lease (default 1000).
``DURASCOPE_BUSY_TIMEOUT_MS``
    SQLite busy timeout of the store connection (default: the store's).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from durascope.runtime import (
    LockLostError,
    OrchestrationBatch,
    Runtime,
    RuntimeOptions,
    SqliteStore,
    WorkBatch,
    _dispatchers,
    _store,
)
from tests.programs.mixed_workload import add_code, expected_output

__all__ = ["KILL_POINTS", "expected_output", "main"]

T = TypeVar("T")

KILL_POINTS = ("fetch", "ack", "work_ack", "activity", "anywhere")


class FaultPlan:
    """What to inject, read from the environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.points = {p for p in env.get("DURASCOPE_FAULT_POINTS", "").split(",") if p}
        unknown = self.points - set(KILL_POINTS)
        if unknown:
            raise SystemExit(f"unknown fault points {sorted(unknown)}")
        self.p = _probabilities(env.get("DURASCOPE_FAULT_P", "0.01"), self.points)
        self.rng = random.Random(int(env.get("DURASCOPE_FAULT_SEED", str(os.getpid()))))
        self.window_s = float(env.get("DURASCOPE_FAULT_WINDOW_S", "1"))
        log = env.get("DURASCOPE_FAULT_LOG")
        self._log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND) if log else None
        stall = env.get("DURASCOPE_STALL", "")
        kind, _, instance = stall.partition(":")
        self.stall: tuple[str, str] | None = (kind, instance) if stall else None
        self.stall_signal = (
            signal.SIGKILL if env.get("DURASCOPE_STALL_SIGNAL") == "KILL" else signal.SIGSTOP
        )
        self._stalled = False
        self._lock = threading.Lock()

    def log(self, line: str) -> None:
        """Append one line; a plain write(2), so it survives our own SIGKILL."""
        if self._log_fd is not None:
            os.write(self._log_fd, f"{line} pid={os.getpid()}\n".encode())

    def roll(self, point: str) -> bool:
        """Whether to die at this occurrence of ``point``."""
        if point not in self.points:
            return False
        with self._lock:
            return self.rng.random() < self.p.get(point, 0.0)

    def randint(self, a: int, b: int) -> int:
        with self._lock:
            return self.rng.randint(a, b)

    def uniform(self, a: float, b: float) -> float:
        with self._lock:
            return self.rng.uniform(a, b)

    def die(self, point: str, detail: str) -> None:
        """Write the marker line, then SIGKILL this process."""
        self.log(f"kill {point} {detail}")
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # not reached: SIGKILL cannot be caught

    def should_stall(self, kind: str, instance: str) -> bool:
        with self._lock:
            if self._stalled or self.stall != (kind, instance):
                return False
            self._stalled = True
            return True


def _probabilities(text: str, points: set[str]) -> dict[str, float]:
    if "=" not in text:
        return dict.fromkeys(points, float(text))
    pairs = (part.split("=", 1) for part in text.split(",") if part)
    return {point: float(p) for point, p in pairs}


PLAN = FaultPlan(dict(os.environ))

# Held around every store transaction of this process: a stall takes it first, so
# the process never stops inside BEGIN IMMEDIATE ... COMMIT (which would lock every
# other process out of the file instead of letting its lease expire).
TRANSACTION_GATE = threading.Lock()


def stall(kind: str, instance: str) -> None:
    """Stop (or kill) this process, holding no SQLite lock, only its leases."""
    with TRANSACTION_GATE:
        PLAN.log(f"stall {kind} {instance}")
        os.kill(os.getpid(), PLAN.stall_signal)
    PLAN.log(f"resumed {kind} {instance}")


# -- wrapped transactions --------------------------------------------------------


class _DyingConnection:
    """A sqlite3 connection proxy that SIGKILLs the process before a chosen statement."""

    def __init__(self, db: sqlite3.Connection, point: str, first: int, span: int) -> None:
        self._db = db
        self._point = point
        self._first = first  # the statement at which the die-or-not choice is made
        self._span = span  # how many statements later the death may come (or at COMMIT)
        self._count = 0
        self._target: int | None = None

    def _step(self) -> None:
        self._count += 1
        if self._count == self._first and PLAN.roll(self._point):
            self._target = self._count + PLAN.randint(0, self._span)
        if self._target == self._count:
            PLAN.die(self._point, f"before statement {self._count}")

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._step()
        return self._db.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._step()
        return self._db.executemany(sql, *args)

    def before_commit(self) -> None:
        if self._target is not None:
            PLAN.die(self._point, "before COMMIT")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


# Which transaction a body belongs to, the statement at which to decide, and the
# span of statements the death may land in (past the last one: before COMMIT).  A
# fetch decides at its second statement (the first picks the lock; an idle poll
# stops there).  An ack runs 5 to 9 statements, an activity ack 2.
_BODIES = {
    "fetch_orchestration_batch": ("fetch", 2, 3),
    "ack_orchestration_batch": ("ack", 1, 9),
    "ack_work_item": ("work_ack", 1, 2),
}

_real_in_transaction = _store.in_transaction


def faulty_in_transaction(conn: Any, body: Callable[[sqlite3.Connection], T]) -> T:
    """``in_transaction`` with a chance to die inside chosen transactions."""
    qualname = getattr(body, "__qualname__", "")
    point, first, span = next(
        (v for k, v in _BODIES.items() if f".{k}.<locals>" in qualname), (None, 0, 0)
    )
    with TRANSACTION_GATE:
        if point is None or point not in PLAN.points:
            return _real_in_transaction(conn, body)

        def dying_body(db: sqlite3.Connection) -> T:
            proxy = _DyingConnection(db, point, first, span)
            result = body(proxy)  # type: ignore[arg-type]
            proxy.before_commit()
            return result

        return _real_in_transaction(conn, dying_body)


# -- wrapped turn, acks and activity -------------------------------------------

_real_process_turn = _dispatchers.process_turn


def stalling_process_turn(inp: Any, code: Any) -> Any:
    if PLAN.should_stall("turn", inp.instance):
        stall("turn", inp.instance)
    return _real_process_turn(inp, code)


_real_ack_batch = SqliteStore.ack_orchestration_batch
_real_ack_work = SqliteStore.ack_work_item


async def logged_ack_batch(
    self: SqliteStore, batch: OrchestrationBatch, outcome: Any, record: Any, *, now_ms: int
) -> None:
    try:
        await _real_ack_batch(self, batch, outcome, record, now_ms=now_ms)
    except LockLostError:
        PLAN.log(f"ack-refused turn {batch.instance}")
        raise


async def logged_ack_work(
    self: SqliteStore, work: WorkBatch, completion: Any, *, now_ms: int
) -> bool:
    acked = await _real_ack_work(self, work, completion, now_ms=now_ms)
    if not acked:
        PLAN.log(f"ack-refused activity {work.item.instance}#{work.item.id}")
    return acked


def install() -> None:
    """Apply the wrappers (this process only)."""
    _store.in_transaction = faulty_in_transaction  # type: ignore[assignment]
    _dispatchers.process_turn = stalling_process_turn  # type: ignore[assignment]
    SqliteStore.ack_orchestration_batch = logged_ack_batch  # type: ignore[method-assign]
    SqliteStore.ack_work_item = logged_ack_work  # type: ignore[method-assign]


def wrap_activity(runtime: Runtime) -> None:
    """Replace ``Inc`` with a version that may die or stall inside its work."""
    real = runtime.registry.activity("Inc")
    assert real is not None

    def inc(ctx: Any, x: int) -> Any:
        if PLAN.should_stall("activity", ctx.instance_id):
            stall("activity", ctx.instance_id)
        if PLAN.roll("activity"):
            time.sleep(PLAN.uniform(0, 0.005))
            PLAN.die("activity", f"in Inc of {ctx.instance_id}")
        return real(ctx, x)

    runtime.registry.add_activity("Inc", inc)


def _report_death(task: asyncio.Task[None]) -> None:
    """Log a dispatcher task that ended by an exception (it should never)."""
    if not task.cancelled() and task.exception() is not None:
        PLAN.log(f"dispatcher-died {task.get_name()} {task.exception()!r}".replace("\n", " "))


def _kill_later() -> None:
    delay = PLAN.uniform(0.0, PLAN.window_s)
    time.sleep(delay)
    PLAN.die("anywhere", f"after {delay:.3f}s")


async def run(db: str, seconds: float | None) -> None:
    """Run the faulty runtime until it dies (or for ``seconds``)."""
    install()
    lock_ms = int(os.environ.get("DURASCOPE_LOCK_MS", "1000"))
    busy = os.environ.get("DURASCOPE_BUSY_TIMEOUT_MS")
    store = await (
        SqliteStore.open(db, busy_timeout_ms=int(busy)) if busy else SqliteStore.open(db)
    )
    options = RuntimeOptions(
        orchestration_lock_ms=lock_ms,
        worker_lock_ms=lock_ms,
        worker_id=f"faulty-{os.getpid()}",
    )
    runtime = Runtime(store, options)
    add_code(runtime)
    wrap_activity(runtime)
    await runtime.start()
    assert runtime.dispatchers is not None
    for task in runtime.dispatchers._tasks:
        task.add_done_callback(_report_death)
    PLAN.log("started")
    if "anywhere" in PLAN.points:
        threading.Thread(target=_kill_later, daemon=True).start()
    try:
        if seconds is None:
            while True:
                await asyncio.sleep(3600)
        await asyncio.sleep(seconds)
    finally:
        await runtime.shutdown()
        await store.close()


def main(argv: list[str]) -> None:
    """Command-line entry point."""
    if len(argv) >= 2 and argv[0] == "run":
        asyncio.run(run(argv[1], float(argv[2]) if len(argv) > 2 else None))
    else:
        raise SystemExit("usage: python -m tests.reliability.faulty_runtime run DB [SECONDS]")


if __name__ == "__main__":
    main(sys.argv[1:])
