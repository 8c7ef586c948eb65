"""The timeline of an instance: its dispatcher turns across every execution.

Durascope stores journal each turn (captured).  For duroxide stores and
bundles without a journal, turns are reconstructed from history (inferred): a
turn starts where message-derived events (start, completions, arrivals,
cancellation) follow action-derived ones (schedules, status, breadcrumbs,
terminal events), or where the turn timestamp changes.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Literal

from durascope.history import (
    ActivityCompleted,
    ActivityCompletedItem,
    ActivityExecute,
    ActivityFailed,
    ActivityFailedItem,
    ActivityScheduled,
    CancelInstance,
    ContinueAsNew,
    Event,
    ExternalEvent,
    ExternalRaised,
    MessageVerdict,
    OrchestrationCancelRequested,
    OrchestrationChained,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
    QueueEventDelivered,
    QueueMessage,
    SentWorkItem,
    StartOrchestration,
    SubOrchCompleted,
    SubOrchestrationCancelRequested,
    SubOrchestrationCompleted,
    SubOrchestrationFailed,
    SubOrchestrationScheduled,
    SubOrchFailed,
    TimerCreated,
    TimerFired,
    TimerFiredItem,
    TurnRecord,
    TurnResult,
    WorkItem,
)
from durascope.replay._journal_checks import journal_flaw
from durascope.replay._model import Execution, Instance
from durascope.replay._state import ExecutionFold, ExecutionState
from durascope.runtime import AUTO_SUFFIX, full_child_id

Evidence = Literal["captured", "inferred"]

MESSAGE_EVENTS = frozenset(
    {
        "OrchestrationStarted",
        "ActivityCompleted",
        "ActivityFailed",
        "TimerFired",
        "SubOrchestrationCompleted",
        "SubOrchestrationFailed",
        "ExternalEvent",
        "ExternalEventPersistent",
        "OrchestrationCancelRequested",
    }
)
"""Event types that come from fetched messages (the start of a turn)."""

CHECKPOINT_EVERY = 64
"""Fewest events between two checkpoints of an execution's fold."""

CHECKPOINT_SPACING_PER_SCHEDULE = 1 / 16
"""Events between checkpoints per schedule the fold holds.

A checkpoint copies the fold's schedules, closed ones included, so in a long
loop with thousands of schedules copying every 64 events made the checkpoints
quadratic in the execution's length (time and memory).  Spacing them at least
``len(schedules) / 16`` events apart keeps their total size under 16 entries
per event, while a seek still folds at most that many events on top of a copy.
"""


@dataclass(frozen=True, slots=True)
class Turn:
    """One dispatcher turn.

    Attributes:
        instance_id: The instance.
        index: 0-based position in the instance's timeline.
        number: The journal's turn number (captured) or ``index + 1`` (inferred).
        execution_id: The execution the turn ran against.
        evidence: ``captured`` (journal) or ``inferred`` (reconstructed from history).
        messages: Messages in, each with its verdict.
        delta: Events the turn appended.
        sent: Work items out, with targets (for inferred turns, what the runtime
            would have sent for the turn's schedules).
        result: How the turn ended.
        events_after: How many events of ``execution_id`` exist after the turn.
        record: The journal record, when captured.
    """

    instance_id: str
    index: int
    number: int
    execution_id: int
    evidence: Evidence
    messages: tuple[MessageVerdict, ...]
    delta: tuple[Event, ...]
    sent: tuple[SentWorkItem, ...]
    result: TurnResult
    events_after: int
    record: TurnRecord | None = field(default=None, repr=False, compare=False)


