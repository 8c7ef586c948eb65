"""ErrorDetails in duroxide's externally tagged serde shape.

duroxide serialises its ``ErrorDetails`` enum with serde's default external
tagging: ``{"Application": {...}}``, ``{"Poison": {...}}`` and so on.  Each
variant here is a frozen model over the *inner* object; a wrap validator and a
wrap serializer add and remove the one-key wrapper, so the Python objects stay
flat while the JSON stays byte-compatible with duroxide's.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)


class ExternallyTagged(BaseModel):
    """Base for serde externally tagged variants: ``{"<Tag>": {fields}}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    variant: ClassVar[str]
    _omit_if_none: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="wrap")
    @classmethod
    def _unwrap(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, dict) and len(value) == 1 and cls.variant in value:
            value = value[cls.variant]
        return handler(value)

    @model_serializer(mode="wrap")
    def _wrap(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        inner: dict[str, Any] = handler(self)
        for name in self._omit_if_none:
            if inner.get(name, 0) is None:
                del inner[name]
        return {self.variant: inner}


def external_tag(value: Any) -> str | None:
    """Return the variant tag of an externally tagged value (dict or model)."""
    if isinstance(value, dict):
        if len(value) != 1:
            return None
        return str(next(iter(value)))
    tag = getattr(type(value), "variant", None)
    return tag if isinstance(tag, str) else None


class Cancelled(ExternallyTagged):
    """The ``{"Cancelled": {"reason": ...}}`` application error kind."""

    variant: ClassVar[str] = "Cancelled"
    reason: str


ApplicationErrorKind = Literal["ActivityFailed", "OrchestrationFailed", "Panicked"] | Cancelled


class ApplicationError(ExternallyTagged):
    """An error raised by user code (activity, orchestration, panic, cancellation)."""

    variant: ClassVar[str] = "Application"
    kind: ApplicationErrorKind
    message: str
    retryable: bool = False


class ConfigurationError(ExternallyTagged):
    """A configuration error; duroxide uses it for nondeterminism."""

    variant: ClassVar[str] = "Configuration"
    kind: str = "Nondeterminism"
    resource: str = ""
    message: str | None = None


class InfrastructureError(ExternallyTagged):
    """A failure of the runtime or the store, not of user code."""

    variant: ClassVar[str] = "Infrastructure"
    operation: str
    message: str
    retryable: bool = False


class PoisonOrchestration(ExternallyTagged):
    """Poison message type: an orchestration batch."""

    variant: ClassVar[str] = "Orchestration"
    instance: str
    execution_id: int


class PoisonActivity(ExternallyTagged):
    """Poison message type: an activity work item."""

    variant: ClassVar[str] = "Activity"
    instance: str
    execution_id: int
    activity_name: str
    activity_id: int


class PoisonFailedDeserialization(ExternallyTagged):
    """Poison message type: a history that could not be decoded."""

    variant: ClassVar[str] = "FailedDeserialization"
    instance: str
    execution_id: int
    error: str


PoisonMessageType = Annotated[
    Annotated[PoisonOrchestration, Tag("Orchestration")]
    | Annotated[PoisonActivity, Tag("Activity")]
    | Annotated[PoisonFailedDeserialization, Tag("FailedDeserialization")],
    Discriminator(external_tag),
]


class PoisonError(ExternallyTagged):
    """A message that failed more often than the runtime allows."""

    variant: ClassVar[str] = "Poison"
    attempt_count: int
    max_attempts: int
    message_type: PoisonMessageType
    message: str


ErrorDetails = Annotated[
    Annotated[ApplicationError, Tag("Application")]
    | Annotated[ConfigurationError, Tag("Configuration")]
    | Annotated[InfrastructureError, Tag("Infrastructure")]
    | Annotated[PoisonError, Tag("Poison")],
    Discriminator(external_tag),
    Field(description="duroxide ErrorDetails, externally tagged"),
]


def display_message(details: ErrorDetails) -> str:
    """The string duroxide shows for an error (``executions.output``, user code).

    Mirrors duroxide's ``ErrorDetails::display_message``.
    """
    if isinstance(details, InfrastructureError):
        return f"infrastructure:{details.operation}: {details.message}"
    if isinstance(details, ConfigurationError):
        if details.kind == "Nondeterminism":
            return f"nondeterministic: {details.message or ''}"
        return f"config error: {details.message or ''}"
    if isinstance(details, PoisonError):
        mt = details.message_type
        n, m = details.attempt_count, details.max_attempts
        if isinstance(mt, PoisonOrchestration):
            return f"poison: orchestration {mt.instance} exceeded {n} attempts (max {m})"
        if isinstance(mt, PoisonActivity):
            return (
                f"poison: activity {mt.activity_name}#{mt.activity_id} "
                f"exceeded {n} attempts (max {m})"
            )
        return f"poison: orchestration {mt.instance} history deserialization failed: {mt.error}"
    if isinstance(details.kind, Cancelled):
        return f"canceled: {details.kind.reason}"
    if details.kind == "Panicked":
        return f"orchestration panicked: {details.message}"
    return details.message


def is_system_error(details: ErrorDetails) -> bool:
    """True for errors user code never sees (they abort the receiving turn)."""
    return not isinstance(details, ApplicationError)


def application_error(
    kind: Literal["ActivityFailed", "OrchestrationFailed", "Panicked"], message: str
) -> ApplicationError:
    """Build a non-retryable application error of the given kind."""
    return ApplicationError(kind=kind, message=message, retryable=False)


def cancelled_error(reason: str) -> ApplicationError:
    """The error an orchestration fails with when it is cancelled."""
    return ApplicationError(kind=Cancelled(reason=reason), message="", retryable=False)


def nondeterminism_error(message: str) -> ConfigurationError:
    """The error duroxide records when replay diverges from history."""
    return ConfigurationError(kind="Nondeterminism", resource="", message=message)
