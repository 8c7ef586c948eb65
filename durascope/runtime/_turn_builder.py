"""Building blocks of one dispatcher turn: state, event appends, and the side paths.

``_engine.Turn`` runs the main flow of a turn; this base class holds what the
flow builds with (the delta, verdicts, the outcome) and the paths that end a
turn early or at the edges: terminal fast-ack with the fail-fast for colliding
child starts, poison, undecodable histories, cancellation breadcrumbs, and
notifying the parent.
"""

from __future__ import annotations

from typing import Any

from durascope.history import (
    ActivityCancelRequested,
    CancelInstance,
    ContinueAsNew,
    ErrorDetails,
    Event,
    ExternalSubscribedCancelled,
    MessageVerdict,
    OrchestrationFailed,
    OrchestrationStarted,
    OrchestratorItem,
    PoisonError,
    PoisonFailedDeserialization,
    PoisonOrchestration,
    QueueEventDelivered,
    QueueSubscriptionCancelled,
    StartOrchestration,
    SubOrchCompleted,
    SubOrchestrationCancelRequested,
    SubOrchestrationScheduled,
    SubOrchFailed,
    application_error,
    display_message,
    is_terminal,
    work_item_to_json,
)
from durascope.runtime._child_ids import full_child_id
from durascope.runtime._registry import OrchestrationResolver
from durascope.runtime._replayer import ReplayResult
from durascope.runtime._turn_types import ENGINE_VERSION, TurnInput, TurnOutcome

POISON_HISTORY_EVENT_ID = 99999
"""duroxide's sentinel event id for a poison failure of an undecodable history."""
TERMINAL_COLLISION = "sub-orchestration instance id '{}' already exists and is terminal"