class Timeline:
    """An instance's turns plus fast state lookup (checkpointed folds)."""

    def __init__(self, instance: Instance, turns: tuple[Turn, ...], evidence: Evidence) -> None:
        self.instance = instance
        self.turns = turns
        self.evidence: Evidence = evidence
        self._checkpoints: dict[int, list[tuple[int, ExecutionFold]]] = {}
        self._frontier: dict[int, tuple[int, ExecutionFold]] = {}
        self._states: dict[int, ExecutionState] = {}

    def __len__(self) -> int:
        return len(self.turns)

    @classmethod
    def of(cls, instance: Instance) -> Timeline:
        """Build the timeline: captured turns when the journal covers the history."""
        captured = _captured_turns(instance)
        if captured is not None:
            return cls(instance, captured, "captured")
        return cls(instance, _inferred_turns(instance), "inferred")

    def state_after(self, index: int) -> ExecutionState:
        """The state of the turn's execution after turn ``index``."""
        cached = self._states.get(index)
        if cached is not None:
            return cached
        turn = self.turns[index]
        state = self.state_of(turn.execution_id, turn.events_after)
        if len(self._states) > 4096:
            self._states.clear()
        self._states[index] = state
        return state

    def build_checkpoints(self) -> None:
        """Fold every execution once, so that every later seek starts near a checkpoint.

        A :class:`~durascope.replay.Stepper` calls it when it opens: the cost of one
        replay from the start is paid there, not by the first seek into a long
        execution.  Without it, checkpoints are built lazily, as far as seeks need.
        """
        for execution in self.instance.executions:
            events = self.instance.execution(execution.execution_id).events
            self._checkpoints_upto(execution.execution_id, events, len(events))

    def state_of(self, execution_id: int, events_applied: int) -> ExecutionState:
        """The state of an execution after its first ``events_applied`` events."""
        events = self.instance.execution(execution_id).events
        marks = self._checkpoints_upto(execution_id, events, events_applied)
        pos = bisect_right(marks, events_applied, key=lambda mark: mark[0]) - 1
        start, base = marks[max(pos, 0)]
        folder = base.copy()
        for event in events[start:events_applied]:
            folder.apply(event)
        return folder.state()

    def _checkpoints_upto(
        self, execution_id: int, events: tuple[Event, ...], needed: int
    ) -> list[tuple[int, ExecutionFold]]:
        """Checkpoints of an execution's fold, folded only as far as ``needed``.

        Spaced by ``CHECKPOINT_EVERY`` events, or more where the fold holds many
        schedules (``CHECKPOINT_SPACING_PER_SCHEDULE``).
        """
        marks = self._checkpoints.get(execution_id)
        if marks is None:
            folder = ExecutionFold(self.instance.instance_id, execution_id)
            marks = self._checkpoints[execution_id] = [(0, folder.copy())]
            self._frontier[execution_id] = (0, folder)
        done, folder = self._frontier[execution_id]
        target = min(needed, len(events))
        while done < target:
            folder.apply(events[done])
            done += 1
            spacing = max(
                CHECKPOINT_EVERY, int(len(folder.schedules) * CHECKPOINT_SPACING_PER_SCHEDULE)
            )
            if done - marks[-1][0] >= spacing:
                marks.append((done, folder.copy()))
        self._frontier[execution_id] = (done, folder)
        return marks

    def turn_of_event(self, execution_id: int, event_id: int) -> Turn | None:
        """The turn that appended an event."""
        for turn in self.turns:
            if turn.execution_id == execution_id and any(
                e.event_id == event_id for e in turn.delta
            ):
                return turn
        return None


def _result_of(delta: tuple[Event, ...], had_messages: bool) -> TurnResult:
    types = [e.type for e in delta]
    if "OrchestrationContinuedAsNew" in types:
        return "continued_as_new"
    if "OrchestrationCompleted" in types:
        return "completed"
    if "OrchestrationFailed" in types:
        failed = next(e for e in delta if e.type == "OrchestrationFailed")
        kind = getattr(getattr(failed, "details", None), "kind", None)
        return "cancelled" if getattr(kind, "variant", "") == "Cancelled" else "failed"
    return "continue" if delta or not had_messages else "discarded"


