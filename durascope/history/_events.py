"""History events in duroxide's JSON shape.

duroxide stores each event as ``serde_json::to_string(&Event)``: the envelope
(``event_id``, ``source_event_id``, ``instance_id``, ``execution_id``,
``timestamp_ms``, ``duroxide_version``), then the ``"type"`` tag, then the
variant's fields.  Some optional fields are written as ``null`` and some are
omitted when absent (``#[serde(skip_serializing_if = "Option::is_none")]``);
each class lists the omitted ones in ``_omit_if_none`` so the JSON we write is
the JSON duroxide writes.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    SerializerFunctionWrapHandler,
    Tag,
    model_serializer,
)

from durascope.history._errors import ErrorDetails


class _EventBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    _omit_if_none: ClassVar[frozenset[str]] = frozenset()

    event_id: int
    source_event_id: int | None = None
    instance_id: str = ""
    execution_id: int = 0
    timestamp_ms: int = 0
    duroxide_version: str = ""

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in self._omit_if_none:
            if data.get(name, 0) is None:
                del data[name]
        return data


class OrchestrationStarted(_EventBase):
    """First event of every execution."""

    type: Literal["OrchestrationStarted"] = "OrchestrationStarted"
    _omit_if_none = frozenset(
        {"carry_forward_events", "initial_custom_status", "parent_execution_id"}
    )
    name: str
    version: str
    input: str
    parent_instance: str | None = None
    parent_id: int | None = None
    carry_forward_events: tuple[tuple[str, str], ...] | None = None
    initial_custom_status: str | None = None
    parent_execution_id: int | None = None


class OrchestrationCompleted(_EventBase):
    """The execution returned a value."""

    type: Literal["OrchestrationCompleted"] = "OrchestrationCompleted"
    output: str


class OrchestrationFailed(_EventBase):
    """The execution failed (error, nondeterminism, cancellation, poison)."""

    type: Literal["OrchestrationFailed"] = "OrchestrationFailed"
    details: ErrorDetails


class OrchestrationContinuedAsNew(_EventBase):
    """The execution ended and a new one starts with ``input``."""

    type: Literal["OrchestrationContinuedAsNew"] = "OrchestrationContinuedAsNew"
    input: str


class OrchestrationCancelRequested(_EventBase):
    """A ``CancelInstance`` reached the execution."""

    type: Literal["OrchestrationCancelRequested"] = "OrchestrationCancelRequested"
    reason: str


class OrchestrationChained(_EventBase):
    """A detached (fire-and-forget) orchestration start."""

    type: Literal["OrchestrationChained"] = "OrchestrationChained"
    name: str
    instance: str
    input: str


class ActivityScheduled(_EventBase):
    """An activity was scheduled."""

    type: Literal["ActivityScheduled"] = "ActivityScheduled"
    _omit_if_none = frozenset({"session_id", "tag"})
    name: str
    input: str
    session_id: str | None = None
    tag: str | None = None


class ActivityCompleted(_EventBase):
    """An activity returned; ``source_event_id`` is its schedule."""

    type: Literal["ActivityCompleted"] = "ActivityCompleted"
    result: str


class ActivityFailed(_EventBase):
    """An activity raised; ``source_event_id`` is its schedule."""

    type: Literal["ActivityFailed"] = "ActivityFailed"
    details: ErrorDetails


class ActivityCancelRequested(_EventBase):
    """Best-effort cancellation of an in-flight activity."""

    type: Literal["ActivityCancelRequested"] = "ActivityCancelRequested"
    reason: str


class TimerCreated(_EventBase):
    """A durable timer was created."""

    type: Literal["TimerCreated"] = "TimerCreated"
    fire_at_ms: int


class TimerFired(_EventBase):
    """A durable timer fired; ``source_event_id`` is its creation."""

    type: Literal["TimerFired"] = "TimerFired"
    fire_at_ms: int


class ExternalSubscribed(_EventBase):
    """A positional wait for an external event."""

    type: Literal["ExternalSubscribed"] = "ExternalSubscribed"
    name: str


class ExternalEvent(_EventBase):
    """An external event arrived (delivered by name and position)."""

    type: Literal["ExternalEvent"] = "ExternalEvent"
    name: str
    data: str


class ExternalSubscribedCancelled(_EventBase):
    """A positional wait was dropped."""

    type: Literal["ExternalSubscribedCancelled"] = "ExternalSubscribedCancelled"
    reason: str


class QueueSubscribed(_EventBase):
    """A FIFO mailbox wait (``dequeue_event``)."""

    type: Literal["ExternalSubscribedPersistent"] = "ExternalSubscribedPersistent"
    name: str


class QueueEventDelivered(_EventBase):
    """A mailbox message arrived."""

    type: Literal["ExternalEventPersistent"] = "ExternalEventPersistent"
    name: str
    data: str


class QueueSubscriptionCancelled(_EventBase):
    """A mailbox wait was dropped."""

    type: Literal["ExternalSubscribedPersistentCancelled"] = "ExternalSubscribedPersistentCancelled"
    reason: str


class SubOrchestrationScheduled(_EventBase):
    """A child orchestration was scheduled; ``instance`` is the suffix or explicit id."""

    type: Literal["SubOrchestrationScheduled"] = "SubOrchestrationScheduled"
    name: str
    instance: str
    input: str


class SubOrchestrationCompleted(_EventBase):
    """A child completed; ``source_event_id`` is its schedule."""

    type: Literal["SubOrchestrationCompleted"] = "SubOrchestrationCompleted"
    result: str


class SubOrchestrationFailed(_EventBase):
    """A child failed; ``source_event_id`` is its schedule."""

    type: Literal["SubOrchestrationFailed"] = "SubOrchestrationFailed"
    details: ErrorDetails


class SubOrchestrationCancelRequested(_EventBase):
    """The parent dropped a child's future."""

    type: Literal["SubOrchestrationCancelRequested"] = "SubOrchestrationCancelRequested"
    reason: str


