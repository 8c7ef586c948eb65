"""Actions: what yielded tasks ask for, matched one by one against schedule events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from durascope.history import (
    ActivityScheduled,
    Event,
    OrchestrationChained,
    SubOrchestrationScheduled,
)
from durascope.runtime._futures import LeafFuture
from durascope.runtime._tasks import (
    ActivityTask,
    DequeueEventTask,
    DetachedStartTask,
    SubOrchestrationTask,
    Task,
    TimerTask,
    WaitEventTask,
)

SCHEDULE_KINDS = {
    "ActivityScheduled": "activity",
    "TimerCreated": "timer",
    "ExternalSubscribed": "external",
    "ExternalSubscribedPersistent": "queue",
    "SubOrchestrationScheduled": "suborch",
    "OrchestrationChained": "detached",
}
"""History events that pop the next action and must match it (``schedule mismatch``).

``CustomStatusUpdated`` pops an action too, but only when there is one, and a
mismatch is a ``custom status mismatch`` (see the replayer).
"""


@dataclass
class Action:
    """One thing the code asked for, waiting to be matched with a history event.

    Attributes:
        kind: The schedule kind (see ``SCHEDULE_KINDS``), or ``custom_status``.
        task: The yielded task (None for a custom status update).
        future: What the code waits on.
        custom_status: The status set (custom status updates only).
        token: 1-based count of the schedule actions emitted so far, this one
            included (duroxide's future token; 0 for a custom status update).
    """

    kind: str
    task: Task | None = None
    future: LeafFuture | None = None
    custom_status: str | None = None
    token: int = 0


@dataclass
class PendingAction:
    """A new action of this turn with the event recorded for it."""

    action: Action
    event: Event


def leaf_for(task: Any) -> LeafFuture:
    """The future for a primitive task (raises TypeError for anything else)."""
    if isinstance(task, ActivityTask):
        return LeafFuture("activity", task.name)
    if isinstance(task, TimerTask):
        return LeafFuture("timer")
    if isinstance(task, WaitEventTask):
        return LeafFuture("external", task.name)
    if isinstance(task, DequeueEventTask):
        return LeafFuture("queue", task.name)
    if isinstance(task, SubOrchestrationTask):
        return LeafFuture("suborch", task.name)
    if isinstance(task, DetachedStartTask):
        return LeafFuture("detached", task.name)
    raise TypeError(
        f"an orchestration yielded {type(task).__name__}, which is not a task "
        "(yield what ctx.schedule_*/wait_for_event/all/race return)"
    )


def action_matches(action: Action, event: Event) -> bool:
    """Duroxide's ``action_matches_event_kind``: may this action own this schedule event?"""
    kind = SCHEDULE_KINDS[event.type]
    if action.kind != kind:
        return False
    task = action.task
    if isinstance(task, ActivityTask):
        return (
            isinstance(event, ActivityScheduled)
            and task.name == event.name
            and task.input == event.input
            and task.session_id == event.session_id
            and task.tag == event.tag
        )
    if isinstance(task, WaitEventTask | DequeueEventTask):
        return task.name == getattr(event, "name", None)
    if isinstance(task, SubOrchestrationTask):
        # The child id comes from history, so changing the id scheme keeps replay valid.
        return isinstance(event, SubOrchestrationScheduled) and (
            task.name == event.name and task.input == event.input
        )
    if isinstance(task, DetachedStartTask):
        return isinstance(event, OrchestrationChained) and (
            task.name == event.name
            and task.instance == event.instance
            and task.input == event.input
        )
    return True  # timers match by position, custom status by kind
