"""The durascope store: orchestration state, queues and turn journal in one SQLite file.

Several processes may share one file.  Every write runs in an explicit
``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so a
transaction never fails half-way because another writer got in first), and
``SQLITE_BUSY`` is retried with jittered backoff before :class:`StoreBusyError`
is raised.  Instance locks (``instance_locks``) and worker-row tokens carry the
exclusivity between dispatchers.

Each transaction (and each read) is one synchronous function run on the
aiosqlite connection's thread, so it costs one thread hop however many
statements it has: with an ``await`` per statement, the GIL hand-offs made a
dispatcher turn about four times slower (measured).  The connection's FIFO of
calls also serialises this object's transactions without an asyncio lock.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

import aiosqlite

from durascope.history import (
    ActivityExecute,
    Event,
    HistoryDecodeError,
    OrchestratorItem,
    TimerFiredItem,
    TurnRecord,
    event_from_json,
    event_to_json,
    target_instance,
    turn_record_from_json,
    turn_record_to_json,
    work_item_to_json,
)
from durascope.runtime import _schema as sql
from durascope.runtime._history_cache import CachedHistory, HistoryCache
from durascope.runtime._queue_rows import (
    Rows,
    decode_messages,
    decode_work_item,
    queued_message,
)
from durascope.runtime._sqlite_thread import (
    enable_wal,
    in_transaction,
    is_busy,
    raw_connection,
)
from durascope.runtime._store_types import (
    ExecutionRow,
    InstanceRow,
    LockLostError,
    OrchestrationBatch,
    QueuedMessage,
    StoreBusyError,
    StoreError,
    WorkBatch,
)
from durascope.runtime._tag_filter import TagFilter
from durascope.runtime._turn_types import TurnOutcome

T = TypeVar("T")

_TERMINAL_STATUSES = frozenset({"Completed", "Failed", "ContinuedAsNew"})
_SQLITE_MAX_INTEGER = 2**63 - 1


def _orchestrator_row(item: OrchestratorItem, now_ms: int) -> tuple[str, str, int, int]:
    if isinstance(item, ActivityExecute):
        raise ValueError("ActivityExecute belongs on the worker queue")
    visible = item.fire_at_ms if isinstance(item, TimerFiredItem) else now_ms
    # A timer may be set up to u64::MAX ms ahead, past SQLite's INTEGER: it waits "forever".
    visible = min(visible, _SQLITE_MAX_INTEGER)
    return (target_instance(item), work_item_to_json(item), visible, now_ms)


@dataclass(frozen=True, slots=True)
class _Fetched:
    instance: str
    msg_rows: Rows
    next_turn: int
    name: str | None
    version: str | None
    execution_id: int
    base: CachedHistory | None
    history_rows: Rows


class SqliteStore:
    """Orchestration instances, histories, queues and turn records on SQLite.

    Create with :meth:`open`; use as ``async with await SqliteStore.open(p) as s``
    or call :meth:`close`.  Every method is safe to call from concurrent tasks.
    """

    def __init__(
        self, conn: aiosqlite.Connection, *, busy_retries: int, history_cache_size: int
    ) -> None:
        """Wrap an open connection; use :meth:`open` instead."""
        self._conn: aiosqlite.Connection | None = conn
        self._busy_retries = max(1, busy_retries)
        self._cache = HistoryCache(history_cache_size)

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        busy_timeout_ms: int = 10000,
        busy_retries: int = 6,
        history_cache_size: int = 2048,
    ) -> SqliteStore:
        """Open (creating if needed) a store file, or a private in-memory store.

        Args:
            path: A file path, or ``":memory:"``.
            busy_timeout_ms: How long SQLite itself waits for another writer.
            busy_retries: Attempts per transaction before :class:`StoreBusyError`.
            history_cache_size: Executions whose histories are cached in memory.

        Raises:
            StoreError: The file is not a durascope store, or its schema is newer.
        """
        memory = str(path) == ":memory:"
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        store = cls(conn, busy_retries=busy_retries, history_cache_size=history_cache_size)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if not callable(getattr(conn, "_execute", None)):
                raise StoreError("unsupported aiosqlite version: no Connection._execute")
            if not memory:
                await store._run(enable_wal, write=False)
            await store._run(sql.install_schema, write=True)
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection; further calls raise :class:`StoreError`."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(self, body: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run ``body`` on the connection thread, inside a write transaction if ``write``.

        The whole body is retried when SQLite reports the database busy, so bodies
        must not change Python state.
        """
        conn = self._conn
        if conn is None:
            raise StoreError("store is closed")
        # aiosqlite has no public "call this on the connection thread"; _execute
        # is that primitive (stable since 0.12; checked in open()).
        submit = cast(Callable[..., Awaitable[T]], conn._execute)
        for attempt in range(1, self._busy_retries + 1):
            try:
                if write:
                    return await submit(in_transaction, conn, body)
                return await submit(lambda: body(raw_connection(conn)))
            except sqlite3.Error as exc:
                if not is_busy(exc):
                    raise StoreError(f"{type(exc).__name__}: {exc}") from exc
                if attempt == self._busy_retries:
                    raise StoreBusyError(
                        f"database stayed busy through {attempt} attempts: {exc}"
                    ) from exc
                backoff = min(0.5, 0.01 * 2 ** (attempt - 1))
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            except ValueError as exc:
                if self._conn is None:  # closed meanwhile: aiosqlite's "Connection closed"
                    raise StoreError("store is closed") from exc
                raise
        raise AssertionError("unreachable")

    # -- orchestrator queue -------------------------------------------------------

    async def enqueue(self, items: Sequence[OrchestratorItem], *, now_ms: int) -> None:
        """Add items to the orchestrator queue in one transaction (the client path).

        Each row is keyed by the item's target instance; a ``TimerFired`` becomes
        visible at its ``fire_at_ms``, everything else at ``now_ms``.
        """
        rows = [_orchestrator_row(item, now_ms) for item in items]
        if not rows:
            return

        def body(db: sqlite3.Connection) -> None:
            db.executemany(sql.INSERT_MESSAGE, rows)

        await self._run(body, write=True)

    async def fetch_orchestration_batch(
        self, *, now_ms: int, lock_ms: int
    ) -> OrchestrationBatch | None:
        """Lock the instance at the queue head and return its visible messages.

        The instance is the one owning the lowest-id visible row whose instance
        lock is absent or expired.  A batch is returned even when the instance
        does not exist, so that an orphan message can never block the queue.

        Returns:
            The batch, or None when no message is fetchable at ``now_ms``.
        """
        token = secrets.token_hex(16)
        until = now_ms + lock_ms

        def body(db: sqlite3.Connection) -> _Fetched | None:
            picked = db.execute(
                sql.PICK_AND_LOCK, {"token": token, "until": until, "now": now_ms}
            ).fetchall()
            if not picked:
                return None
            instance = str(picked[0][0])
            msg_rows = db.execute(sql.LOCK_MESSAGES, (token, instance, now_ms)).fetchall()
            [info] = db.execute(sql.INSTANCE_INFO, {"i": instance}).fetchall()
            execution_id = int(info[3]) if info[3] is not None else 0
            base: CachedHistory | None = None
            history_rows: Rows = []
            if execution_id:
                base, history_rows = self._history_rows(db, instance, execution_id)
            return _Fetched(
                instance, msg_rows, int(info[0]), info[1], info[2], execution_id, base, history_rows
            )

        fetched = await self._run(body, write=True)
        return None if fetched is None else self._make_batch(fetched, token, until)

    def _history_rows(
        self, db: sqlite3.Connection, instance: str, execution_id: int
    ) -> tuple[CachedHistory | None, Rows]:
        """Rows to decode and the cached prefix they continue (None: a full read)."""
        cached = self._cache.get((instance, execution_id))
        if cached is not None:
            last = cached.events[-1].event_id
            rows = db.execute(sql.HISTORY_FROM, (instance, execution_id, last)).fetchall()
            ids = [int(r[0]) for r in rows]
            # Another process may only have appended; anything else (a rewritten
            # anchor row, a gap) means the cache is not a prefix, so reload.
            anchored = bool(rows) and rows[0][1] == cached.last_raw
            if anchored and ids == list(range(last, last + len(ids))):
                return cached, rows[1:]
        rows = db.execute(sql.HISTORY_FROM, (instance, execution_id, 0)).fetchall()
        return None, rows

    def _make_batch(self, f: _Fetched, token: str, until: int) -> OrchestrationBatch:
        # Decoding happens after COMMIT so that the write lock is not held for it.
        ids, messages, bad_ids = decode_messages(f.msg_rows)
        history, history_error = self._decode_history(f)
        return OrchestrationBatch(
            instance=f.instance,
            lock_token=token,
            locked_until_ms=until,
            message_ids=ids,
            messages=messages,
            attempt=max((int(r[2]) for r in f.msg_rows), default=1),
            instance_exists=f.name is not None,
            current_execution_id=f.execution_id,
            orchestration_name=f.name,
            orchestration_version=f.version,
            history=history,
            history_error=history_error,
            undecodable_message_ids=bad_ids,
            next_turn=f.next_turn,
        )

    def _decode_history(self, f: _Fetched) -> tuple[tuple[Event, ...], str | None]:
        """Decode new rows onto the cached prefix and refresh the cache, or name the bad row."""
        key = (f.instance, f.execution_id)
        new: list[Event] = []
        error: str | None = None
        for event_id, raw in f.history_rows:
            try:
                new.append(event_from_json(raw))
            except HistoryDecodeError as exc:
                # Keep decoding: the rows that do decode tell whether the execution
                # already ended (then a late message is discarded, not re-poisoned).
                error = error or f"history row {f.instance}/{f.execution_id}/{event_id}: {exc}"
        history = (f.base.events if f.base else ()) + tuple(new)
        if error is not None:
            self._cache.drop(key)
            return history, error
        if f.history_rows:
            self._cache.put(key, CachedHistory(history, str(f.history_rows[-1][1])))
        elif f.base is not None:
            self._cache.put(key, f.base)  # refresh its LRU position
        return history, None

    async def ack_orchestration_batch(
        self,
        batch: OrchestrationBatch,
        outcome: TurnOutcome,
        record: TurnRecord | None,
        *,
        now_ms: int,
    ) -> None:
        """Commit one turn atomically and release the instance lock.

        Deletes exactly the fetched rows (later arrivals stay queued), creates or
        updates the instance and execution rows, appends the history delta,
        enqueues the turn's work, steals cancelled activities' worker rows, and
        journals ``record``.

        Raises:
            LockLostError: The lock expired or changed hands; nothing was committed.
            ValueError: The outcome is for another instance, or asks for an abandon.
        """
        if outcome.instance != batch.instance:
            raise ValueError(f"outcome for {outcome.instance!r}, batch for {batch.instance!r}")
        if outcome.abandon_delay_ms is not None:
            raise ValueError("an outcome with abandon_delay_ms must be abandoned, not acked")
        instance, execution_id = batch.instance, outcome.execution_id
        terminal = outcome.status in _TERMINAL_STATUSES
        params = {
            "i": instance,
            "e": execution_id,
            "now": now_ms,
            "name": outcome.orchestration_name,
            "version": outcome.orchestration_version,
            "parent": outcome.parent_instance,
            "status": outcome.status if terminal else "Running",
            "output": outcome.output if terminal else None,
            "completed": now_ms if terminal else None,
            "custom_status": outcome.custom_status,
        }
        deleted = [(i,) for i in batch.message_ids + batch.undecodable_message_ids]
        history = [
            (instance, execution_id, e.event_id, e.type, event_to_json(e)) for e in outcome.delta
        ]
        workers = [
            (work_item_to_json(w), now_ms, w.instance, w.execution_id, w.id, now_ms)
            for w in outcome.worker_items
        ]
        cancelled = [(instance, execution_id, a) for a in outcome.cancelled_activities]
        orchestrator = [_orchestrator_row(item, now_ms) for item in outcome.orchestrator_items]
        turn_json = None if record is None else turn_record_to_json(record)

        def body(db: sqlite3.Connection) -> None:
            held = db.execute(sql.RELEASE_LIVE_LOCK, (instance, batch.lock_token, now_ms))
            if not held.fetchall():
                raise LockLostError(f"lock on {instance!r} expired or was taken over")
            if deleted:
                db.executemany(sql.DELETE_MESSAGE, deleted)
            if outcome.orchestration_name is not None:
                db.execute(sql.UPSERT_INSTANCE, params)
            elif history or outcome.status is not None:
                db.execute(sql.BUMP_EXECUTION, params)
            if outcome.orchestration_name is not None or history or outcome.status is not None:
                db.execute(sql.UPSERT_EXECUTION, params)
            if history:
                db.executemany(sql.INSERT_EVENT, history)
            if outcome.custom_status_changed:
                db.execute(sql.SET_CUSTOM_STATUS, params)
            if workers:
                db.executemany(sql.INSERT_WORK, workers)
            if cancelled:
                db.executemany(sql.CANCEL_WORK, cancelled)
            if orchestrator:
                db.executemany(sql.INSERT_MESSAGE, orchestrator)
            if record is not None:
                db.execute(
                    sql.INSERT_TURN,
                    (instance, record.turn, record.execution_id, record.timestamp_ms, turn_json),
                )

        await self._run(body, write=True)
        if history:
            self._cache.extend((instance, execution_id), outcome.delta, history[-1][4])

    async def abandon_orchestration_batch(
        self,
        batch: OrchestrationBatch,
        *,
        delay_ms: int | None,
        now_ms: int,
        ignore_attempt: bool = False,
    ) -> bool:
        """Release the instance lock without committing a turn.

        Args:
            batch: The fetched batch.
            delay_ms: When set, the batch's rows become visible again at
                ``now_ms + delay_ms``; otherwise they are fetchable at once.
            now_ms: The current time.
            ignore_attempt: Undo this fetch's ``attempt_count`` increment.

        Returns:
            False when the lock had already changed hands (nothing was touched).
        """
        params = {
            "i": batch.instance,
            "t": batch.lock_token,
            "visible": None if delay_ms is None else now_ms + delay_ms,
            "dec": 1 if ignore_attempt else 0,
        }

        def body(db: sqlite3.Connection) -> bool:
            if not db.execute(sql.RELEASE_LOCK, params).fetchall():
                return False
            db.execute(sql.REQUEUE_MESSAGES, params)
            return True

        return await self._run(body, write=True)

    async def renew_orchestration_lock(
        self, batch: OrchestrationBatch, *, now_ms: int, lock_ms: int
    ) -> bool:
        """Extend a live instance lock to ``now_ms + lock_ms``; False if it is lost."""
        return await self._update_one(
            sql.RENEW_LOCK, (now_ms + lock_ms, batch.instance, batch.lock_token, now_ms)
        )

    # -- worker queue -------------------------------------------------------------

    async def fetch_work_item(
        self, *, now_ms: int, lock_ms: int, tag_filter: TagFilter | None = None
    ) -> WorkBatch | None:
        """Lock the lowest-id visible, unlocked (or lock-expired) worker row.

        Rows that do not decode as ``ActivityExecute`` are parked (kept for
        inspection, never fetched again) and the next row is tried.

        Args:
            now_ms: The current time.
            lock_ms: How long the row stays locked unless renewed.
            tag_filter: Take only activities whose tag it admits (any when None).
        """
        token = secrets.token_hex(16)
        condition, tags = (tag_filter or TagFilter(kind="any")).sql(sql.WORK_TAG)
        statement = sql.fetch_work(condition)
        params = {"token": token, "until": now_ms + lock_ms, "now": now_ms, **tags}

        def body(db: sqlite3.Connection) -> WorkBatch | None:
            while True:
                rows = db.execute(statement, params).fetchall()
                if not rows:
                    return None
                [(row_id, raw, attempt)] = rows
                item = decode_work_item(raw)
                if isinstance(item, ActivityExecute):
                    return WorkBatch(int(row_id), token, now_ms + lock_ms, item, int(attempt))
                db.execute(sql.PARK_WORK, (sql.PARKED_VISIBLE_AT_MS, row_id))

        return await self._run(body, write=True)

    async def ack_work_item(
        self, work: WorkBatch, completion: OrchestratorItem | None, *, now_ms: int
    ) -> bool:
        """Delete the worker row and enqueue its completion, if the row is still ours.

        Returns:
            False, enqueuing nothing, when the row is gone (the activity was
            cancelled) or another worker re-locked it after our lock expired.
        """
        row = None if completion is None else _orchestrator_row(completion, now_ms)

        def body(db: sqlite3.Connection) -> bool:
            if not db.execute(sql.ACK_WORK, (work.id, work.lock_token)).fetchall():
                return False
            if row is not None:
                db.execute(sql.INSERT_MESSAGE, row)
            return True

        return await self._run(body, write=True)

    async def abandon_work_item(
        self, work: WorkBatch, *, delay_ms: int | None, now_ms: int
    ) -> bool:
        """Unlock a worker row, visible again now or after ``delay_ms``; False if lost."""
        visible = None if delay_ms is None else now_ms + delay_ms
        return await self._update_one(sql.ABANDON_WORK, (visible, work.id, work.lock_token))

    async def renew_work_item_lock(self, work: WorkBatch, *, now_ms: int, lock_ms: int) -> bool:
        """Extend a worker row's lock; False if the row is gone or re-locked."""
        return await self._update_one(sql.RENEW_WORK, (now_ms + lock_ms, work.id, work.lock_token))

    async def _update_one(self, statement: str, params: tuple[Any, ...]) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            return bool(db.execute(statement, params).fetchall())

        return await self._run(body, write=True)

    # -- wake-up support ----------------------------------------------------------

    async def next_visible_at_ms(
        self, queue: Literal["orchestrator", "worker"] | None = None
    ) -> int | None:
        """The earliest time a fetch could succeed without any further commit.

        A row counts from its ``visible_at_ms`` or, if its instance lock (worker
        row lock) is later, from that lock's expiry.  The value may be in the past.

        Args:
            queue: Restrict to one queue; both when None.
        """
        parts = [
            part
            for name, part in (("orchestrator", sql.NEXT_MESSAGE_AT), ("worker", sql.NEXT_WORK_AT))
            if queue in (None, name)
        ]
        values = await self._select_column(" UNION ALL ".join(parts), ())
        return min((int(v) for v in values if v is not None), default=None)

    async def data_version(self) -> int:
        """``PRAGMA data_version``: changes whenever another connection commits."""
        return int((await self._select_column("PRAGMA data_version", ()))[0])

    # -- reads for the client and the debugger -------------------------------------

    async def get_instance(self, instance: str) -> InstanceRow | None:
        """The instance row with its current execution's status, or None."""
        rows = await self._select(sql.SELECT_INSTANCES + sql.BY_ID, (instance,))
        return InstanceRow(*rows[0]) if rows else None

    async def list_instances(self) -> list[InstanceRow]:
        """Every instance, oldest first."""
        rows = await self._select(sql.SELECT_INSTANCES + sql.BY_CREATION, ())
        return [InstanceRow(*r) for r in rows]

    async def list_children(self, instance: str) -> list[str]:
        """Ids of the instances whose recorded parent is ``instance``, oldest first."""
        return [str(v) for v in await self._select_column(sql.SELECT_CHILDREN, (instance,))]

    async def list_executions(self, instance: str) -> list[ExecutionRow]:
        """The instance's executions in order, with their event counts."""
        rows = await self._select(sql.SELECT_EXECUTIONS, (instance,))
        return [ExecutionRow(*r) for r in rows]

    async def read_history(self, instance: str, execution_id: int) -> list[Event]:
        """One execution's events in ``event_id`` order (uncached).

        Raises:
            StoreError: A row does not decode.
        """
        rows = await self._select(sql.HISTORY_FROM, (instance, execution_id, 0))
        try:
            return [event_from_json(raw) for _, raw in rows]
        except HistoryDecodeError as exc:
            raise StoreError(f"history of {instance}/{execution_id}: {exc}") from exc

    async def list_turns(self, instance: str) -> list[TurnRecord]:
        """The instance's journaled turns in turn order.

        Raises:
            StoreError: A record does not decode.
        """
        raws = await self._select_column(sql.SELECT_TURNS, (instance,))
        try:
            return [turn_record_from_json(raw) for raw in raws]
        except HistoryDecodeError as exc:
            raise StoreError(f"turn journal of {instance}: {exc}") from exc

    async def pending_orchestrator_messages(
        self, *, now_ms: int | None = None
    ) -> list[QueuedMessage]:
        """Every orchestrator-queue row in id order.

        ``locked`` means the row belongs to the instance's current lock (unexpired
        at ``now_ms``, when given).
        """
        rows = await self._select(sql.SELECT_MESSAGES, {"now": now_ms})
        return [queued_message(r) for r in rows]

    async def pending_work_items(self, *, now_ms: int | None = None) -> list[QueuedMessage]:
        """Every worker-queue row in id order (parked undecodable rows included)."""
        rows = await self._select(sql.SELECT_WORK, {"now": now_ms})
        return [queued_message(r) for r in rows]

    async def _select(self, statement: str, params: Any) -> Rows:
        def body(db: sqlite3.Connection) -> Rows:
            return db.execute(statement, params).fetchall()

        return await self._run(body, write=False)

    async def _select_column(self, statement: str, params: Any) -> list[Any]:
        return [r[0] for r in await self._select(statement, params)]
