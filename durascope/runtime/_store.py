"""The durascope store: orchestration state, queues and turn journal in one SQLite file.

Several processes may share one file.  Every write runs in an explicit
``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so a
transaction never fails half-way because another writer got in first), and
``SQLITE_BUSY`` is retried with jittered backoff before :class:`StoreBusyError`
is raised.  Instance locks (``instance_locks``) and worker-row tokens carry the
exclusivity between dispatchers; the asyncio lock below only serialises this
object's use of its single connection.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import aiosqlite

from durascope.history import (
    ActivityExecute,
    Event,
    HistoryDecodeError,
    OrchestratorItem,
    TimerFiredItem,
    TurnRecord,
    WorkItem,
    event_from_json,
    event_to_json,
    target_instance,
    turn_record_from_json,
    turn_record_to_json,
    work_item_from_json,
    work_item_to_json,
)
from durascope.runtime._schema import PARKED_VISIBLE_AT_MS, install_schema
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
from durascope.runtime._turn_types import TurnOutcome

T = TypeVar("T")
Rows = list[Any]  # rows as aiosqlite returns them (sqlite3.Row-compatible tuples)

_TERMINAL_STATUSES = frozenset({"Completed", "Failed", "ContinuedAsNew"})
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)

# The unary ``+`` keeps SQLite off the (visible_at_ms, id) index: scanning the
# queue in id order and stopping at the first fetchable row is O(1) for a
# backlog, whereas the index range scan must sort every visible row.
_PICK_AND_LOCK = """
INSERT INTO instance_locks (instance_id, lock_token, locked_until_ms)
SELECT q.instance_id, :token, :until
FROM orchestrator_queue AS q
LEFT JOIN instance_locks AS l ON l.instance_id = q.instance_id
WHERE +q.visible_at_ms <= :now AND (l.locked_until_ms IS NULL OR l.locked_until_ms <= :now)
ORDER BY q.id LIMIT 1
ON CONFLICT (instance_id) DO UPDATE
SET lock_token = excluded.lock_token, locked_until_ms = excluded.locked_until_ms
WHERE instance_locks.locked_until_ms <= :now
RETURNING instance_id"""
_LOCK_MESSAGES = """
UPDATE orchestrator_queue SET lock_token = ?, attempt_count = attempt_count + 1
WHERE instance_id = ? AND visible_at_ms <= ?
RETURNING id, work_item, attempt_count"""
_INSTANCE_INFO = """
SELECT (SELECT COALESCE(MAX(turn), 0) + 1 FROM turns WHERE instance_id = :i),
       i.orchestration_name, i.orchestration_version, i.current_execution_id
FROM (SELECT 1) LEFT JOIN instances AS i ON i.instance_id = :i"""
_HISTORY_FROM = """
SELECT event_id, event_data FROM history
WHERE instance_id = ? AND execution_id = ? AND event_id >= ? ORDER BY event_id"""
_UPSERT_INSTANCE = """
INSERT INTO instances (instance_id, orchestration_name, orchestration_version,
    current_execution_id, parent_instance_id, created_at_ms, updated_at_ms)
VALUES (:i, :name, :version, :e, :parent, :now, :now)
ON CONFLICT (instance_id) DO UPDATE SET
    orchestration_name = excluded.orchestration_name,
    orchestration_version = COALESCE(excluded.orchestration_version, orchestration_version),
    current_execution_id = MAX(current_execution_id, excluded.current_execution_id),
    updated_at_ms = excluded.updated_at_ms"""
_BUMP_EXECUTION = """
UPDATE instances SET current_execution_id = MAX(current_execution_id, :e), updated_at_ms = :now
WHERE instance_id = :i"""
# A terminal status overwrites; 'Running' only creates the row.
_UPSERT_EXECUTION = """
INSERT INTO executions (instance_id, execution_id, status, output, started_at_ms, completed_at_ms)
VALUES (:i, :e, :status, :output, :now, :completed)
ON CONFLICT (instance_id, execution_id) DO UPDATE SET
    status = excluded.status, output = excluded.output, completed_at_ms = excluded.completed_at_ms