class CustomStatusUpdated(_EventBase):
    """Custom status set (or reset, with ``status`` null)."""

    type: Literal["CustomStatusUpdated"] = "CustomStatusUpdated"
    status: str | None = None


class KeyValueSet(_EventBase):
    """A per-instance key was set."""

    type: Literal["KeyValueSet"] = "KeyValueSet"
    key: str
    value: str
    last_updated_at_ms: int = 0


class KeyValueCleared(_EventBase):
    """A per-instance key was cleared."""

    type: Literal["KeyValueCleared"] = "KeyValueCleared"
    key: str


class KeyValuesCleared(_EventBase):
    """All per-instance keys were cleared."""

    type: Literal["KeyValuesCleared"] = "KeyValuesCleared"


class UnknownEvent(_EventBase):
    """An event whose ``type`` this version does not know; its fields are kept."""

    model_config = ConfigDict(frozen=True, extra="allow")
    type: str

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return data


KNOWN_EVENT_CLASSES: tuple[type[_EventBase], ...] = (
    OrchestrationStarted,
    OrchestrationCompleted,
    OrchestrationFailed,
    OrchestrationContinuedAsNew,
    OrchestrationCancelRequested,
    OrchestrationChained,
    ActivityScheduled,
    ActivityCompleted,
    ActivityFailed,
    ActivityCancelRequested,
    TimerCreated,
    TimerFired,
    ExternalSubscribed,
    ExternalEvent,
    ExternalSubscribedCancelled,
    QueueSubscribed,
    QueueEventDelivered,
    QueueSubscriptionCancelled,
    SubOrchestrationScheduled,
    SubOrchestrationCompleted,
    SubOrchestrationFailed,
    SubOrchestrationCancelRequested,
    CustomStatusUpdated,
    KeyValueSet,
    KeyValueCleared,
    KeyValuesCleared,
)

