"""Faults the runtime must absorb: poison batches, orphan messages, a locked database."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from durascope.history import OrchestrationFailed, PoisonError
from durascope.runtime import Client, Runtime, RuntimeOptions, SqliteStore


def add_work(runtime: Runtime) -> None:
    @runtime.register_activity("Inc")
    def inc(ctx: Any, x: int) -> int:
        return x + 1

    @runtime.register_orchestration("Work")
    def work(ctx: Any, x: int) -> Any:
        return (yield ctx.schedule_activity("Inc", x))


async def wait_done(client: Client, ids: list[str], timeout_s: float = 30) -> dict[str, str]:
    return {i: (await client.wait_for_orchestration(i, timeout_s)).status for i in ids}


async def test_poison_after_max_attempts_without_blocking_the_queue(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "poison.db")
    runtime = Runtime(store, RuntimeOptions(max_attempts=3, retry_backoff_ms=50))
    add_work(runtime)
    client = runtime.client()
    # An orphan cancel and an unregistered orchestration first, at the queue head.
    await client.cancel_instance("does-not-exist", "cleanup")
    await client.start_orchestration("bad", "NotRegistered", 1)
    others = [f"ok-{i}" for i in range(20)]
    for i, iid in enumerate(others):
        await client.start_orchestration(iid, "Work", i)
    await runtime.start()
    try:
        statuses = await wait_done(client, others)
        assert set(statuses.values()) == {"Completed"}  # nothing waited behind the head
        bad = await client.wait_for_orchestration("bad", 30)
        assert bad.status == "Failed"
        assert bad.error == "poison: orchestration bad exceeded 4 attempts (max 3)"
        history = await client.read_history("bad", 1)
        failed = history[-1]
        assert isinstance(failed, OrchestrationFailed)
        assert isinstance(failed.details, PoisonError)
        assert [e.type for e in history] == ["OrchestrationStarted", "OrchestrationFailed"]
    finally:
        await runtime.shutdown()
        await store.close()


async def test_a_locked_database_is_waited_out_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = await SqliteStore.open(path)
    runtime = Runtime(store, RuntimeOptions())
    add_work(runtime)
    client = runtime.client()
    ids = [f"w-{i}" for i in range(30)]
    for i, iid in enumerate(ids):
        await client.start_orchestration(iid, "Work", i)
    held = threading.Event()

    def hold_exclusive_lock() -> None:
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(1.5)  # every writer and reader of the runtime is locked out meanwhile
        conn.execute("COMMIT")
        conn.close()

    locker = threading.Thread(target=hold_exclusive_lock)
    locker.start()
    while not held.is_set():
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await runtime.start()
    try:
        statuses = await wait_done(client, ids, timeout_s=60)
        assert set(statuses.values()) == {"Completed"}
        assert time.monotonic() - started >= 1.0  # it really had to wait
    finally:
        locker.join()
        await runtime.shutdown()
        await store.close()