WHERE excluded.status <> 'Running'"""
_INSERT_ORCH = """
INSERT INTO orchestrator_queue (instance_id, work_item, visible_at_ms, created_at_ms)
VALUES (?, ?, ?, ?)"""
_INSERT_WORKER = """
INSERT INTO worker_queue (work_item, visible_at_ms, instance_id, execution_id, activity_id,
    created_at_ms) VALUES (?, ?, ?, ?, ?, ?)"""
_FETCH_WORK = """
UPDATE worker_queue SET lock_token = :token, locked_until_ms = :until,
    attempt_count = attempt_count + 1
WHERE id = (SELECT id FROM worker_queue
            WHERE +visible_at_ms <= :now AND (locked_until_ms IS NULL OR locked_until_ms <= :now)
            ORDER BY id LIMIT 1)
RETURNING id, work_item, attempt_count"""
_INSTANCE_SELECT = """
SELECT i.instance_id, i.orchestration_name, i.orchestration_version, i.current_execution_id,
       i.parent_instance_id, i.custom_status, i.custom_status_version, e.status, e.output,
       i.created_at_ms, i.updated_at_ms
FROM instances AS i LEFT JOIN executions AS e
    ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id"""
# A row's earliest fetch time: its visibility, or its lock's expiry if later.
_NEXT_ORCH = """
SELECT MIN(MAX(q.visible_at_ms, COALESCE(l.locked_until_ms, 0)))
FROM orchestrator_queue AS q LEFT JOIN instance_locks AS l ON l.instance_id = q.instance_id"""
_NEXT_WORK = f"""
SELECT MIN(MAX(visible_at_ms, COALESCE(locked_until_ms, 0)))
FROM worker_queue WHERE visible_at_ms < {PARKED_VISIBLE_AT_MS}"""


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _BUSY_CODES
    text = str(exc)
    return "locked" in text or "busy" in text


def _orchestrator_row(item: OrchestratorItem, now_ms: int) -> tuple[str, str, int, int]:
    if isinstance(item, ActivityExecute):
        raise ValueError("ActivityExecute belongs on the worker queue")
    visible = item.fire_at_ms if isinstance(item, TimerFiredItem) else now_ms
    return (target_instance(item), work_item_to_json(item), visible, now_ms)


@dataclass(frozen=True, slots=True)
class _CachedHistory:
    events: tuple[Event, ...]
    last_raw: str
    """The stored JSON of the last event: the anchor an incremental read must match."""


class _HistoryCache:
    """LRU of execution histories, so a turn reads only the rows added since the last.

    Valid across processes because a history is append-only per execution; the
    store re-checks the anchor row and id contiguity on every incremental read.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, int], _CachedHistory] = OrderedDict()

    def get(self, key: tuple[str, int]) -> _CachedHistory | None:
        return self._entries.get(key)

    def put(self, key: tuple[str, int], entry: _CachedHistory) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def drop(self, key: tuple[str, int]) -> None:
        self._entries.pop(key, None)

    def extend(self, key: tuple[str, int], delta: Sequence[Event]) -> None:
        """Append this process's own committed events, or forget what cannot be extended."""
        if not delta:
            return
        cached = self._entries.get(key)
        first = cached.events[-1].event_id + 1 if cached else 1
        if [e.event_id for e in delta] != list(range(first, first + len(delta))):
            self.drop(key)
            return
        events = (cached.events if cached else ()) + tuple(delta)
        self.put(key, _CachedHistory(events, event_to_json(delta[-1])))