def _captured_turns(instance: Instance) -> tuple[Turn, ...] | None:
    records = instance.turns
    if not records:
        return None
    if journal_flaw(instance) is not None:
        return None  # a damaged or incomplete journal: history is the authority
    by_exec = {ex.execution_id: {e.event_id: e for e in ex.events} for ex in instance.executions}
    # Sorted event ids per execution: how many events a turn leaves applied is then
    # a bisection, not a scan (which made long journals quadratic to open).
    event_ids: dict[int, list[int]] = {}
    for ex in instance.executions:  # the first execution of an id, as ``execution()`` finds
        event_ids.setdefault(ex.execution_id, sorted(e.event_id for e in ex.events))
    progress: dict[int, int] = {}
    turns = []
    for index, record in enumerate(records):
        events = by_exec.get(record.execution_id, {})
        ids = [i for i in record.delta_event_ids if i in events]
        delta = tuple([events[i] for i in ids])
        if ids:
            progress[record.execution_id] = max(progress.get(record.execution_id, 0), *ids)
        turns.append(
            Turn(
                instance_id=instance.instance_id,
                index=index,
                number=record.turn,
                execution_id=record.execution_id,
                evidence="captured",
                messages=record.messages,
                delta=delta,
                sent=record.sent,
                result=record.result,
                events_after=bisect_right(
                    event_ids.get(record.execution_id, []), progress.get(record.execution_id, 0)
                ),
                record=record,
            )
        )
    return tuple(turns)


def _inferred_turns(instance: Instance) -> tuple[Turn, ...]:
    """Turns reconstructed from history (see the module docstring and :func:`_inferred_sent`).

    Every message-derived event stands for a message the turn applied; messages
    that appended nothing (filtered, duplicate, discarded) leave no trace in
    history and have no inferred turn, and a message still on a queue is not
    claimed by any turn.  durascope stamps every event of a turn with the turn's
    time, so between two events it wrote a change of time also starts a turn
    (one whose message was aborted, e.g. a misrouted completion, appends only
    its failure); duroxide's times vary within a turn, so there only messages do.
    Two turns that append only message-derived events in the same millisecond
    read as one.
    """
    turns: list[Turn] = []
    stamps = _stamps_parent_execution(instance)
    executions = instance.executions
    for position, execution in enumerate(executions):
        following = executions[position + 1] if position + 1 < len(executions) else None
        groups: list[list[Event]] = []
        previous: Event | None = None
        for event in execution.events:
            is_message = event.type in MESSAGE_EVENTS
            starts_turn = (
                previous is None
                or (
                    is_message
                    and (
                        previous.type not in MESSAGE_EVENTS
                        or previous.timestamp_ms != event.timestamp_ms
                    )
                )
                or (
                    previous.timestamp_ms != event.timestamp_ms
                    and _one_time_per_turn(previous)
                    and _one_time_per_turn(event)
                )
            )
            if starts_turn:
                groups.append([])
            groups[-1].append(event)
            previous = event
        applied = 0
        for group in groups:
            applied += len(group)
            delta = tuple(group)
            messages = tuple(
                MessageVerdict(
                    message=item,
                    verdict="applied",
                    reason="inferred from history",
                    event_id=e.event_id,
                )
                for e in delta
                if e.type in MESSAGE_EVENTS
                for item in [_message_for(instance, execution.execution_id, e)]
                if item is not None
            )
            result = _result_of(delta, bool(messages))
            turns.append(
                Turn(
                    instance_id=instance.instance_id,
                    index=len(turns),
                    number=len(turns) + 1,
                    execution_id=execution.execution_id,
                    evidence="inferred",
                    messages=messages,
                    delta=delta,
                    sent=_inferred_sent(instance, execution, delta, result, following, stamps),
                    result=result,
                    events_after=applied,
                )
            )
    return tuple(turns)


