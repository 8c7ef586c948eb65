"""Store behaviour only a file has: its schema stamp, other processes' writes, a busy file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from durascope.history import (
    ActivityScheduled,
    ExternalEvent,
    ExternalRaised,
    event_to_json,
)
from durascope.runtime._schema import SCHEMA_VERSION, STORE_KIND
from durascope.runtime._store import SqliteStore
from durascope.runtime._store_types import (
    StoreBusyError,
    StoreError,
)
from durascope.runtime._turn_types import ENGINE_VERSION
from tests.runtime.store_records import (
    LOCK_MS,
    fetch,
    first_turn,
    outcome,
    start,
)

pytestmark = pytest.mark.asyncio


class TestFileStoreOnly:
    async def test_schema_is_stamped_and_reopenable(self, tmp_path: Path) -> None:
        path = tmp_path / "store.db"
        async with await SqliteStore.open(path) as s:
            await first_turn(s)
        with sqlite3.connect(path) as raw:
            meta = dict(raw.execute("SELECT key, value FROM durascope_meta"))
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert meta == {
            "schema_version": str(SCHEMA_VERSION),
            "kind": STORE_KIND,
            "engine_version": ENGINE_VERSION,
        }
        async with await SqliteStore.open(path) as s:
            assert await s.read_history("a", 1) != []

    async def test_refuses_newer_schema_and_foreign_databases(self, tmp_path: Path) -> None:
        path = tmp_path / "store.db"
        async with await SqliteStore.open(path):
            pass
        with sqlite3.connect(path) as raw:
            raw.execute(
                "UPDATE durascope_meta SET value = ? WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION + 1),),
            )
        with pytest.raises(StoreError, match="newer"):
            await SqliteStore.open(path)
        duroxide = tmp_path / "duroxide.db"
        with sqlite3.connect(duroxide) as raw:
            raw.execute("CREATE TABLE _sqlx_migrations (version INTEGER)")
            raw.execute("CREATE TABLE instances (instance_id TEXT)")
        with pytest.raises(StoreError, match="duroxide"):
            await SqliteStore.open(duroxide)
        garbage = tmp_path / "garbage.db"
        garbage.write_bytes(b"this is not a database file at all" * 100)
        with pytest.raises(StoreError):
            await SqliteStore.open(garbage)

    async def test_history_cache_picks_up_other_process_appends(self, tmp_path: Path) -> None:
        path = tmp_path / "store.db"
        async with await SqliteStore.open(path) as one, await SqliteStore.open(path) as two:
            delta1 = await first_turn(one)  # `one` caches these very objects
            await two.enqueue([ExternalRaised(instance="a", name="e", data="1")], now_ms=1001)
            b2 = await fetch(two, 1001)
            assert b2.history == delta1 and b2.history[0] is not delta1[0]  # a full read
            delta2 = (
                ExternalEvent(event_id=3, name="e", data="1"),
                ActivityScheduled(event_id=4, name="act", input='"2"'),
            )
            await two.ack_orchestration_batch(b2, outcome(b2, delta2), None, now_ms=1001)
            version = await one.data_version()
            await two.enqueue([ExternalRaised(instance="a", name="f", data="2")], now_ms=1002)
            assert await one.data_version() != version
            b3 = await fetch(one, 1002)
            assert b3.history == delta1 + delta2
            # Incremental: the cached prefix is reused, only rows 3-4 were decoded.
            assert all(x is y for x, y in zip(b3.history[:2], delta1, strict=True))
            assert await two.fetch_orchestration_batch(now_ms=1002, lock_ms=LOCK_MS) is None
            await one.ack_orchestration_batch(b3, outcome(b3), None, now_ms=1002)

    async def test_history_cache_reloads_when_its_prefix_changed(self, tmp_path: Path) -> None:
        path = tmp_path / "store.db"
        async with await SqliteStore.open(path) as one:
            delta1 = await first_turn(one)
            # Another process rewrites the anchor row (e.g. delete + recreate of the id).
            replaced = ActivityScheduled(event_id=2, name="other", input='"9"', timestamp_ms=5)
            with sqlite3.connect(path) as raw:
                raw.execute(
                    "UPDATE history SET event_data = ? WHERE event_id = 2",
                    (event_to_json(replaced),),
                )
            await one.enqueue([ExternalRaised(instance="a", name="e", data="1")], now_ms=1001)
            b2 = await fetch(one, 1001)
            assert b2.history == (delta1[0], replaced) and b2.history[0] is not delta1[0]

    async def test_busy_database_is_retried_then_reported(self, tmp_path: Path) -> None:
        path = tmp_path / "store.db"
        patient = await SqliteStore.open(path, busy_timeout_ms=0, busy_retries=8)
        impatient = await SqliteStore.open(path, busy_timeout_ms=0, busy_retries=2)
        async with patient, impatient:
            blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                blocker.execute("BEGIN IMMEDIATE")
                asyncio.get_running_loop().call_later(0.05, blocker.execute, "COMMIT")
                await patient.enqueue([start("a")], now_ms=1000)  # waits out the blocker
                assert len(await patient.pending_orchestrator_messages()) == 1
                blocker.execute("BEGIN IMMEDIATE")
                with pytest.raises(StoreBusyError):
                    await impatient.enqueue([start("b")], now_ms=1000)
                blocker.execute("ROLLBACK")
            finally:
                blocker.close()
            await impatient.enqueue([start("b")], now_ms=1000)
            assert len(await impatient.pending_orchestrator_messages()) == 2

    async def test_two_connections_never_share_an_instance(self, tmp_path: Path) -> None:
        path = tmp_path / "store.db"
        instances = [f"i{n}" for n in range(12)]
        async with await SqliteStore.open(path) as one, await SqliteStore.open(path) as two:
            for n in range(3):
                await one.enqueue(
                    [ExternalRaised(instance=i, name="e", data=str(n)) for i in instances],
                    now_ms=1000,
                )
            held: set[str] = set()
            delivered: list[tuple[str, str]] = []

            async def worker(store: SqliteStore) -> None:
                idle = 0
                while idle < 5:
                    batch = await store.fetch_orchestration_batch(now_ms=1000, lock_ms=LOCK_MS)
                    if batch is None:
                        idle += 1
                        await asyncio.sleep(0.002)
                        continue
                    idle = 0
                    assert batch.instance not in held, "instance handed out twice"
                    held.add(batch.instance)
                    await asyncio.sleep(0)  # let the other connection try meanwhile
                    delivered.extend(
                        (batch.instance, m.data)
                        for m in batch.messages
                        if isinstance(m, ExternalRaised)
                    )
                    await store.ack_orchestration_batch(batch, outcome(batch), None, now_ms=1000)
                    held.discard(batch.instance)

            await asyncio.gather(worker(one), worker(two), worker(one), worker(two))
            assert sorted(delivered) == sorted((i, str(n)) for i in instances for n in range(3))
            assert await one.pending_orchestrator_messages() == []
