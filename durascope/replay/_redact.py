"""Redaction of an export: a postmortem that can be shared without its data.

Every payload and every free text that can quote one is replaced with its size
and a stable hash; the structure the debugger needs stays.  What is a payload
is decided by structure, not by a list of field names: of a known event or work
item, every field except its identity and routing (envelope, names, ids,
versions, timer times, keys, session and tag); of an unknown or undecodable
event every field but the envelope; of an unknown work item every field but its
tag and routing ids; a queue row that is not JSON as a whole.

Free texts are redacted too, because user code and the runtime quote payloads
in them (a nondeterminism message renders the diverging action with its input,
a failure carries its traceback, a poison message the whole work item):

- error details keep their variant and kind (``Application``/``ActivityFailed``,
  ``Configuration``/``Nondeterminism``, an infrastructure operation, a poison's
  counts and message type) and lose their message, unless the message is one of
  the runtime's own texts that hold only ids (``no matching schedule for
  sub-orchestration id=2``), which diagnosis reads;
- a failed execution's or turn's output is its error's display text, rebuilt
  from the redacted error (``nondeterministic: <redacted ...>``);
- cancel reasons and turn verdict reasons are kept when they are the runtime's
  vocabulary (``dropped_future``, ``completion of schedule 4``), else redacted.

Texts are allowlisted like fields: a reason or message the runtime starts
writing later is redacted until it is listed here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable
from typing import Any

from pydantic import ValidationError

from durascope.history import (
    ENVELOPE_FIELDS,
    ERROR_DETAILS_ADAPTER,
    EVENT_ADAPTER,
    WORK_ITEM_ADAPTER,
    Event,
    OrchestrationFailed,
    TurnRecord,
    UnknownEvent,
    display_message,
    event_to_dict,
    turn_record_to_json,
)

_KEPT_FIELDS = frozenset(
    {
        "name",
        "version",
        "orchestration",
        "instance",
        "execution_id",
        "id",
        "parent_instance",
        "parent_id",
        "parent_execution_id",
        "fire_at_ms",
        "key",
        "last_updated_at_ms",
        "session_id",
        "tag",
    }
)
"""Fields of known events and work items that identify or route.

Everything else of a known model is a payload (an allowlist: a field added to a
model later is redacted until it is listed here), except ``details`` and
``reason``, which are free texts with a structure of their own.
"""

_ROUTING_FIELDS = frozenset(
    {"instance", "execution_id", "id", "parent_instance", "parent_id", "parent_execution_id"}
)
"""The fields of an unknown work item that are kept: where it goes, nothing it carries."""

_ERROR_TAG_FIELDS = frozenset(
    {"kind", "resource", "operation", "retryable", "attempt_count", "max_attempts"}
)
"""Fields of an error's variant that classify it; ``message`` and anything else are text."""

_MARKER = re.compile(r"<redacted \d+ bytes sha256:[0-9a-f]{16}>")

_RUNTIME_MESSAGES = re.compile(
    r"no matching schedule for (?:completion|timer|sub-orchestration) id=\d+"
    r"|completion kind mismatch for id=\d+, expected '[a-z]+', got '[a-z]+'"
    r"|completion kind mismatch: expected activity"
    r"|completion without open schedule"
    r"|history (?:schedule|OrchestrationChained) but no emitted action"
    r"|quiescence loop: more than \d+ actions in one turn"
)
"""Error messages of duroxide and durascope that hold nothing but ids and kinds."""

_COLLISION_MESSAGE = re.compile(
    r"sub-orchestration instance id '(?P<child>.+)' already exists and is terminal"
)
"""The fail-fast of a colliding child start: kept when it names an instance of the store."""

_CANCEL_REASONS = re.compile(
    r"dropped_future|orchestration_terminal(?:_[a-z_]+)?"
    r"|parent canceled|parent dropped sub-orchestration future"
)
"""The cancel reasons the runtimes write; a client's own reason is user text."""