def _message_for(instance: Instance, execution_id: int, event: Event) -> WorkItem | None:
    """The work item that must have produced a message-derived event."""
    iid = instance.instance_id
    src = event.source_event_id or 0
    if isinstance(event, OrchestrationStarted):
        if execution_id > 1:
            return ContinueAsNew(
                instance=iid,
                orchestration=event.name,
                input=event.input,
                carry_forward_events=tuple(event.carry_forward_events or ()),
                initial_custom_status=event.initial_custom_status,
            )
        return StartOrchestration(
            instance=iid,
            orchestration=event.name,
            input=event.input,
            version=event.version,
            parent_instance=event.parent_instance,
            parent_id=event.parent_id,
            parent_execution_id=event.parent_execution_id,
        )
    if isinstance(event, ActivityCompleted):
        return ActivityCompletedItem(
            instance=iid, execution_id=execution_id, id=src, result=event.result
        )
    if isinstance(event, ActivityFailed):
        return ActivityFailedItem(
            instance=iid, execution_id=execution_id, id=src, details=event.details
        )
    if isinstance(event, TimerFired):
        return TimerFiredItem(
            instance=iid, execution_id=execution_id, id=src, fire_at_ms=event.fire_at_ms
        )
    if isinstance(event, SubOrchestrationCompleted):
        return SubOrchCompleted(
            parent_instance=iid,
            parent_execution_id=execution_id,
            parent_id=src,
            result=event.result,
        )
    if isinstance(event, SubOrchestrationFailed):
        return SubOrchFailed(
            parent_instance=iid,
            parent_execution_id=execution_id,
            parent_id=src,
            details=event.details,
        )
    if isinstance(event, ExternalEvent):
        return ExternalRaised(instance=iid, name=event.name, data=event.data)
    if isinstance(event, QueueEventDelivered):
        return QueueMessage(instance=iid, name=event.name, data=event.data)
    if isinstance(event, OrchestrationCancelRequested):
        return CancelInstance(instance=iid, reason=event.reason)
    return None


def _one_time_per_turn(event: Event) -> bool:
    """Whether the event was written by durascope, which gives a whole turn one time."""
    return "+durascope" in event.duroxide_version


def _stamps_parent_execution(instance: Instance) -> bool:
    """Whether the runtime that wrote ``instance`` stamped children's parent execution.

    The fix qualifies auto ids of later executions (``sub::2_2``) and records a
    parent execution in a child's start; pre-fix duroxide and the legacy policy
    do neither.  Without either mark in the instance, the fix (the default) is
    assumed.
    """
    for execution in instance.executions:
        for event in execution.events:
            if isinstance(event, OrchestrationStarted) and event.parent_instance is not None:
                return event.parent_execution_id is not None
            if isinstance(event, SubOrchestrationScheduled) and execution.execution_id > 1:
                m = AUTO_SUFFIX.match(event.instance)
                if m:
                    return m.group(1) is not None
    return True


def _sent(item: WorkItem, queue: str, instance: str, execution: int | None) -> SentWorkItem:
    return SentWorkItem(
        item=item,
        queue=queue,  # type: ignore[arg-type]
        target_instance=instance,
        target_execution=execution,
    )


def _inferred_sent(
    instance: Instance,
    execution: Execution,
    delta: tuple[Event, ...],
    result: TurnResult,
    following: Execution | None,
    stamps: bool,
) -> tuple[SentWorkItem, ...]:
    """The work items the runtime sends for an inferred turn, as a captured turn lists them.

    A turn that continues dispatches each schedule it appended: ``ActivityExecute``
    to the worker queue, ``TimerFired`` (visible at its fire time) and the child's
    ``StartOrchestration`` (full id; ``parent_execution_id`` where the runtime
    stamps it) to the orchestrator queue.  A final turn dispatches only detached
    starts (its other schedules are never dispatched), then ``ContinueAsNew``, a
    ``CancelInstance`` for each child still outstanding when cancelled, and the
    ``SubOrchCompleted``/``SubOrchFailed`` for the parent.  A child whose start
    records no parent execution (pre-fix, legacy) addressed its completion to
    whatever the runtime believed current: the item says 1 (duroxide's fallback)
    and the target execution is None (unknown).  Work sent by turns that appended
    nothing (the fail-fast ``SubOrchFailed`` of a discarded start) has no inferred
    turn to show it.
    """
    iid, eid = instance.instance_id, execution.execution_id
    workers: list[SentWorkItem] = []
    orchestrator: list[SentWorkItem] = []
    final = result != "continue"
    for event in delta:
        if isinstance(event, OrchestrationChained):
            item: WorkItem = StartOrchestration(
                instance=event.instance, orchestration=event.name, input=event.input
            )
            orchestrator.append(_sent(item, "orchestrator", event.instance, 1))
        elif final:
            continue
        elif isinstance(event, ActivityScheduled):
            item = ActivityExecute(
                instance=iid,
                execution_id=eid,
                id=event.event_id,
                name=event.name,
                input=event.input,
                session_id=event.session_id,
                tag=event.tag,
            )
            workers.append(_sent(item, "worker", iid, eid))
        elif isinstance(event, TimerCreated):
            item = TimerFiredItem(
                instance=iid, execution_id=eid, id=event.event_id, fire_at_ms=event.fire_at_ms
            )
            orchestrator.append(_sent(item, "orchestrator", iid, eid))
        elif isinstance(event, SubOrchestrationScheduled):
            child = full_child_id(iid, event.instance)
            item = StartOrchestration(
                instance=child,
                orchestration=event.name,
                input=event.input,
                parent_instance=iid,
                parent_id=event.event_id,
                parent_execution_id=eid if stamps else None,
            )
            orchestrator.append(_sent(item, "orchestrator", child, 1))
    started = execution.started
    if final and started is not None:
        orchestrator.extend(_final_items(iid, execution, delta, result, following, started))
    orchestrator.extend(_dropped_child_cancels(iid, execution, delta))
    return tuple(workers + orchestrator)