@dataclass(frozen=True, slots=True)
class _Fetched:
    instance: str
    msg_rows: Rows
    next_turn: int
    name: str | None
    version: str | None
    execution_id: int
    base: _CachedHistory | None
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
        self._lock = asyncio.Lock()
        self._busy_retries = max(1, busy_retries)
        self._cache = _HistoryCache(history_cache_size)

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
            if not memory:
                await store._run(_enable_wal, write=False)
            await store._run(install_schema, write=True)
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

    async def _run(
        self, body: Callable[[aiosqlite.Connection], Awaitable[T]], *, write: bool
    ) -> T:
        """Run ``body`` on the connection, in a write transaction if ``write``.

        The whole body is retried when SQLite reports the database busy, so bodies
        must not change Python state before they return.
        """
        async with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError("store is closed")
            for attempt in range(1, self._busy_retries + 1):
                try:
                    if write:
                        await conn.execute("BEGIN IMMEDIATE")
                    try:
                        result = await body(conn)
                        if write:
                            await conn.execute("COMMIT")
                    except BaseException:
                        if write:
                            # Shielded: a second cancellation must not leave the
                            # connection inside a transaction.
                            await asyncio.shield(_rollback(conn))
                        raise
                    return result
                except sqlite3.Error as exc:
                    if not _is_busy(exc):
                        raise StoreError(f"{type(exc).__name__}: {exc}") from exc
                    if attempt == self._busy_retries:
                        raise StoreBusyError(
                            f"database stayed busy through {attempt} attempts: {exc}"
                        ) from exc
                    await asyncio.sleep(min(0.5, 0.01 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5))
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

        async def body(conn: aiosqlite.Connection) -> None:
            await conn.executemany(_INSERT_ORCH, rows)

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

        async def body(conn: aiosqlite.Connection) -> _Fetched | None:
            picked = await conn.execute_fetchall(
                _PICK_AND_LOCK, {"token": token, "until": until, "now": now_ms}
            )
            if not picked:
                return None
            instance = str(next(iter(picked))[0])
            msg_rows = list(await conn.execute_fetchall(_LOCK_MESSAGES, (token, instance, now_ms)))
            info = next(iter(await conn.execute_fetchall(_INSTANCE_INFO, {"i": instance})))
            execution_id = int(info[3]) if info[3] is not None else 0
            base, history_rows = None, []
            if execution_id:
                base, history_rows = await self._history_rows(conn, instance, execution_id)
            return _Fetched(
                instance, msg_rows, int(info[0]), info[1], info[2], execution_id, base, history_rows
            )

        fetched = await self._run(body, write=True)
        return None if fetched is None else self._make_batch(fetched, token, until)

    async def _history_rows(
        self, conn: aiosqlite.Connection, instance: str, execution_id: int
    ) -> tuple[_CachedHistory | None, Rows]:
        """Rows to decode and the cached prefix they continue (None: a full read)."""
        cached = self._cache.get((instance, execution_id))
        if cached is not None:
            last = cached.events[-1].event_id
            rows = list(await conn.execute_fetchall(_HISTORY_FROM, (instance, execution_id, last)))
            ids = [int(r[0]) for r in rows]
            # Another process may only have appended; anything else (a rewritten
            # anchor row, a gap) means the cache is not a prefix, so reload.
            if rows and rows[0][1] == cached.last_raw and ids == list(range(last, last + len(ids))):
                return cached, rows[1:]
        rows = list(await conn.execute_fetchall(_HISTORY_FROM, (instance, execution_id, 0)))
        return None, rows

    def _make_batch(self, f: _Fetched, token: str, until: int) -> OrchestrationBatch:
        # Decoding happens after COMMIT so the write lock is not held for it.
        ids: list[int] = []
        messages: list[OrchestratorItem] = []
        bad_ids: list[int] = []
        for row_id, raw, _ in sorted(f.msg_rows, key=lambda r: int(r[0])):
            try:
                item = work_item_from_json(raw)
            except HistoryDecodeError:
                item = None
            if item is None or isinstance(item, ActivityExecute):
                bad_ids.append(int(row_id))
            else:
                ids.append(int(row_id))
                messages.append(item)
        key = (f.instance, f.execution_id)
        history: tuple[Event, ...] = ()
        history_error: str | None = None
        if f.execution_id:
            try:
                new = tuple(event_from_json(raw) for _, raw in f.history_rows)
            except HistoryDecodeError as exc:
                bad = next(r[0] for r in f.history_rows if _undecodable(r[1]))
                history_error = f"history row {f.instance}/{f.execution_id}/{bad}: {exc}"
                self._cache.drop(key)
            else:
                history = (f.base.events if f.base else ()) + new
                if history:
                    last_raw = f.history_rows[-1][1] if f.history_rows else None
                    anchor = last_raw if last_raw is not None else f.base.last_raw  # type: ignore[union-attr]
                    self._cache.put(key, _CachedHistory(history, str(anchor)))
        return OrchestrationBatch(
            instance=f.instance,
            lock_token=token,
            locked_until_ms=until,
            message_ids=tuple(ids),
            messages=tuple(messages),
            attempt=max((int(r[2]) for r in f.msg_rows), default=1),
            instance_exists=f.name is not None,
            current_execution_id=f.execution_id,
            orchestration_name=f.name,
            orchestration_version=f.version,
            history=history,
            history_error=history_error,
            undecodable_message_ids=tuple(bad_ids),
            next_turn=f.next_turn,
        )

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

        async def body(conn: aiosqlite.Connection) -> None:
            held = await conn.execute_fetchall(
                "DELETE FROM instance_locks WHERE instance_id = ? AND lock_token = ?"
                " AND locked_until_ms > ? RETURNING 1",
                (instance, batch.lock_token, now_ms),
            )
            if not held:
                raise LockLostError(f"lock on {instance!r} expired or was taken over")
            if deleted:
                await conn.executemany("DELETE FROM orchestrator_queue WHERE id = ?", deleted)
            if outcome.orchestration_name is not None:
                await conn.execute(_UPSERT_INSTANCE, params)
            elif history or outcome.status is not None:
                await conn.execute(_BUMP_EXECUTION, params)
            if outcome.orchestration_name is not None or history or outcome.status is not None:
                await conn.execute(_UPSERT_EXECUTION, params)
            if history:
                await conn.executemany(
                    "INSERT INTO history (instance_id, execution_id, event_id, event_type,"
                    " event_data) VALUES (?, ?, ?, ?, ?)",
                    history,
                )
            if outcome.custom_status_changed:
                await conn.execute(
                    "UPDATE instances SET custom_status = ?,"
                    " custom_status_version = custom_status_version + 1 WHERE instance_id = ?",
                    (outcome.custom_status, instance),
                )
            if workers:
                await conn.executemany(_INSERT_WORKER, workers)
            if cancelled:
                await conn.executemany(
                    "DELETE FROM worker_queue WHERE instance_id = ? AND execution_id = ?"
                    " AND activity_id = ?",
                    cancelled,
                )
            if orchestrator:
                await conn.executemany(_INSERT_ORCH, orchestrator)
            if record is not None:
                await conn.execute(
                    "INSERT INTO turns (instance_id, turn, execution_id, timestamp_ms, record)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (instance, record.turn, record.execution_id, record.timestamp_ms,
                     turn_record_to_json(record)),
                )

        await self._run(body, write=True)
        self._cache.extend((instance, execution_id), outcome.delta)

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

        async def body(conn: aiosqlite.Connection) -> bool:
            held = await conn.execute_fetchall(
                "DELETE FROM instance_locks WHERE instance_id = :i AND lock_token = :t RETURNING 1",
                params,
            )
            if not held:
                return False
            await conn.execute(
                "UPDATE orchestrator_queue SET lock_token = NULL,"
                " visible_at_ms = COALESCE(:visible, visible_at_ms),"
                " attempt_count = MAX(attempt_count - :dec, 0)"
                " WHERE instance_id = :i AND lock_token = :t",
                params,
            )
            return True

        return await self._run(body, write=True)

    async def renew_orchestration_lock(
        self, batch: OrchestrationBatch, *, now_ms: int, lock_ms: int
    ) -> bool:
        """Extend a live instance lock to ``now_ms + lock_ms``; False if it is lost."""
        return await self._update_one(
            "UPDATE instance_locks SET locked_until_ms = ? WHERE instance_id = ?"
            " AND lock_token = ? AND locked_until_ms > ? RETURNING 1",
            (now_ms + lock_ms, batch.instance, batch.lock_token, now_ms),
        )

    # -- worker queue -------------------------------------------------------------

    async def fetch_work_item(self, *, now_ms: int, lock_ms: int) -> WorkBatch | None:
        """Lock the lowest-id visible, unlocked (or lock-expired) worker row.

        Rows that do not decode as ``ActivityExecute`` are parked (kept for
        inspection, never fetched again) and the next row is tried.
        """
        token = secrets.token_hex(16)
        params = {"token": token, "until": now_ms + lock_ms, "now": now_ms}

        async def body(conn: aiosqlite.Connection) -> WorkBatch | None:
            while True:
                rows = await conn.execute_fetchall(_FETCH_WORK, params)
                if not rows:
                    return None
                row_id, raw, attempt = next(iter(rows))
                try:
                    item = work_item_from_json(raw)
                except HistoryDecodeError:
                    item = None
                if isinstance(item, ActivityExecute):
                    return WorkBatch(int(row_id), token, now_ms + lock_ms, item, int(attempt))
                await conn.execute(
                    "UPDATE worker_queue SET visible_at_ms = ?, lock_token = NULL,"
                    " locked_until_ms = NULL WHERE id = ?",
                    (PARKED_VISIBLE_AT_MS, row_id),
                )

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

        async def body(conn: aiosqlite.Connection) -> bool:
            gone = await conn.execute_fetchall(
                "DELETE FROM worker_queue WHERE id = ? AND lock_token = ? RETURNING 1",
                (work.id, work.lock_token),
            )
            if not gone:
                return False
            if row is not None:
                await conn.execute(_INSERT_ORCH, row)
            return True

        return await self._run(body, write=True)

    async def abandon_work_item(
        self, work: WorkBatch, *, delay_ms: int | None, now_ms: int
    ) -> bool:
        """Unlock a worker row, visible again now or after ``delay_ms``; False if lost."""
        visible = None if delay_ms is None else now_ms + delay_ms
        return await self._update_one(
            "UPDATE worker_queue SET lock_token = NULL, locked_until_ms = NULL,"
            " visible_at_ms = COALESCE(?, visible_at_ms) WHERE id = ? AND lock_token = ?"
            " RETURNING 1",
            (visible, work.id, work.lock_token),
        )

    async def renew_work_item_lock(self, work: WorkBatch, *, now_ms: int, lock_ms: int) -> bool:
        """Extend a worker row's lock; False if the row is gone or re-locked."""
        return await self._update_one(
            "UPDATE worker_queue SET locked_until_ms = ? WHERE id = ? AND lock_token = ?"
            " RETURNING 1",
            (now_ms + lock_ms, work.id, work.lock_token),
        )

    async def _update_one(self, sql: str, params: tuple[Any, ...]) -> bool:
        async def body(conn: aiosqlite.Connection) -> bool:
            return bool(await conn.execute_fetchall(sql, params))

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
        sqls = [s for q, s in (("orchestrator", _NEXT_ORCH), ("worker", _NEXT_WORK))
                if queue in (None, q)]
        values = [v for v in await self._select_column(" UNION ALL ".join(sqls), ()) if v is not None]
        return min((int(v) for v in values), default=None)

    async def data_version(self) -> int:
        """``PRAGMA data_version``: changes whenever another connection commits."""
        return int((await self._select_column("PRAGMA data_version", ()))[0])

    # -- reads for the client and the debugger -------------------------------------

    async def get_instance(self, instance: str) -> InstanceRow | None:
        """The instance row with its current execution's status, or None."""
        rows = await self._select(_INSTANCE_SELECT + " WHERE i.instance_id = ?", (instance,))
        return InstanceRow(*rows[0]) if rows else None

    async def list_instances(self) -> list[InstanceRow]:
        """Every instance, oldest first."""
        rows = await self._select(_INSTANCE_SELECT + " ORDER BY i.created_at_ms, i.instance_id", ())
        return [InstanceRow(*r) for r in rows]

    async def list_children(self, instance: str) -> list[str]:
        """Ids of the instances whose recorded parent is ``instance``, oldest first."""
        return [
            str(v)
            for v in await self._select_column(
                "SELECT instance_id FROM instances WHERE parent_instance_id = ?"
                " ORDER BY created_at_ms, instance_id",
                (instance,),
            )
        ]

    async def list_executions(self, instance: str) -> list[ExecutionRow]:
        """The instance's executions in order, with their event counts."""
        rows = await self._select(
            "SELECT e.instance_id, e.execution_id, e.status, e.output, e.started_at_ms,"
            " e.completed_at_ms, (SELECT COUNT(*) FROM history AS h WHERE"
            " h.instance_id = e.instance_id AND h.execution_id = e.execution_id)"
            " FROM executions AS e WHERE e.instance_id = ? ORDER BY e.execution_id",
            (instance,),
        )
        return [ExecutionRow(*r) for r in rows]

    async def read_history(self, instance: str, execution_id: int) -> list[Event]:
        """One execution's events in ``event_id`` order (uncached).

        Raises:
            StoreError: A row does not decode.
        """
        rows = await self._select(_HISTORY_FROM, (instance, execution_id, 0))
        try:
            return [event_from_json(raw) for _, raw in rows]
        except HistoryDecodeError as exc:
            raise StoreError(f"history of {instance}/{execution_id}: {exc}") from exc

    async def list_turns(self, instance: str) -> list[TurnRecord]:
        """The instance's journaled turns in turn order.

        Raises:
            StoreError: A record does not decode.
        """
        raws = await self._select_column(
            "SELECT record FROM turns WHERE instance_id = ? ORDER BY turn", (instance,)
        )
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
        rows = await self._select(
            "SELECT q.id, q.instance_id, q.work_item, q.visible_at_ms, q.attempt_count,"
            " l.lock_token IS NOT NULL AND q.lock_token IS l.lock_token"
            " AND (:now IS NULL OR l.locked_until_ms > :now)"
            " FROM orchestrator_queue AS q LEFT JOIN instance_locks AS l"
            " ON l.instance_id = q.instance_id ORDER BY q.id",
            {"now": now_ms},
        )
        return [_queued(r) for r in rows]

    async def pending_work_items(self, *, now_ms: int | None = None) -> list[QueuedMessage]:
        """Every worker-queue row in id order (parked undecodable rows included)."""
        rows = await self._select(
            "SELECT id, instance_id, work_item, visible_at_ms, attempt_count,"
            " locked_until_ms IS NOT NULL AND (:now IS NULL OR locked_until_ms > :now)"
            " FROM worker_queue ORDER BY id",
            {"now": now_ms},
        )
        return [_queued(r) for r in rows]

    async def _select(self, sql: str, params: Any) -> Rows:
        async def body(conn: aiosqlite.Connection) -> Rows:
            return list(await conn.execute_fetchall(sql, params))

        return await self._run(body, write=False)

    async def _select_column(self, sql: str, params: Any) -> list[Any]:
        return [r[0] for r in await self._select(sql, params)]


def _undecodable(raw: str) -> bool:
    try:
        event_from_json(raw)
    except HistoryDecodeError:
        return True
    return False


def _queued(row: Any) -> QueuedMessage:
    row_id, instance, raw, visible, attempts, locked = row
    item: WorkItem | None
    try:
        item = work_item_from_json(raw)
    except HistoryDecodeError:
        item = None
    return QueuedMessage(int(row_id), str(instance), item, str(raw), int(visible), int(attempts),
                         bool(locked))


async def _enable_wal(conn: aiosqlite.Connection) -> None:
    # WAL lets readers (the debugger, other processes' pollers) run beside the
    # writer; NORMAL sync is durable across process crashes, which is what the
    # queues need, and much faster than FULL.
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")


async def _rollback(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # no transaction was open (BEGIN or COMMIT already ended it)
