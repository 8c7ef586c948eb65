"""Actions: what yielded tasks ask for, matched one by one against schedule events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, overload

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
    INVALID_STEP,
    U64_MAX,
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
    invalid_type,
    type_problem,
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


MAX_TASK_NESTING = 100
"""How deep ``all``/``race`` may nest in one yield (the replayer recurses over them)."""


def check_step(task: object) -> Task | str:
    """What a yield asks for, checked whole before any of it is scheduled.

    duroxide-python decodes a yielded task (and all tasks inside it) before it runs
    any of it, and fails the orchestration when it cannot: ``Invalid generator step
    result: invalid type: integer `123`, expected a string``.  This applies the same
    checks, in duroxide's field order, and returns either that message (or
    durascope's own for a value that is no task at all) or the task rebuilt from
    plain ``str``/``int`` values, so that no method of a user's ``str`` subclass runs
    when the engine compares or stores a field.
    """
    try:
        return _checked(task, 0)
    except _Refused as refused:
        return refused.message


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _checked(task: object, depth: int) -> Task:
    if isinstance(task, AllTask | RaceTask):
        if depth >= MAX_TASK_NESTING:
            raise _Refused(
                f"{INVALID_STEP}recursion limit exceeded: all/race nested more than "
                f"{MAX_TASK_NESTING} deep"
            )
        tasks = task.tasks
        if not isinstance(tasks, tuple | list):  # built by hand, not by ctx.all/race
            raise _Refused(invalid_type(tasks, "a sequence"))
        inner = tuple(_checked(t, depth + 1) for t in tasks)
        if isinstance(task, AllTask):
            return AllTask(inner, unwrap=task.unwrap is True)
        return RaceTask(inner)
    if isinstance(task, ActivityTask):
        name, input = _text(task.name), _text(task.input)
        retry = task.retry
        refusal = retry.refusal if retry is not None else None
        if refusal is not None and refusal.kind == "OrchestrationFailed":  # does not decode
            raise _Refused(refusal.message)
        session, tag = _text(task.session_id, optional=True), _text(task.tag, optional=True)
        return ActivityTask(name, input, session_id=session, tag=tag, retry=retry)
    if isinstance(task, TimerTask):
        problem = type_problem(task.delay_ms, "u64", optional=False)
        if problem is not None:
            raise _Refused(problem)
        return TimerTask(int.__int__(task.delay_ms))
    if isinstance(task, WaitEventTask):
        return WaitEventTask(_text(task.name))
    if isinstance(task, DequeueEventTask):
        return DequeueEventTask(_text(task.name))
    if isinstance(task, SubOrchestrationTask):
        name, version = _text(task.name), _text(task.version, optional=True)
        instance = _text(task.instance, optional=not task.explicit_id)
        return SubOrchestrationTask(
            name,
            _text(task.input),
            instance=instance,
            version=version,
            explicit_id=task.explicit_id,
        )
    if isinstance(task, DetachedStartTask):
        name, version = _text(task.name), _text(task.version, optional=True)
        instance = _text(task.instance)
        return DetachedStartTask(name, instance, _text(task.input), version=version)
    if isinstance(task, ContinueAsNewTask):
        input = _text(task.input)
        return ContinueAsNewTask(input, version=_text(task.version, optional=True))
    raise _Refused(
        f"an orchestration yielded {type(task).__name__}, which is not a task "
        "(yield what ctx.schedule_*/wait_for_event/all/race return)"
    )


@overload
def _text(value: str) -> str: ...
@overload
def _text(value: str | None, *, optional: bool) -> str | None: ...
def _text(value: str | None, *, optional: bool = False) -> str | None:
    problem = type_problem(value, "a string", optional=optional)
    if problem is not None:
        raise _Refused(problem)
    return None if value is None else str.__str__(value)


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
        # duroxide saturates a fire time past u64::MAX.
        fire_at = min(envelope["timestamp_ms"] + task.delay_ms, U64_MAX)
        return TimerCreated(**envelope, fire_at_ms=fire_at)
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