def _final_items(
    iid: str,
    execution: Execution,
    delta: tuple[Event, ...],
    result: TurnResult,
    following: Execution | None,
    started: OrchestrationStarted,
) -> list[SentWorkItem]:
    out: list[SentWorkItem] = []
    can = next((e for e in delta if isinstance(e, OrchestrationContinuedAsNew)), None)
    if can is not None:
        nxt = following.started if following is not None else None
        item: WorkItem = ContinueAsNew(
            instance=iid,
            orchestration=started.name,
            input=can.input,
            carry_forward_events=tuple(nxt.carry_forward_events or ()) if nxt else (),
            initial_custom_status=nxt.initial_custom_status if nxt else None,
        )
        return [_sent(item, "orchestrator", iid, execution.execution_id + 1)]
    if result == "cancelled":
        closed = {
            e.source_event_id
            for e in execution.events
            if isinstance(
                e,
                SubOrchestrationCompleted
                | SubOrchestrationFailed
                | SubOrchestrationCancelRequested,
            )
        }
        for e in execution.events:
            if isinstance(e, SubOrchestrationScheduled) and e.event_id not in closed:
                child = full_child_id(iid, e.instance)
                item = CancelInstance(instance=child, reason="parent canceled")
                out.append(_sent(item, "orchestrator", child, None))
    if started.parent_instance is None or started.parent_id is None:
        return out
    parent, known = started.parent_instance, started.parent_execution_id
    completed = next((e for e in delta if isinstance(e, OrchestrationCompleted)), None)
    failed = next((e for e in delta if isinstance(e, OrchestrationFailed)), None)
    if completed is not None:
        item = SubOrchCompleted(
            parent_instance=parent,
            parent_execution_id=known or 1,
            parent_id=started.parent_id,
            result=completed.output,
        )
    elif failed is not None:
        item = SubOrchFailed(
            parent_instance=parent,
            parent_execution_id=known or 1,
            parent_id=started.parent_id,
            details=failed.details,
        )
    else:
        return out
    out.append(_sent(item, "orchestrator", parent, known))
    return out


def _dropped_child_cancels(
    iid: str, execution: Execution, delta: tuple[Event, ...]
) -> list[SentWorkItem]:
    """``CancelInstance`` for each child future the turn dropped (a race's loser)."""
    if not any(isinstance(e, SubOrchestrationCancelRequested) for e in delta):
        return []  # the common case: no index of the execution's schedules needed
    scheduled = {
        e.event_id: e for e in execution.events if isinstance(e, SubOrchestrationScheduled)
    }
    out = []
    for e in delta:
        if not isinstance(e, SubOrchestrationCancelRequested) or e.reason != "dropped_future":
            continue
        schedule = scheduled.get(e.source_event_id or 0)
        if schedule is None:
            continue
        child = full_child_id(iid, schedule.instance)
        item = CancelInstance(instance=child, reason="parent dropped sub-orchestration future")
        out.append(_sent(item, "orchestrator", child, None))
    return out
