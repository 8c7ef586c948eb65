"""Where to open an instance screen, and which instance an event or schedule names."""

from __future__ import annotations

from dataclasses import dataclass

from durascope.history import Event, SubOrchestrationScheduled
from durascope.replay import Timeline
from durascope.runtime import full_child_id

__all__ = ["CHILD_CLOSERS", "AtEvent", "StartAt", "child_named", "child_of_row", "resolve_start"]


@dataclass(frozen=True)
class AtEvent:
    """Open at the turn that appended an event.

    Attributes:
        event_id: The event.
        execution_id: Its execution; None searches every execution (a child whose
            start does not record its parent's execution, as before the fix).
        child_id: For a child schedule: the child it names, which tells apart the
            executions whose schedules share an event id.
    """

    event_id: int
    execution_id: int | None = None
    child_id: str | None = None


StartAt = int | AtEvent
"""A turn index, or the turn of an event."""


def resolve_start(timeline: Timeline, start: StartAt) -> int | None:
    """The turn index to open at (None when the event is in no turn)."""
    if isinstance(start, int):
        return start
    fallback: int | None = None
    for turn in timeline.turns:
        if start.execution_id is not None and turn.execution_id != start.execution_id:
            continue
        for event in turn.delta:
            if event.event_id != start.event_id:
                continue
            if start.child_id is None or child_named(timeline.instance.instance_id, event) == (
                start.child_id
            ):
                return turn.index
            if fallback is None:
                fallback = turn.index
    return fallback


def child_named(parent_id: str, event: Event) -> str | None:
    """The child instance a ``SubOrchestrationScheduled`` event names (else None)."""
    if isinstance(event, SubOrchestrationScheduled):
        return full_child_id(parent_id, event.instance)
    return None


CHILD_CLOSERS = frozenset(
    {"SubOrchestrationCompleted", "SubOrchestrationFailed", "SubOrchestrationCancelRequested"}
)


def child_of_row(parent_id: str, events: tuple[Event, ...], index: int) -> str | None:
    """The child a history row is about: its schedule, or the completion of one."""
    event = events[index]
    named = child_named(parent_id, event)
    if named is not None or event.type not in CHILD_CLOSERS or event.source_event_id is None:
        return named
    source = event.source_event_id
    # Event ids are contiguous from 1 in an execution; look there first.
    if 0 < source <= len(events) and events[source - 1].event_id == source:
        return child_named(parent_id, events[source - 1])
    return next((child_named(parent_id, e) for e in events if e.event_id == source), None)
