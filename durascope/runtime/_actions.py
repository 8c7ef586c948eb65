"""Actions: what yielded tasks ask for, matched one by one against schedule events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from durascope.history import (
    ActivityScheduled,
    CustomStatusUpdated,
    Event,
    ExternalSubscribed,
    OrchestrationChained,
    QueueSubscribed,
    SubOrchestrationPolicy,
    SubOrchestrationScheduled,
    TimerCreated,
)
from durascope.runtime._child_ids import child_suffix
from durascope.runtime._futures import LeafFuture
from durascope.runtime._tasks import (
    ActivityTask,
    AllTask,
    ContinueAsNewTask,
    DequeueEventTask,
    DetachedStartTask,
    RaceTask,
    SubOrchestrationTask,
    Task,
    TimerTask,
    WaitEventTask,
)

_YIELDABLE = (
    ActivityTask,
    TimerTask,
    WaitEventTask,
    DequeueEventTask,
    SubOrchestrationTask,
    DetachedStartTask,
    ContinueAsNewTask,
)
"""Tasks that are not composites of others."""

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


def not_a_task(task: Any) -> str | None:
    """Why ``task`` cannot be yielded (it, or a task inside an ``all``/``race``), or None."""
    if isinstance(task, AllTask | RaceTask):
        return next((why for t in task.tasks if (why := not_a_task(t)) is not None), None)
    if isinstance(task, _YIELDABLE):
        return None
    return (
        f"an orchestration yielded {type(task).__name__}, which is not a task "
        "(yield what ctx.schedule_*/wait_for_event/all/race return)"
    )


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


def schedule_event(
    action: Action, envelope: dict[str, Any], policy: SubOrchestrationPolicy
) -> Event:
    """The history event a new action records (``envelope``: the event's common fields)."""
    task = action.task
    if action.kind == "custom_status":
        return CustomStatusUpdated(**envelope, status=action.custom_status)
    if isinstance(task, ActivityTask):
        return ActivityScheduled(
            **envelope, name=task.name, input=task.input, session_id=task.session_id, tag=task.tag
        )
    if isinstance(task, TimerTask):
        return TimerCreated(**envelope, fire_at_ms=envelope["timestamp_ms"] + task.delay_ms)
    if isinstance(task, WaitEventTask):
        return ExternalSubscribed(**envelope, name=task.name)
    if isinstance(task, DequeueEventTask):
        return QueueSubscribed(**envelope, name=task.name)
    if isinstance(task, SubOrchestrationTask):
        instance = task.instance
        if instance is None:
            instance = child_suffix(policy, envelope["execution_id"], envelope["event_id"])
        return SubOrchestrationScheduled(
            **envelope, name=task.name, instance=instance, input=task.input
        )
    if isinstance(task, DetachedStartTask):
        return OrchestrationChained(
            **envelope, name=task.name, instance=task.instance, input=task.input
        )
    raise TypeError(f"no event for action {action.kind}")
