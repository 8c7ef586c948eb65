"""A deterministic, in-memory runtime: the turn function on a virtual clock.

The simulator drives ``process_turn`` exactly as the SQLite runtime does, but
keeps queues and histories in memory and jumps its clock to the next timer when
idle.  Tests use it to pin down semantics without I/O or timing, and the
debugger uses it for what-if runs (the same code under the other policy).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from durascope.history import (
    ActivityExecute,
    CancelInstance,
    Event,
    ExternalRaised,
    OrchestratorItem,
    QueueMessage,
    StartOrchestration,
    SubOrchestrationPolicy,
    TimerFiredItem,
    TurnRecord,
    target_instance,
)
from durascope.runtime._activities import ActivityContext, activity_poison, run_activity
from durascope.runtime._child_ids import check_root_instance_id
from durascope.runtime._engine import process_turn, retry_backoff_ms
from durascope.runtime._registry import Registry
from durascope.runtime._tasks import encode_payload
from durascope.runtime._turn_types import TurnInput, TurnOutcome


@dataclass
class SimulatedInstance:
    """One instance's state in the simulator."""

    instance_id: str
    orchestration_name: str
    orchestration_version: str | None
    parent_instance_id: str | None
    current_execution_id: int = 1
    executions: dict[int, list[Event]] = field(default_factory=dict)
    statuses: dict[int, str] = field(default_factory=dict)
    outputs: dict[int, str | None] = field(default_factory=dict)
    custom_status: str | None = None

    @property
    def status(self) -> str:
        """Status of the current execution."""
        return self.statuses.get(self.current_execution_id, "Running")

    @property
    def output(self) -> str | None:
        """Output of the current execution."""
        return self.outputs.get(self.current_execution_id)


@dataclass
class _Work:
    """An activity on the simulated worker queue."""

    item: ActivityExecute
    visible_ms: int
    attempts: int = 0


