"""ErrorDetails in duroxide's externally tagged serde shape.

duroxide serialises its ``ErrorDetails`` enum with serde's default external
tagging: ``{"Application": {...}}``, ``{"Poison": {...}}`` and so on.  Each
variant here is a frozen model over the *inner* object, so the Python objects
stay flat while the JSON stays byte-compatible with duroxide's: a wrap
serializer adds the one-key wrapper, and :func:`externally_tagged` builds the
union type that reads it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic_core import core_schema


class ExternallyTagged(BaseModel):
    """Base for serde externally tagged variants: ``{"<Tag>": {fields}}``.

    A variant class validates its *inner* object; read the tagged form through a
    union built by :func:`externally_tagged`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    variant: ClassVar[str]
    _omit_if_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _wrap(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        inner: dict[str, Any] = handler(self)
        for name in self._omit_if_none:
            if inner.get(name, 0) is None:
                del inner[name]
        return {self.variant: inner}


def _the_variant(wrapper: dict[str, Any]) -> Any:
    if len(wrapper) != 1:
        raise ValueError(f"expected one variant tag, found {len(wrapper)}")
    return next(iter(wrapper.values()))


class _ExternallyTaggedUnion:
    """Core schema of ``{"<Tag>": {fields}}`` over some variant classes.

    The wrapper is validated as a typed dict with one optional key per tag (no
    extra keys), so each variant's fields are checked by pydantic-core without a
    Python call per value; a plain function then takes the one value out.  From
    Python, an instance of one of the classes is accepted as it is.  (A
    callable discriminator plus a wrap validator per class cost half of the
    turn journal's decoding time, measured by ``bench/inspection.py``.)
    """

    def __init__(self, classes: tuple[type[ExternallyTagged], ...]) -> None:
        self.classes = classes

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        wrapper = core_schema.no_info_after_validator_function(
            _the_variant,
            core_schema.typed_dict_schema(
                {
                    cls.variant: core_schema.typed_dict_field(
                        handler.generate_schema(cls), required=False
                    )
                    for cls in self.classes
                },
                extra_behavior="forbid",
            ),
        )
        instances = [core_schema.is_instance_schema(cls) for cls in self.classes]
        return core_schema.json_or_python_schema(
            json_schema=wrapper,
            python_schema=core_schema.union_schema([*instances, wrapper]),
            # The value is always a variant instance: its own serializer writes the tag.
            serialization=core_schema.simple_ser_schema("any"),
        )


def externally_tagged(*classes: type[ExternallyTagged]) -> _ExternallyTaggedUnion:
    """Annotation metadata that reads ``{"<Tag>": {fields}}`` into one of ``classes``.

    Use as ``Annotated[A | B, externally_tagged(A, B)]``.
    """
    return _ExternallyTaggedUnion(classes)


class Cancelled(ExternallyTagged):
    """The ``{"Cancelled": {"reason": ...}}`` application error kind."""

    variant: ClassVar[str] = "Cancelled"
    reason: str


ApplicationErrorKind = (
    Literal["ActivityFailed", "OrchestrationFailed", "Panicked"]
    | Annotated[Cancelled, externally_tagged(Cancelled)]
)


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
    PoisonOrchestration | PoisonActivity | PoisonFailedDeserialization,
    externally_tagged(PoisonOrchestration, PoisonActivity, PoisonFailedDeserialization),
]


class PoisonError(ExternallyTagged):
    """A message that failed more often than the runtime allows."""

    variant: ClassVar[str] = "Poison"
    attempt_count: int
    max_attempts: int
    message_type: PoisonMessageType
    message: str


ErrorDetails = Annotated[
    ApplicationError | ConfigurationError | InfrastructureError | PoisonError,
    externally_tagged(ApplicationError, ConfigurationError, InfrastructureError, PoisonError),
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