_VERDICT_REASONS = re.compile(
    r"external event|mailbox message|cancellation requested|cancellation already requested"
    r"|started execution \d+|completion of schedule \d+"
    r"|other execution: addressed to execution \d+, current is \d+"
    r"|duplicate in history|duplicate in this turn|second start item in one batch ignored"
    r"|instance does not exist|instance already running: duplicate start ignored"
    r"|instance terminal(?:: redelivered start of this child"
    r"|: start from another parent; the parent is failed fast)?"
    r"|poison: fetched \d+ times \(max \d+\)|poison: history could not be decoded"
    r"|inferred from history"
)
"""The turn journal's verdict reasons that hold only ids (see also ``_NOT_REGISTERED``)."""

_VERDICT_PREFIXES = ("nondeterminism: ", "history could not be decoded: ")
"""Verdict reasons that end in an error's text: the prefix stays, the text is redacted."""

_NOT_REGISTERED = re.compile(r"orchestration '[^']*' is not registered")
"""The verdict reason of a start for an unknown orchestration: its name is structure."""


def redaction_marker(value: str | None) -> str | None:
    """``<redacted N bytes sha256:XXXXXXXXXXXXXXXX>``: size and a stable hash of a payload."""
    if value is None:
        return None
    raw = value.encode()
    return f"<redacted {len(raw)} bytes sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


