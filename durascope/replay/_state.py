"""Execution state as a fold of history events (no user code needed).

The state after any prefix of an execution's history: open schedules
(activities, timers, event subscriptions, children), custom status and the
execution's status.  ``ExecutionFold`` applies one event at a time and can be
copied cheaply, which is what the timeline's checkpoints are made of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from durascope.history import Event, OrchestrationStarted, display_message
from durascope.runtime import full_child_id

ScheduleKind = Literal["activity", "timer", "event", "queue", "child", "detached"]

_SCHEDULES: dict[str, ScheduleKind] = {
    "ActivityScheduled": "activity",
    "TimerCreated": "timer",
    "ExternalSubscribed": "event",
    "ExternalSubscribedPersistent": "queue",
    "SubOrchestrationScheduled": "child",
}
_CLOSERS = {
    "ActivityCompleted": "completed",
    "ActivityFailed": "failed",
    "TimerFired": "fired",
    "SubOrchestrationCompleted": "completed",
    "SubOrchestrationFailed": "failed",
    "ActivityCancelRequested": "cancel requested",
    "SubOrchestrationCancelRequested": "cancel requested",
    "ExternalSubscribedCancelled": "cancelled",
    "ExternalSubscribedPersistentCancelled": "cancelled",
}


@dataclass(frozen=True)
class Schedule:
    """Something the execution scheduled, and where it stands.

    Attributes:
        kind: activity, timer, event (positional wait), queue (mailbox wait), child.
        event_id: The schedule event.
        name: Activity / orchestration / event name ("" for timers).
        detail: Input, fire time, or the child's full instance id.
        status: ``open``, ``completed``, ``failed``, ``fired``, ``delivered``,
            ``cancel requested`` or ``cancelled``.
        closed_by: The event that closed it, if any.
    """

    kind: ScheduleKind
    event_id: int
    name: str
    detail: str
    status: str = "open"
    closed_by: int | None = None

    @property
    def is_open(self) -> bool:
        """Still waiting for its completion."""
        return self.status in ("open", "cancel requested")


@dataclass(frozen=True)
class ExecutionState:
    """The state of one execution after a prefix of its history."""

    instance_id: str
    execution_id: int
    events_applied: int
    status: str
    output: str | None
    custom_status: str | None
    schedules: tuple[Schedule, ...]
    undelivered_events: tuple[int, ...] = ()

    @property
    def open_schedules(self) -> tuple[Schedule, ...]:
        """Schedules still waiting (including cancel-requested ones)."""
        return tuple(s for s in self.schedules if s.is_open)

    @property
    def children(self) -> tuple[Schedule, ...]:
        """Child orchestrations, open or closed."""
        return tuple(s for s in self.schedules if s.kind == "child")


class ExecutionFold:
    """Applies events in order; ``state()`` snapshots, ``copy()`` checkpoints."""

    def __init__(self, instance_id: str, execution_id: int) -> None:
        self.instance_id = instance_id
        self.execution_id = execution_id
        self.applied = 0
        self.status = "Running"
        self.output: str | None = None
        self.custom_status: str | None = None
        self.schedules: dict[int, Schedule] = {}
        self.waiting: dict[str, list[int]] = {}
        self.undelivered: list[int] = []

    def copy(self) -> ExecutionFold:
        """An independent copy (dicts copied; schedules are immutable)."""
        other = ExecutionFold(self.instance_id, self.execution_id)
        other.applied = self.applied
        other.status, other.output, other.custom_status = (
            self.status,
            self.output,
            self.custom_status,
        )
        other.schedules = dict(self.schedules)
        other.waiting = {k: list(v) for k, v in self.waiting.items()}
        other.undelivered = list(self.undelivered)
        return other

    def apply(self, event: Event) -> None:
        """Fold one event."""
        self.applied += 1
        t = event.type
        if isinstance(event, OrchestrationStarted):
            self.custom_status = event.initial_custom_status
        elif t in _SCHEDULES:
            kind = _SCHEDULES[t]
            name = str(getattr(event, "name", ""))
            detail = ""
            if kind == "activity" or kind == "child":
                detail = str(getattr(event, "input", ""))
            if kind == "child":
                detail = full_child_id(self.instance_id, str(getattr(event, "instance", "")))
            elif kind == "timer":
                detail = f"fires at {getattr(event, 'fire_at_ms', '')}"
            self.schedules[event.event_id] = Schedule(kind, event.event_id, name, detail)
            if kind == "event":
                self.waiting.setdefault(name, []).append(event.event_id)
        elif t in _CLOSERS and event.source_event_id in self.schedules:
            src = event.source_event_id
            old = self.schedules[src]
            if old.status in ("open", "cancel requested"):
                self.schedules[src] = Schedule(
                    old.kind, old.event_id, old.name, old.detail, _CLOSERS[t], event.event_id
                )
            if old.kind == "event" and src in self.waiting.get(old.name, []):
                self.waiting[old.name].remove(src)
        elif t == "ExternalEvent":
            name = str(getattr(event, "name", ""))
            slots = self.waiting.get(name)
            if slots:
                src = slots.pop(0)
                old = self.schedules[src]
                self.schedules[src] = Schedule(
                    old.kind, old.event_id, old.name, old.detail, "delivered", event.event_id
                )
            else:
                self.undelivered.append(event.event_id)
        elif t == "CustomStatusUpdated":
            self.custom_status = getattr(event, "status", None)
        elif t == "OrchestrationCompleted":
            self.status, self.output = "Completed", getattr(event, "output", None)
        elif t == "OrchestrationFailed":
            self.status, self.output = "Failed", display_message(event.details)  # type: ignore[union-attr]
        elif t == "OrchestrationContinuedAsNew":
            self.status, self.output = "ContinuedAsNew", getattr(event, "input", None)

    def state(self) -> ExecutionState:
        """An immutable snapshot."""
        return ExecutionState(
            instance_id=self.instance_id,
            execution_id=self.execution_id,
            events_applied=self.applied,
            status=self.status,
            output=self.output,
            custom_status=self.custom_status,
            schedules=tuple(self.schedules[k] for k in sorted(self.schedules)),
            undelivered_events=tuple(self.undelivered),
        )


def fold(
    instance_id: str, execution_id: int, events: tuple[Event, ...] | list[Event]
) -> ExecutionState:
    """The state after all of ``events``."""
    f = ExecutionFold(instance_id, execution_id)
    for event in events:
        f.apply(event)
    return f.state()
