"""The inputs and outputs of one orchestration dispatcher turn.

The turn function (``durascope.runtime._engine.process_turn``) is pure: it
takes a :class:`TurnInput` (what the store fetched) and the user's code, and
returns a :class:`TurnOutcome` (what the store must commit in one ack).  The
runtime's dispatcher and the debugger's replayer both call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from durascope.history import (
    ActivityExecute,
    ContinueAsNew,
    Event,
    MessageVerdict,
    OrchestratorItem,
    SentWorkItem,
    StartOrchestration,
    SubOrchestrationPolicy,
    TurnRecord,
    TurnResult,
    target_execution,
    target_instance,
)

ExecutionStatus = Literal["Running", "Completed", "Failed", "ContinuedAsNew"]

ENGINE_VERSION = "0.1.32+durascope.0.1.0"
"""Written to every event's ``duroxide_version``: duroxide semantics 0.1.32, by durascope."""


@dataclass(frozen=True)
class TurnInput:
    """What the dispatcher fetched for one instance.

    Attributes:
        instance: The instance id.
        current_execution_id: ``instances.current_execution_id``, 0 if no row exists.
        history: The current execution's persisted events, in ``event_id`` order.
        messages: The fetched batch, in queue order.
        now_ms: Wall clock for the turn (event timestamps, timer fire times).
        attempt: How many times this batch has been fetched (1 on first delivery).
        max_attempts: Poison threshold: a batch fetched more often fails the instance.
        policy: ``fixed`` (default) or ``legacy`` sub-orchestration behaviour.
        known_executions: Legacy policy only: the process-local map of instance ->
            current execution that pre-fix duroxide uses to address child completions.
        parent_execution_fallback: Fixed policy: the parent's current execution read
            from the store, used only when a child's ``OrchestrationStarted`` carries no
            ``parent_execution_id`` (histories written before the fix).
        instance_name: ``instances.orchestration_name`` when the row exists.
        instance_version: ``instances.orchestration_version`` when the row exists.
        history_error: Set when the stored history could not be decoded.
        retry_backoff_ms: First delay before a batch that could not be processed is
            retried (doubling per attempt, up to a minute); duroxide uses 1 s.
    """

    instance: str
    current_execution_id: int
    history: tuple[Event, ...]
    messages: tuple[OrchestratorItem, ...]
    now_ms: int
    attempt: int = 1
    max_attempts: int = 10
    policy: SubOrchestrationPolicy = "fixed"
    known_executions: Mapping[str, int] = field(default_factory=dict)
    parent_execution_fallback: int | None = None
    instance_name: str | None = None
    instance_version: str | None = None
    history_error: str | None = None
    retry_backoff_ms: int = 1000


@dataclass(frozen=True)
class TurnOutcome:
    """What one turn decided; the store commits all of it atomically.

    Attributes:
        instance: The instance id.
        execution_id: The execution to ack against (``current+1`` for a CAN start).
        verdicts: One per fetched message, in batch order.
        delta: New history events for ``execution_id``.
        worker_items: Activities to enqueue on the worker queue.
        orchestrator_items: Items to enqueue on the orchestrator queue (timers carry
            their own visibility in ``fire_at_ms``).
        cancelled_activities: Schedule event ids of ``execution_id``'s activities whose
            worker rows must be deleted (lock stealing).
        result: How the turn ended.
        status: The execution's status after the turn.
        output: Output / error display / next input for a terminal status.
        orchestration_name: For creating or updating the instance row.
        orchestration_version: Likewise.
        parent_instance: ``instances.parent_instance_id`` (set only at creation).
        custom_status: The last custom status written in the delta, if any.
        custom_status_changed: Whether ``custom_status`` must be written.
        abandon_delay_ms: When not None, nothing is committed: the batch is abandoned
            and becomes visible again after this delay (e.g. unregistered code).
        abandon_reason: Why the batch was abandoned.
        known_executions_update: Legacy policy: entries for the process-local map.
        error: A one-line description of a nondeterminism or system failure.
    """

    instance: str
    execution_id: int
    verdicts: tuple[MessageVerdict, ...]
    delta: tuple[Event, ...] = ()
    worker_items: tuple[ActivityExecute, ...] = ()
    orchestrator_items: tuple[OrchestratorItem, ...] = ()
    cancelled_activities: tuple[int, ...] = ()
    result: TurnResult = "continue"
    status: ExecutionStatus | None = None
    output: str | None = None
    orchestration_name: str | None = None
    orchestration_version: str | None = None
    parent_instance: str | None = None
    custom_status: str | None = None
    custom_status_changed: bool = False
    abandon_delay_ms: int | None = None
    abandon_reason: str | None = None
    known_executions_update: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None

    def sent(self) -> tuple[SentWorkItem, ...]:
        """Every work item this turn sends, with its queue, target instance and execution."""
        out = [
            SentWorkItem(
                item=w,
                queue="worker",
                target_instance=w.instance,
                target_execution=w.execution_id,
            )
            for w in self.worker_items
        ]
        out.extend(
            SentWorkItem(
                item=o,
                queue="orchestrator",
                target_instance=target_instance(o),
                target_execution=self._addressed_execution(o),
            )
            for o in self.orchestrator_items
        )
        return tuple(out)

    def _addressed_execution(self, item: OrchestratorItem) -> int | None:
        """The execution the runtime applies ``item`` to (see ``SentWorkItem``)."""
        if isinstance(item, StartOrchestration):
            return 1
        if isinstance(item, ContinueAsNew):
            return self.execution_id + 1
        return target_execution(item)

    def record(
        self,
        *,
        turn: int,
        timestamp_ms: int,
        policy: SubOrchestrationPolicy,
        attempt: int = 1,
        worker_id: str | None = None,
    ) -> TurnRecord:
        """The journal entry for this turn."""
        return TurnRecord(
            instance=self.instance,
            execution_id=self.execution_id,
            turn=turn,
            timestamp_ms=timestamp_ms,
            policy=policy,
            attempt=attempt,
            messages=self.verdicts,
            delta_event_ids=tuple(e.event_id for e in self.delta),
            sent=self.sent(),
            cancelled_activities=self.cancelled_activities,
            result=self.result,
            output=self.output,
            custom_status=self.custom_status if self.custom_status_changed else None,
            worker_id=worker_id,
        )