def redacted(value: Any) -> Any:
    """The marker of any JSON value: a string's bytes, or another value's compact JSON.

    None stays None (it carries nothing), and a marker stays itself, so a redacted
    bundle redacted again keeps its hashes.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value if _MARKER.fullmatch(value) else redaction_marker(value)
    return redaction_marker(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


class Redactor:
    """The redaction of one export.

    Args:
        instance_ids: The instances of the store being exported; an error message
            naming one of them and nothing else is kept (instance ids are structure).
    """

    def __init__(self, instance_ids: Collection[str]) -> None:
        self._instance_ids = instance_ids

    def events(self, events: Iterable[Event]) -> tuple[Event, ...]:
        """Events with their payloads and free texts redacted."""
        return tuple(self._event(event) for event in events)

    def failed_output(self, output: str | None, events: Iterable[Event]) -> str | None:
        """A failed execution's or turn's output, given the events it failed in.

        The output is the display text of the execution's ``OrchestrationFailed``;
        it becomes the display text of that error redacted, so the category
        (``nondeterministic:``, ``poison:``, ``canceled:``) stays readable.  An
        output that is not the display text of a failure of ``events`` is a marker.
        """
        for event in events:
            if isinstance(event, OrchestrationFailed) and display_message(event.details) == output:
                doc = ERROR_DETAILS_ADAPTER.dump_python(event.details, mode="json")
                return display_message(ERROR_DETAILS_ADAPTER.validate_python(self._details(doc)))
        marker: str | None = redacted(output)
        return marker

    def turn(self, record: TurnRecord, events: Iterable[Event]) -> TurnRecord:
        """A captured turn redacted; ``events`` are its execution's (for a failed output)."""
        doc = json.loads(turn_record_to_json(record))
        for verdict in doc["messages"]:
            verdict["message"] = self._item(verdict["message"])
            verdict["reason"] = self._verdict_reason(verdict["reason"])
        for sent in doc["sent"]:
            sent["item"] = self._item(sent["item"])
        if record.result in ("failed", "poisoned", "cancelled"):
            doc["output"] = self.failed_output(record.output, events)
        else:
            doc["output"] = redacted(record.output)
        doc["custom_status"] = redacted(record.custom_status)
        return TurnRecord.model_validate(doc)

    def queue_row(self, raw: str) -> str:
        """A queue row's work item, redacted; a row that is not JSON becomes one marker."""
        try:
            doc = json.loads(raw)
        except ValueError:  # not JSON: nothing of it is structure (a marker stays itself)
            marker: str = redacted(raw)
            return marker
        item = self._item(doc)
        return item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))

    def _event(self, event: Event) -> Event:
        """A known event keeps its structure; an unknown or undecodable one only its envelope."""
        doc = event_to_dict(event)
        if isinstance(event, UnknownEvent):
            return EVENT_ADAPTER.validate_python(self._fields(doc, ENVELOPE_FIELDS, texts=False))
        return EVENT_ADAPTER.validate_python(self._fields(doc, ENVELOPE_FIELDS | _KEPT_FIELDS))

    def _item(self, doc: Any) -> Any:
        """A work item's JSON (``{"Tag": {...}}``), redacted by the same rules as events."""
        known = True
        try:
            WORK_ITEM_ADAPTER.validate_python(doc)
        except ValidationError:
            known = False
        if not (isinstance(doc, dict) and len(doc) == 1):
            return redacted(doc)
        ((tag, inner),) = doc.items()
        if not isinstance(inner, dict):
            return {tag: redacted(inner)}
        if known:
            return {tag: self._fields(inner, _KEPT_FIELDS)}
        return {tag: self._fields(inner, _ROUTING_FIELDS, texts=False)}

    def _fields(
        self, doc: dict[str, Any], kept: frozenset[str], *, texts: bool = True
    ) -> dict[str, Any]:
        """``doc`` with every field not in ``kept`` redacted (carry-forward events keep names).

        With ``texts``, the model is known: its ``details`` are error details and
        its ``reason`` a cancel reason, each redacted by its own rules.
        """
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if key in kept:
                out[key] = value
            elif texts and key == "details" and isinstance(value, dict):
                out[key] = self._details(value)
            elif texts and key == "reason" and isinstance(value, str):
                out[key] = _cancel_reason(value)
            elif key == "carry_forward_events" and isinstance(value, list):
                out[key] = [
                    [pair[0], redacted(pair[1])]
                    if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                    else redacted(pair)
                    for pair in value
                ]
            else:
                out[key] = redacted(value)
        return out

    def _details(self, doc: dict[str, Any]) -> Any:
        """Error details (``{"Variant": {...}}``) keeping the variant and its tags."""
        if len(doc) != 1:
            return redacted(doc)
        ((variant, inner),) = doc.items()
        if not isinstance(inner, dict):
            return redacted(doc)
        out: dict[str, Any] = {}
        for key, value in inner.items():
            if key == "kind" and isinstance(value, dict):
                out[key] = _cancelled_kind(value)
            elif key in _ERROR_TAG_FIELDS:
                out[key] = value
            elif key == "message_type" and isinstance(value, dict):
                out[key] = _poison_type(value)
            elif key == "message":
                out[key] = self._message(value)
            else:
                out[key] = redacted(value)
        return {variant: out}

    def _message(self, value: Any) -> Any:
        """An error message: None or empty stays (nothing to hide), text goes to ``_text``."""
        return self._text(value) if isinstance(value, str) and value else value

    def _text(self, text: str) -> str:
        """Kept when it is a runtime text of ids only, else a marker."""
        if _RUNTIME_MESSAGES.fullmatch(text):
            return text
        collision = _COLLISION_MESSAGE.fullmatch(text)
        if collision is not None and collision["child"] in self._instance_ids:
            return text
        marker: str = redacted(text)
        return marker

    def _verdict_reason(self, reason: str) -> str:
        if _VERDICT_REASONS.fullmatch(reason) or _NOT_REGISTERED.fullmatch(reason):
            return reason  # the orchestration's name is structure, like everywhere else
        for prefix in _VERDICT_PREFIXES:
            if reason.startswith(prefix):
                return prefix + self._text(reason[len(prefix) :])
        marker: str = redacted(reason)
        return marker


def _cancel_reason(reason: str) -> str:
    if _CANCEL_REASONS.fullmatch(reason):
        return reason
    marker: str = redacted(reason)
    return marker


def _cancelled_kind(kind: dict[str, Any]) -> Any:
    """``{"Cancelled": {"reason": ...}}``: the reason is a cancel reason."""
    inner = kind.get("Cancelled")
    if len(kind) != 1 or not isinstance(inner, dict):
        return redacted(kind)
    return {
        "Cancelled": {
            k: _cancel_reason(v) if k == "reason" and isinstance(v, str) else redacted(v)
            for k, v in inner.items()
        }
    }


def _poison_type(message_type: dict[str, Any]) -> Any:
    """A poison's message type keeps its ids and names; a decode error is text."""
    if len(message_type) != 1:
        return redacted(message_type)
    ((tag, inner),) = message_type.items()
    if not isinstance(inner, dict):
        return redacted(message_type)
    kept = {"instance", "execution_id", "activity_name", "activity_id"}
    return {tag: {k: v if k in kept else redacted(v) for k, v in inner.items()}}