class TurnBuilder:
    """The state of a turn under construction and the operations on it."""

    def __init__(self, inp: TurnInput, code: OrchestrationResolver) -> None:
        self.inp = inp
        self.code = code
        self.verdicts: list[MessageVerdict | None] = [None] * len(inp.messages)
        self.delta: list[Event] = []
        self.execution_id = inp.current_execution_id
        self.history: tuple[Event, ...] = inp.history
        self.next_id = next_event_id(inp.history)

    # Small builders.

    def _env(self, event_id: int, source: int | None = None) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "source_event_id": source,
            "instance_id": self.inp.instance,
            "execution_id": self.execution_id,
            "timestamp_ms": self.inp.now_ms,
            "duroxide_version": ENGINE_VERSION,
        }

    def _append(self, cls: type[Any], source: int | None = None, **fields: Any) -> Event:
        event: Event = cls(**self._env(self.next_id, source), **fields)
        self.next_id += 1
        self.delta.append(event)
        return event

    def _verdict(self, index: int, verdict: str, reason: str, event_id: int | None = None) -> None:
        self.verdicts[index] = MessageVerdict(
            message=self.inp.messages[index], verdict=verdict, reason=reason, event_id=event_id
        )  # type: ignore[arg-type]

    def _all_verdicts(self, verdict: str, reason: str) -> None:
        for i in range(len(self.inp.messages)):
            if self.verdicts[i] is None:
                self._verdict(i, verdict, reason)

    def _outcome(self, **kw: Any) -> TurnOutcome:
        return TurnOutcome(
            instance=self.inp.instance,
            execution_id=self.execution_id,
            verdicts=tuple(v for v in self.verdicts if v is not None),
            delta=tuple(self.delta),
            **kw,
        )

    def _new_started(
        self,
        start: Any,
        previous: OrchestrationStarted | None,
        name: str,
        version: str,
        input_: str,
    ) -> OrchestrationStarted:
        policy = self.inp.policy
        carry: tuple[tuple[str, str], ...] = ()
        initial_status: str | None = None
        if isinstance(start, ContinueAsNew):
            carry = start.carry_forward_events
            initial_status = start.initial_custom_status
            # The child link survives continue-as-new (duroxide 0.1.32 keeps it too).
            parent_instance = previous.parent_instance if previous else None
            parent_id = previous.parent_id if previous else None
            parent_exec = previous.parent_execution_id if previous else None
        else:
            parent_instance, parent_id = start.parent_instance, start.parent_id
            parent_exec = start.parent_execution_id
        started = self._append(
            OrchestrationStarted,
            name=name,
            version=version,
            input=input_,
            parent_instance=parent_instance,
            parent_id=parent_id,
            carry_forward_events=carry or None,
            initial_custom_status=initial_status,
            parent_execution_id=parent_exec if policy == "fixed" else None,
        )
        for qname, data in carry:
            self._append(QueueEventDelivered, name=qname, data=data)
        assert isinstance(started, OrchestrationStarted)
        return started

    def _dropped_future_breadcrumbs(self, replay: ReplayResult) -> list[OrchestratorItem]:
        order = {"activity": 0, "suborch": 1, "external": 2, "queue": 3}
        leaves = sorted(
            (
                leaf
                for leaf in replay.dropped
                if leaf.kind in order
                and leaf.schedule_id is not None
                and (leaf.kind, leaf.schedule_id) not in replay.breadcrumbed
            ),
            key=lambda leaf: (order[leaf.kind], leaf.schedule_id or 0),
        )
        cancels: list[OrchestratorItem] = []
        full = {e.event_id: e for e in list(self.history) + self.delta}
        for leaf in leaves:
            sid = leaf.schedule_id
            if leaf.kind == "activity":
                self._append(ActivityCancelRequested, sid, reason="dropped_future")
            elif leaf.kind == "suborch":
                self._append(SubOrchestrationCancelRequested, sid, reason="dropped_future")
                scheduled = full.get(sid or 0)
                assert isinstance(scheduled, SubOrchestrationScheduled)
                cancels.append(
                    CancelInstance(
                        instance=full_child_id(self.inp.instance, scheduled.instance),
                        reason="parent dropped sub-orchestration future",
                    )
                )
            elif leaf.kind == "external":
                self._append(ExternalSubscribedCancelled, sid, reason="dropped_future")
            else:
                self._append(QueueSubscriptionCancelled, sid, reason="dropped_future")
        return cancels

    def _subscription_breadcrumbs(self, replay: ReplayResult, *, with_dropped: bool) -> None:
        """``*Cancelled{orchestration_terminal}`` for the subscriptions the execution ends with.

        With ``with_dropped`` (a continue-as-new turn), waits dropped in this very turn
        count among them: duroxide writes no ``dropped_future`` breadcrumb there, it
        cancels them as the execution ends (seen in its histories; the differential
        scenario ``race_then_continue_as_new``).
        """
        leaves = list(replay.open_subscriptions)
        if with_dropped:
            leaves += [
                leaf
                for leaf in replay.dropped
                if leaf.kind in ("external", "queue")
                and leaf.schedule_id is not None
                and (leaf.kind, leaf.schedule_id) not in replay.breadcrumbed
            ]
            leaves.sort(key=lambda leaf: leaf.schedule_id or 0)
        for leaf in leaves:
            if leaf.kind == "external":
                self._append(
                    ExternalSubscribedCancelled, leaf.schedule_id, reason="orchestration_terminal"
                )
            else:
                self._append(
                    QueueSubscriptionCancelled, leaf.schedule_id, reason="orchestration_terminal"
                )

    def _terminal_activity_cancels(self, result: str) -> list[int]:
        full = list(self.history) + self.delta
        closed = {
            e.source_event_id
            for e in full
            if e.type in ("ActivityCompleted", "ActivityFailed", "ActivityCancelRequested")
        }
        inflight = [
            e.event_id for e in full if e.type == "ActivityScheduled" and e.event_id not in closed
        ]
        suffix = {
            "completed": "completed",
            "continued_as_new": "continued_as_new",
        }.get(result, "failed")
        for sid in inflight:
            self._append(ActivityCancelRequested, sid, reason=f"orchestration_terminal_{suffix}")
        return inflight

    def _cancel_children(self, started: OrchestrationStarted) -> list[OrchestratorItem]:
        full = list(self.history) + self.delta
        closed = {
            e.source_event_id
            for e in full
            if e.type
            in (
                "SubOrchestrationCompleted",
                "SubOrchestrationFailed",
                "SubOrchestrationCancelRequested",
            )
        }
        return [
            CancelInstance(
                instance=full_child_id(self.inp.instance, e.instance), reason="parent canceled"
            )
            for e in full
            if isinstance(e, SubOrchestrationScheduled) and e.event_id not in closed
        ]

    def _parent_execution(self, started: OrchestrationStarted) -> int:
        parent = started.parent_instance or ""
        if self.inp.policy == "legacy":
            # Pre-fix: "whatever this process believes is current", else 1.
            return self.inp.known_executions.get(parent, 1)
        if started.parent_execution_id is not None:
            return started.parent_execution_id
        return self.inp.parent_execution_fallback or 1

    def _notify_parent(
        self,
        started: OrchestrationStarted,
        result: str,
        output: str | None,
        details: ErrorDetails | None,
    ) -> OrchestratorItem | None:
        if started.parent_instance is None or started.parent_id is None:
            return None
        if result == "continued_as_new":
            return None
        parent_exec = self._parent_execution(started)
        if result == "completed":
            return SubOrchCompleted(
                parent_instance=started.parent_instance,
                parent_execution_id=parent_exec,
                parent_id=started.parent_id,
                result=output or "null",
            )
        assert details is not None
        return SubOrchFailed(
            parent_instance=started.parent_instance,
            parent_execution_id=parent_exec,
            parent_id=started.parent_id,
            details=details,
        )

    def _fast_ack(self, started: OrchestrationStarted | None) -> TurnOutcome:
        """Duroxide's terminal fast-ack, plus the fix's fail-fast for foreign starts."""
        notifications: list[OrchestratorItem] = []
        for i, msg in enumerate(self.inp.messages):
            if (
                self.inp.policy == "fixed"
                and isinstance(msg, StartOrchestration)
                and msg.parent_instance is not None
                and msg.parent_id is not None
            ):
                same = started is not None and (
                    started.parent_instance,
                    started.parent_id,
                    started.parent_execution_id,
                ) == (msg.parent_instance, msg.parent_id, msg.parent_execution_id)
                if not same:
                    notifications.append(
                        SubOrchFailed(
                            parent_instance=msg.parent_instance,
                            parent_execution_id=msg.parent_execution_id or 1,
                            parent_id=msg.parent_id,
                            details=application_error(
                                "OrchestrationFailed", TERMINAL_COLLISION.format(msg.instance)
                            ),
                        )
                    )
                    self._verdict(
                        i,
                        "discarded",
                        "instance terminal: start from another parent; the parent is failed fast",
                    )
                    continue
                self._verdict(i, "discarded", "instance terminal: redelivered start of this child")
                continue
            self._verdict(i, "discarded", "instance terminal")
        return self._outcome(result="discarded", orchestrator_items=tuple(notifications))

    def _poison(self, start: Any, started: OrchestrationStarted | None) -> TurnOutcome:
        inp = self.inp
        if started is None:
            if start is None:
                self._all_verdicts("discarded", "instance does not exist")
                return self._outcome(result="discarded")
            self.execution_id = max(inp.current_execution_id, 1)
            started = self._new_started(
                start, None, start.orchestration, start.version or "", start.input
            )
        elif any(is_terminal(e) for e in self.history):
            return self._fast_ack(started)
        batch = "[" + ",".join(work_item_to_json(m) for m in inp.messages) + "]"
        details = PoisonError(
            attempt_count=inp.attempt,
            max_attempts=inp.max_attempts,
            message_type=PoisonOrchestration(instance=inp.instance, execution_id=self.execution_id),
            message=batch,
        )
        self._append(OrchestrationFailed, details=details)
        self._all_verdicts(
            "aborted", f"poison: fetched {inp.attempt} times (max {inp.max_attempts})"
        )
        notify = self._notify_parent(started, "failed", None, details)
        return self._outcome(
            result="poisoned",
            status="Failed",
            output=display_message(details),
            orchestration_name=started.name,
            orchestration_version=started.version,
            parent_instance=started.parent_instance,
            orchestrator_items=(notify,) if notify else (),
            error=display_message(details),
        )

    def _history_error(self, started: OrchestrationStarted | None) -> TurnOutcome:
        inp = self.inp
        assert inp.history_error is not None
        if any(is_terminal(e) for e in self.history):
            # Already ended (e.g. by an earlier poison of this very history): a late
            # message is discarded like any other; poisoning again would loop.
            return self._fast_ack(started)
        if inp.attempt <= inp.max_attempts:
            self._all_verdicts("aborted", f"history could not be decoded: {inp.history_error}")
            return self._outcome(
                abandon_delay_ms=inp.retry_backoff_ms, abandon_reason=inp.history_error
            )
        details = PoisonError(
            attempt_count=inp.attempt,
            max_attempts=inp.max_attempts,
            message_type=PoisonFailedDeserialization(
                instance=inp.instance, execution_id=self.execution_id, error=inp.history_error
            ),
            message=inp.history_error,
        )
        self.delta.append(
            OrchestrationFailed(**self._env(POISON_HISTORY_EVENT_ID), details=details)
        )
        self._all_verdicts("aborted", "poison: history could not be decoded")
        return self._outcome(
            result="poisoned",
            status="Failed",
            output=display_message(details),
            error=inp.history_error,
        )


def next_event_id(history: tuple[Event, ...]) -> int:
    return max((e.event_id for e in history), default=0) + 1


def first_started(history: tuple[Event, ...]) -> OrchestrationStarted | None:
    return next((e for e in history if isinstance(e, OrchestrationStarted)), None)
