"""Records and shortcuts the store tests build their turns from."""

from __future__ import annotations

import sqlite3
from typing import Any

from durascope.history import (
    ActivityScheduled,
    Event,
    MessageVerdict,
    OrchestrationStarted,
    StartOrchestration,
)
from durascope.runtime._store import SqliteStore
from durascope.runtime._store_types import (
    OrchestrationBatch,
)
from durascope.runtime._turn_types import ExecutionStatus, TurnOutcome

LOCK_MS = 5_000


def start(instance: str, parent: str | None = None) -> StartOrchestration:
    return StartOrchestration(
        instance=instance,
        orchestration="Flow",
        input='"in"',
        version="1.0.0",
        parent_instance=parent,
        parent_id=2 if parent else None,
    )


def started(instance: str, execution_id: int = 1, parent: str | None = None) -> Event:
    return OrchestrationStarted(
        event_id=1,
        instance_id=instance,
        execution_id=execution_id,
        timestamp_ms=1000,
        name="Flow",
        version="1.0.0",
        input='"in"',
        parent_instance=parent,
    )


def outcome(
    batch: OrchestrationBatch,
    delta: tuple[Event, ...] = (),
    *,
    execution_id: int | None = None,
    status: ExecutionStatus | None = "Running",
    **kw: Any,
) -> TurnOutcome:
    """An outcome that applies every fetched message and creates/updates the instance."""
    kw.setdefault("orchestration_name", "Flow")
    kw.setdefault("orchestration_version", "1.0.0")
    return TurnOutcome(
        instance=batch.instance,
        execution_id=execution_id
        if execution_id is not None
        else max(1, batch.current_execution_id),
        verdicts=tuple(
            MessageVerdict(message=m, verdict="applied", reason="test") for m in batch.messages
        ),
        delta=delta,
        status=status,
        **kw,
    )


async def fetch(
    store: SqliteStore, now_ms: int = 1000, lock_ms: int = LOCK_MS
) -> OrchestrationBatch:
    batch = await store.fetch_orchestration_batch(now_ms=now_ms, lock_ms=lock_ms)
    assert batch is not None
    return batch


async def first_turn(
    store: SqliteStore, instance: str = "a", now_ms: int = 1000
) -> tuple[Event, ...]:
    """Start ``instance`` with one committed turn holding events 1-2; return them."""
    await store.enqueue([start(instance)], now_ms=now_ms)
    batch = await fetch(store, now_ms)
    assert batch.instance == instance
    delta = (started(instance), ActivityScheduled(event_id=2, name="act", input='"1"'))
    await store.ack_orchestration_batch(batch, outcome(batch, delta), None, now_ms=now_ms)
    return delta


async def raw_sql(store: SqliteStore, sql: str, params: Any = ()) -> list[Any]:
    """Run SQL on the store's own connection (the only way into a ``:memory:`` store)."""

    def body(db: sqlite3.Connection) -> list[Any]:
        return db.execute(sql, params).fetchall()

    return await store._run(body, write=True)
