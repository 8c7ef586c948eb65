"""Work items (queue messages) in duroxide's externally tagged JSON shape.

Orchestrator-queue items are keyed by their target instance (``parent_instance``
for the ``SubOrch*`` completions); ``ActivityExecute`` goes to the worker queue.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from durascope.history._errors import ErrorDetails, ExternallyTagged, externally_tagged


class StartOrchestration(ExternallyTagged):
    """Start an instance (root or child).

    ``parent_execution_id`` is the fix: the scheduling execution, stamped when
    the child is scheduled, so the child's completion goes back to it.
    """

    variant: ClassVar[str] = "StartOrchestration"
    _omit_if_none = frozenset({"parent_execution_id"})
    instance: str
    orchestration: str
    input: str
    version: str | None = None
    parent_instance: str | None = None
    parent_id: int | None = None
    execution_id: int = 1
    parent_execution_id: int | None = None


class ActivityExecute(ExternallyTagged):
    """Run an activity (worker queue)."""

    variant: ClassVar[str] = "ActivityExecute"
    _omit_if_none = frozenset({"session_id", "tag"})
    instance: str
    execution_id: int
    id: int
    name: str
    input: str
    session_id: str | None = None
    tag: str | None = None


class ActivityCompletedItem(ExternallyTagged):
    """An activity's result, addressed to the execution that scheduled it."""

    variant: ClassVar[str] = "ActivityCompleted"
    instance: str
    execution_id: int
    id: int
    result: str


class ActivityFailedItem(ExternallyTagged):
    """An activity's failure, addressed to the execution that scheduled it."""

    variant: ClassVar[str] = "ActivityFailed"
    instance: str
    execution_id: int
    id: int
    details: ErrorDetails


class TimerFiredItem(ExternallyTagged):
    """A timer fire, visible at ``fire_at_ms``."""

    variant: ClassVar[str] = "TimerFired"
    instance: str
    execution_id: int
    id: int
    fire_at_ms: int


class ExternalRaised(ExternallyTagged):
    """A positional external event (``raise_event``)."""

    variant: ClassVar[str] = "ExternalRaised"
    instance: str
    name: str
    data: str


class QueueMessage(ExternallyTagged):
    """A FIFO mailbox message (``enqueue_event``)."""

    variant: ClassVar[str] = "QueueMessage"
    instance: str
    name: str
    data: str


class SubOrchCompleted(ExternallyTagged):
    """A child's result, addressed to ``parent_instance`` / ``parent_execution_id``."""

    variant: ClassVar[str] = "SubOrchCompleted"
    parent_instance: str
    parent_execution_id: int
    parent_id: int
    result: str


class SubOrchFailed(ExternallyTagged):
    """A child's failure, addressed to ``parent_instance`` / ``parent_execution_id``."""

    variant: ClassVar[str] = "SubOrchFailed"
    parent_instance: str
    parent_execution_id: int
    parent_id: int
    details: ErrorDetails


class CancelInstance(ExternallyTagged):
    """Cancel the instance's current execution."""

    variant: ClassVar[str] = "CancelInstance"
    instance: str
    reason: str


class ContinueAsNew(ExternallyTagged):
    """Start execution current+1 of the instance."""

    variant: ClassVar[str] = "ContinueAsNew"
    _omit_if_none = frozenset({"initial_custom_status"})
    instance: str
    orchestration: str
    input: str
    version: str | None = None
    carry_forward_events: tuple[tuple[str, str], ...] = ()
    initial_custom_status: str | None = None


WorkItem = Annotated[
    StartOrchestration
    | ActivityExecute
    | ActivityCompletedItem
    | ActivityFailedItem
    | TimerFiredItem
    | ExternalRaised
    | QueueMessage
    | SubOrchCompleted
    | SubOrchFailed
    | CancelInstance
    | ContinueAsNew,
    externally_tagged(
        StartOrchestration,
        ActivityExecute,
        ActivityCompletedItem,
        ActivityFailedItem,
        TimerFiredItem,
        ExternalRaised,
        QueueMessage,
        SubOrchCompleted,
        SubOrchFailed,
        CancelInstance,
        ContinueAsNew,
    ),
]
"""Any work item, worker or orchestrator queue."""

OrchestratorItem = (
    StartOrchestration
    | ActivityCompletedItem
    | ActivityFailedItem
    | TimerFiredItem
    | ExternalRaised
    | QueueMessage
    | SubOrchCompleted
    | SubOrchFailed
    | CancelInstance
    | ContinueAsNew
)
"""Work items that go to the orchestrator queue."""


def target_instance(item: WorkItem) -> str:
    """The instance whose queue row an item belongs to."""
    if isinstance(item, SubOrchCompleted | SubOrchFailed):
        return item.parent_instance
    return item.instance


def target_execution(item: WorkItem) -> int | None:
    """The execution an item is addressed to, or None where it has none."""
    if isinstance(item, SubOrchCompleted | SubOrchFailed):
        return item.parent_execution_id
    if isinstance(item, ActivityCompletedItem | ActivityFailedItem | TimerFiredItem):
        return item.execution_id
    return None


def item_kind(item: WorkItem) -> str:
    """The item's serde tag, e.g. ``"SubOrchCompleted"``."""
    return type(item).variant