class Simulation:
    """An in-memory runtime on a virtual clock (see the module docstring).

    Args:
        registry: Orchestration and activity code.
        policy: Sub-orchestration policy.
        start_ms: Initial virtual time.
        max_attempts: Poison threshold.
        retry_backoff_ms: First delay before work with no registered code is retried.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        policy: SubOrchestrationPolicy = "fixed",
        start_ms: int = 1_700_000_000_000,
        max_attempts: int = 10,
        retry_backoff_ms: int = 1000,
    ) -> None:
        self.registry = registry
        self.policy: SubOrchestrationPolicy = policy
        self.now_ms = start_ms
        self.max_attempts = max_attempts
        self.retry_backoff_ms = retry_backoff_ms
        self.instances: dict[str, SimulatedInstance] = {}
        self.turns: list[TurnRecord] = []
        self.known_executions: dict[str, int] = {}
        self._seq = itertools.count()
        self._queue: list[tuple[int, int, OrchestratorItem]] = []
        self._attempts: dict[str, int] = {}
        self._worker: list[_Work] = []
        self._turn_numbers: dict[str, int] = {}

    # Client-side operations.

    def start(
        self, instance: str, name: str, input: Any = None, version: str | None = None
    ) -> None:
        """Start a root instance (reserved child ids are rejected under the fixed policy)."""
        if self.policy == "fixed":
            check_root_instance_id(instance)
        self.enqueue(
            StartOrchestration(
                instance=instance, orchestration=name, input=encode_payload(input), version=version
            )
        )

    def raise_event(self, instance: str, name: str, data: Any = None) -> None:
        """Raise a positional external event."""
        self.enqueue(ExternalRaised(instance=instance, name=name, data=encode_payload(data)))

    def enqueue_event(self, instance: str, queue: str, data: Any = None) -> None:
        """Send a mailbox message."""
        self.enqueue(QueueMessage(instance=instance, name=queue, data=encode_payload(data)))

    def cancel(self, instance: str, reason: str = "by_user") -> None:
        """Cancel an instance."""
        self.enqueue(CancelInstance(instance=instance, reason=reason))

    def enqueue(self, item: OrchestratorItem) -> None:
        """Put an item on the orchestrator queue (timers become visible at fire time)."""
        visible = item.fire_at_ms if isinstance(item, TimerFiredItem) else self.now_ms
        self._queue.append((next(self._seq), visible, item))

    # Running.

    async def run(self, *, max_turns: int = 10_000, until_ms: int | None = None) -> None:
        """Process turns and activities until idle (advancing the clock to due timers).

        Args:
            max_turns: Safety bound on orchestration turns.
            until_ms: Do not advance the virtual clock past this time.
        """
        for _ in range(max_turns):
            if await self._step():
                continue
            due = [v for _, v, _ in self._queue] + [w.visible_ms for w in self._worker]
            if not due:
                return
            nxt = min(due)
            if until_ms is not None and nxt > until_ms:
                return
            self.now_ms = max(self.now_ms, nxt)
        raise RuntimeError(f"simulation did not settle within {max_turns} turns")

    async def _step(self) -> bool:
        work = next((w for w in self._worker if w.visible_ms <= self.now_ms), None)
        if work is not None:
            await self._run_work(work)
            return True
        visible = [(s, v, i) for s, v, i in self._queue if v <= self.now_ms]
        if not visible:
            return False
        instance = target_instance(min(visible, key=lambda r: r[0])[2])
        batch = [r for r in visible if target_instance(r[2]) == instance]
        self.run_turn(instance, batch)
        return True

    async def _run_work(self, work: _Work) -> None:
        """Run (or poison, or put back) one activity, as the worker dispatcher does."""
        self._worker.remove(work)
        work.attempts += 1
        item = work.item
        if work.attempts > self.max_attempts:
            self.enqueue(activity_poison(item, work.attempts, self.max_attempts))
            return
        inst = self.instances.get(item.instance)
        ctx = ActivityContext(
            item,
            worker_id="simulator",
            orchestration_name=inst.orchestration_name if inst else "",
            orchestration_version=(inst.orchestration_version or "") if inst else "",
        )
        outcome = await run_activity(self.registry, item, ctx, now_ms=self.now_ms)
        if outcome is None:  # not registered: back on the queue after a backoff
            work.visible_ms = self.now_ms + retry_backoff_ms(work.attempts, self.retry_backoff_ms)
            self._worker.append(work)
            return
        self.enqueue(outcome)

    def run_turn(
        self, instance: str, batch: list[tuple[int, int, OrchestratorItem]]
    ) -> TurnOutcome:
        """Run one turn for ``instance`` over ``batch`` and apply its outcome."""
        state = self.instances.get(instance)
        attempt = self._attempts.get(instance, 0) + 1
        current = state.current_execution_id if state else 0
        history = tuple(state.executions.get(current, [])) if state else ()
        fallback = None
        if state and history:
            parent = state.parent_instance_id
            if parent and parent in self.instances:
                fallback = self.instances[parent].current_execution_id
        outcome = process_turn(
            TurnInput(
                instance=instance,
                current_execution_id=current,
                history=history,
                messages=tuple(i for _, _, i in batch),
                now_ms=self.now_ms,
                attempt=attempt,
                max_attempts=self.max_attempts,
                policy=self.policy,
                known_executions=dict(self.known_executions),
                parent_execution_fallback=fallback,
                retry_backoff_ms=self.retry_backoff_ms,
            ),
            self.registry,
        )
        if outcome.abandon_delay_ms is not None:
            self._attempts[instance] = attempt
            ids = {s for s, _, _ in batch}
            self._queue = [
                (s, self.now_ms + outcome.abandon_delay_ms if s in ids else v, i)
                for s, v, i in self._queue
            ]
            return outcome
        self._attempts.pop(instance, None)
        ids = {s for s, _, _ in batch}
        self._queue = [r for r in self._queue if r[0] not in ids]
        self._apply(outcome)
        number = self._turn_numbers.get(instance, 0) + 1
        self._turn_numbers[instance] = number
        self.turns.append(
            outcome.record(
                turn=number, timestamp_ms=self.now_ms, policy=self.policy, attempt=attempt
            )
        )
        return outcome

    def _apply(self, outcome: TurnOutcome) -> None:
        state = self.instances.get(outcome.instance)
        if state is None and outcome.orchestration_name is not None:
            state = SimulatedInstance(
                instance_id=outcome.instance,
                orchestration_name=outcome.orchestration_name,
                orchestration_version=outcome.orchestration_version,
                parent_instance_id=outcome.parent_instance,
                current_execution_id=outcome.execution_id,
            )
            self.instances[outcome.instance] = state
        if state is not None:
            state.current_execution_id = max(state.current_execution_id, outcome.execution_id)
            state.executions.setdefault(outcome.execution_id, []).extend(outcome.delta)
            if outcome.status is not None:
                state.statuses[outcome.execution_id] = outcome.status
                if outcome.status != "Running":
                    state.outputs[outcome.execution_id] = outcome.output
            if outcome.custom_status_changed:
                state.custom_status = outcome.custom_status
        self.known_executions.update(outcome.known_executions_update)
        # Lock stealing: cancelled activities never report back.
        cancelled = set(outcome.cancelled_activities)
        self._worker = [
            w
            for w in self._worker
            if not (
                w.item.instance == outcome.instance
                and w.item.execution_id == outcome.execution_id
                and w.item.id in cancelled
            )
        ]
        self._worker.extend(_Work(item, self.now_ms) for item in outcome.worker_items)
        for item in outcome.orchestrator_items:
            self.enqueue(item)

    # Reading.

    def history(self, instance: str, execution_id: int | None = None) -> list[Event]:
        """Events of one execution (the current one by default)."""
        state = self.instances[instance]
        return list(state.executions.get(execution_id or state.current_execution_id, []))

    def pending(self) -> list[OrchestratorItem]:
        """Orchestrator items still queued (timers not yet due, stuck messages)."""
        return [i for _, _, i in sorted(self._queue)]
