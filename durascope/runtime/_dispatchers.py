"""The orchestration, worker and timer dispatchers of a runtime process.

Each dispatcher is a small loop over the store.  Idle loops wait on an
in-process wake-up event with a short, growing timeout (other processes'
commits are seen on the next poll); the timer dispatcher sleeps until the next
visibility time so due timers are picked up on time without busy polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from durascope.history import ActivityExecute, OrchestrationStarted, SubOrchestrationPolicy
from durascope.runtime._activities import (
    ActivityContext,
    activity_poison,
    run_activity,
)
from durascope.runtime._engine import process_turn, retry_backoff_ms
from durascope.runtime._registry import Registry
from durascope.runtime._store import SqliteStore
from durascope.runtime._store_types import (
    LockLostError,
    OrchestrationBatch,
    StoreError,
    WorkBatch,
)
from durascope.runtime._tag_filter import TagFilter
from durascope.runtime._turn_types import TurnInput, TurnOutcome

_log = logging.getLogger("durascope.runtime")
_DESCRIPTOR_CACHE_SIZE = 4096
"""(instance, execution) -> orchestration name and version entries kept for activities."""
T = TypeVar("T")


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class RuntimeOptions:
    """Tuning of one runtime process.

    Attributes:
        orchestration_concurrency: Orchestration turns processed at once.
        worker_concurrency: Activities run at once.
        orchestration_lock_ms: Instance lock lease; an expired lease may be stolen.
        worker_lock_ms: Activity lease, renewed while the activity runs.
        max_attempts: A batch or activity fetched more often than this is poisoned.
        policy: ``fixed`` (default) or ``legacy`` sub-orchestration behaviour.
        idle_poll_max_ms: Longest wait before an idle dispatcher polls the store again.
        worker_id: Name written to turn records.
        worker_tag_filter: Which activities this process's workers take: untagged
            ones only by default, as in duroxide (``TagFilter(kind="none")`` runs no
            worker at all).
        retry_backoff_ms: First delay before work whose code is not registered in this
            process (an orchestration batch or an activity) is fetched again, doubling
            per attempt up to 64 times, at most 60 s (duroxide's unregistered backoff).
    """

    orchestration_concurrency: int = 2
    worker_concurrency: int = 2
    orchestration_lock_ms: int = 30_000
    worker_lock_ms: int = 30_000
    max_attempts: int = 10
    policy: SubOrchestrationPolicy = "fixed"
    idle_poll_max_ms: int = 50
    worker_id: str = "durascope"
    worker_tag_filter: TagFilter = field(default_factory=TagFilter)
    retry_backoff_ms: int = 1000


class Wakeup:
    """An in-process signal that there may be work, with adaptive idle backoff."""

    def __init__(self, max_wait_ms: int) -> None:
        self._event = asyncio.Event()
        self._max_wait = max_wait_ms / 1000

    def set(self) -> None:
        """Wake every waiter."""
        self._event.set()

    async def wait(self, idle_rounds: int) -> None:
        """Wait for a signal, at most a few ms on the first idle rounds, then longer."""
        # Cap the exponent: 2**1024 ms no longer converts to a float (about a minute
        # of idleness at the default 50 ms ceiling), which killed idle dispatchers.
        timeout = min(0.001 * 2 ** min(idle_rounds, 20), self._max_wait)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


class TurnObserver(Protocol):
    """Called after every committed turn (the client uses it to wake waiters)."""

    def __call__(self, outcome: TurnOutcome) -> None: ...


class Dispatchers:
    """Runs the three dispatcher kinds of one runtime process over a store."""

    def __init__(
        self,
        store: SqliteStore,
        registry: Registry,
        options: RuntimeOptions,
        *,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.options = options
        self.orchestrations = Wakeup(options.idle_poll_max_ms)
        self.workers = Wakeup(options.idle_poll_max_ms)
        self.timers = asyncio.Event()
        self.observers: list[TurnObserver] = []
        self.known_executions: dict[str, int] = {}
        self._client_factory = client_factory
        self._descriptors: dict[tuple[str, int], tuple[str, str]] = {}
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._busy = 0

    def start(self) -> None:
        """Start the dispatcher tasks on the running loop."""
        opts = self.options
        for n in range(opts.orchestration_concurrency):
            self._tasks.append(asyncio.create_task(self._orchestration_loop(), name=f"orch-{n}"))
        workers = opts.worker_concurrency if opts.worker_tag_filter.kind != "none" else 0
        for n in range(workers):
            self._tasks.append(asyncio.create_task(self._worker_loop(), name=f"work-{n}"))
        self._tasks.append(asyncio.create_task(self._timer_loop(), name="timers"))

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Graceful shutdown: no new fetches; wait for turns and activities in flight."""
        self._stopping.set()
        self.orchestrations.set()
        self.workers.set()
        self.timers.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()

    # Orchestrations.

    async def _orchestration_loop(self) -> None:
        await self._loop(
            "an orchestration batch",
            lambda: self.store.fetch_orchestration_batch(
                now_ms=now_ms(), lock_ms=self.options.orchestration_lock_ms
            ),
            self.process_batch,
            self.orchestrations,
        )

    async def _loop(
        self,
        what: str,
        fetch: Callable[[], Awaitable[T | None]],
        process: Callable[[T], Awaitable[object]],
        wakeup: Wakeup,
    ) -> None:
        """Fetch and process until stopped; when idle, wait for a wake-up (growing backoff)."""
        idle = 0
        while not self._stopping.is_set():
            try:
                fetched = await fetch()
            except StoreError as exc:
                _log.warning("fetching %s failed: %s", what, exc)
                fetched = None
            if fetched is None:
                await wakeup.wait(idle)
                idle += 1
                continue
            idle = 0
            try:
                await process(fetched)
            except StoreError as exc:
                # Busy past the store's retries, or a refused write: the lease runs
                # out and the work is fetched again; the dispatcher must live on.
                _log.warning("processing %s failed: %s", what, exc)
            except Exception:  # a bug must not kill the dispatcher either
                _log.exception("processing %s raised", what)

    async def process_batch(self, batch: OrchestrationBatch) -> TurnOutcome | None:
        """Run one turn over a fetched batch and commit (or abandon) it."""
        opts = self.options
        try:
            fallback = await self._parent_execution_fallback(batch)
            outcome = process_turn(
                TurnInput(
                    instance=batch.instance,
                    current_execution_id=batch.current_execution_id,
                    history=batch.history,
                    messages=batch.messages,
                    now_ms=now_ms(),
                    attempt=batch.attempt,
                    max_attempts=opts.max_attempts,
                    policy=opts.policy,
                    known_executions=self.known_executions,
                    parent_execution_fallback=fallback,
                    instance_name=batch.orchestration_name,
                    instance_version=batch.orchestration_version,
                    history_error=batch.history_error,
                    retry_backoff_ms=opts.retry_backoff_ms,
                ),
                self.registry,
            )
        except Exception:  # a bug must not kill the dispatcher: retry, then poison
            _log.exception("turn for %s raised; abandoning the batch", batch.instance)
            await self.store.abandon_orchestration_batch(
                batch,
                delay_ms=retry_backoff_ms(batch.attempt, opts.retry_backoff_ms),
                now_ms=now_ms(),
            )
            return None
        if outcome.abandon_delay_ms is not None:
            _log.warning("%s: %s", batch.instance, outcome.abandon_reason)
            await self.store.abandon_orchestration_batch(
                batch, delay_ms=outcome.abandon_delay_ms, now_ms=now_ms()
            )
            return outcome
        record = outcome.record(
            turn=batch.next_turn,
            timestamp_ms=now_ms(),
            policy=opts.policy,
            attempt=batch.attempt,
            worker_id=opts.worker_id,
        )
        try:
            await self.store.ack_orchestration_batch(batch, outcome, record, now_ms=now_ms())
        except LockLostError as exc:
            _log.warning("%s: %s; another process will redo the turn", batch.instance, exc)
            return None
        self.known_executions.update(outcome.known_executions_update)
        if outcome.worker_items:
            self.workers.set()
        if outcome.orchestrator_items:
            self.orchestrations.set()
            self.timers.set()
        for observer in self.observers:
            observer(outcome)
        return outcome

    async def _parent_execution_fallback(self, batch: OrchestrationBatch) -> int | None:
        # Only histories written before the fix lack the stamp; read the parent then.
        started = next((e for e in batch.history if isinstance(e, OrchestrationStarted)), None)
        if started is None or started.parent_instance is None:
            return None
        if started.parent_execution_id is not None:
            return None
        parent = await self.store.get_instance(started.parent_instance)
        return parent.current_execution_id if parent is not None else None

    # Activities.

    async def _worker_loop(self) -> None:
        await self._loop(
            "a work item",
            lambda: self.store.fetch_work_item(
                now_ms=now_ms(),
                lock_ms=self.options.worker_lock_ms,
                tag_filter=self.options.worker_tag_filter,
            ),
            self._run_work,
            self.workers,
        )

    async def _run_work(self, work: WorkBatch) -> None:
        item = work.item
        opts = self.options
        if work.attempt > opts.max_attempts:
            completion: Any = activity_poison(item, work.attempt, opts.max_attempts)
        else:
            name, version = await self._orchestration_of(item)
            ctx = ActivityContext(
                item,
                worker_id=opts.worker_id,
                orchestration_name=name,
                orchestration_version=version,
                client=self._client_factory() if self._client_factory else None,
            )
            renewer = asyncio.create_task(self._renew(work, ctx))
            try:
                completion = await run_activity(self.registry, item, ctx, in_thread=True)
            finally:
                renewer.cancel()
                await asyncio.gather(renewer, return_exceptions=True)
        if completion is None:  # no code for it in this process
            await self._abandon_unregistered(work)
            return
        try:
            acked = await self.store.ack_work_item(work, completion, now_ms=now_ms())
        except StoreError as exc:
            _log.warning("acking activity %s#%s failed: %s", item.name, item.id, exc)
            return
        if acked:
            self.orchestrations.set()
        else:
            _log.info(
                "activity %s#%s of %s: lease lost or cancelled; result dropped",
                item.name,
                item.id,
                item.instance,
            )

    async def _orchestration_of(self, item: ActivityExecute) -> tuple[str, str]:
        """Name and version of the orchestration an activity belongs to (cached).

        As duroxide, from the instance row; ``unknown`` when it cannot be read.
        """
        key = (item.instance, item.execution_id)
        known = self._descriptors.get(key)
        if known is not None:
            return known
        try:
            row = await self.store.get_instance(item.instance)
        except StoreError:
            row = None
        if row is None:
            return "unknown", "unknown"
        if len(self._descriptors) >= _DESCRIPTOR_CACHE_SIZE:
            self._descriptors.clear()
        known = self._descriptors[key] = (row.orchestration_name, row.orchestration_version or "")
        return known

    async def _abandon_unregistered(self, work: WorkBatch) -> None:
        """Put back an activity this process has no code for, visible again after a backoff."""
        opts = self.options
        delay = retry_backoff_ms(work.attempt, opts.retry_backoff_ms)
        _log.warning(
            "activity %s#%s of %s is not registered; retry in %s ms (poisoned after %s attempts)",
            work.item.name,
            work.item.id,
            work.item.instance,
            delay,
            opts.max_attempts,
        )
        try:
            await self.store.abandon_work_item(work, delay_ms=delay, now_ms=now_ms())
        except StoreError as exc:  # the lease runs out and the item is fetched again
            _log.warning("abandoning activity %s#%s failed: %s", work.item.name, work.item.id, exc)

    async def _renew(self, work: WorkBatch, ctx: ActivityContext) -> None:
        interval = self.options.worker_lock_ms / 2000
        while True:
            await asyncio.sleep(interval)
            ok = await self.store.renew_work_item_lock(
                work, now_ms=now_ms(), lock_ms=self.options.worker_lock_ms
            )
            if not ok:
                ctx.cancelled = True
                return

    # Timers.

    async def _timer_loop(self) -> None:
        """Wake the orchestration dispatchers when the next timer comes due."""
        max_sleep = self.options.idle_poll_max_ms * 20 / 1000
        while not self._stopping.is_set():
            try:
                due = await self.store.next_visible_at_ms()
            except StoreError:
                due = None
            delay = max_sleep if due is None else max(0.0, (due - now_ms()) / 1000)
            self.timers.clear()
            if delay <= 0:
                self.orchestrations.set()
                self.workers.set()
                delay = self.options.idle_poll_max_ms / 1000
            try:
                await asyncio.wait_for(self.timers.wait(), min(delay, max_sleep))
            except TimeoutError:
                self.orchestrations.set()