KNOWN_EVENT_TYPES: frozenset[str] = frozenset(
    cls.model_fields["type"].default for cls in KNOWN_EVENT_CLASSES
)


def _event_tag(value: Any) -> str:
    tag = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    # A tag of the wrong type (hostile input) must fail validation, not hashing.
    if isinstance(value, UnknownEvent) or not isinstance(tag, str) or tag not in KNOWN_EVENT_TYPES:
        return "unknown"
    return str(tag)


Event = Annotated[
    Annotated[OrchestrationStarted, Tag("OrchestrationStarted")]
    | Annotated[OrchestrationCompleted, Tag("OrchestrationCompleted")]
    | Annotated[OrchestrationFailed, Tag("OrchestrationFailed")]
    | Annotated[OrchestrationContinuedAsNew, Tag("OrchestrationContinuedAsNew")]
    | Annotated[OrchestrationCancelRequested, Tag("OrchestrationCancelRequested")]
    | Annotated[OrchestrationChained, Tag("OrchestrationChained")]
    | Annotated[ActivityScheduled, Tag("ActivityScheduled")]
    | Annotated[ActivityCompleted, Tag("ActivityCompleted")]
    | Annotated[ActivityFailed, Tag("ActivityFailed")]
    | Annotated[ActivityCancelRequested, Tag("ActivityCancelRequested")]
    | Annotated[TimerCreated, Tag("TimerCreated")]
    | Annotated[TimerFired, Tag("TimerFired")]
    | Annotated[ExternalSubscribed, Tag("ExternalSubscribed")]
    | Annotated[ExternalEvent, Tag("ExternalEvent")]
    | Annotated[ExternalSubscribedCancelled, Tag("ExternalSubscribedCancelled")]
    | Annotated[QueueSubscribed, Tag("ExternalSubscribedPersistent")]
    | Annotated[QueueEventDelivered, Tag("ExternalEventPersistent")]
    | Annotated[QueueSubscriptionCancelled, Tag("ExternalSubscribedPersistentCancelled")]
    | Annotated[SubOrchestrationScheduled, Tag("SubOrchestrationScheduled")]
    | Annotated[SubOrchestrationCompleted, Tag("SubOrchestrationCompleted")]
    | Annotated[SubOrchestrationFailed, Tag("SubOrchestrationFailed")]
    | Annotated[SubOrchestrationCancelRequested, Tag("SubOrchestrationCancelRequested")]
    | Annotated[CustomStatusUpdated, Tag("CustomStatusUpdated")]
    | Annotated[KeyValueSet, Tag("KeyValueSet")]
    | Annotated[KeyValueCleared, Tag("KeyValueCleared")]
    | Annotated[KeyValuesCleared, Tag("KeyValuesCleared")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]
"""Any history event; unknown ``type`` values load as :class:`UnknownEvent`."""

ENVELOPE_FIELDS: frozenset[str] = frozenset(
    {
        "event_id",
        "source_event_id",
        "instance_id",
        "execution_id",
        "timestamp_ms",
        "duroxide_version",
        "type",
    }
)
"""The envelope fields and the type tag: everything but the variant's own fields."""

TERMINAL_EVENT_TYPES: frozenset[str] = frozenset(
    {"OrchestrationCompleted", "OrchestrationFailed", "OrchestrationContinuedAsNew"}
)
SCHEDULE_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "ActivityScheduled",
        "TimerCreated",
        "ExternalSubscribed",
        "ExternalSubscribedPersistent",
        "SubOrchestrationScheduled",
        "OrchestrationChained",
    }
)


def is_terminal(event: _EventBase) -> bool:
    """True for the events that end an execution (Completed, Failed, ContinuedAsNew)."""
    return getattr(event, "type", "") in TERMINAL_EVENT_TYPES
