"""JSON codecs for events, work items and turn records (TypeAdapters built once)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from durascope.history._errors import ErrorDetails
from durascope.history._events import Event
from durascope.history._turns import TurnRecord
from durascope.history._work_items import WorkItem

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENTS_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
WORK_ITEM_ADAPTER: TypeAdapter[WorkItem] = TypeAdapter(WorkItem)
ERROR_DETAILS_ADAPTER: TypeAdapter[ErrorDetails] = TypeAdapter(ErrorDetails)
TURN_RECORD_ADAPTER: TypeAdapter[TurnRecord] = TypeAdapter(TurnRecord)


class HistoryDecodeError(ValueError):
    """Raised when stored JSON is not a valid event, work item or turn record."""


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {"msg": str(exc), "loc": ()}
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{first['msg']} at {loc}" if loc else str(first["msg"])


def event_from_json(data: str | bytes) -> Event:
    """Decode one event from duroxide's JSON; unknown types become UnknownEvent."""
    try:
        return EVENT_ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise HistoryDecodeError(f"invalid event: {_one_line(exc)}") from None


def event_from_dict(data: Any) -> Event:
    """Decode one event from an already parsed JSON object."""
    try:
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise HistoryDecodeError(f"invalid event: {_one_line(exc)}") from None


def event_to_json(event: Event) -> str:
    """Encode one event exactly as duroxide would."""
    return EVENT_ADAPTER.dump_json(event).decode()


def event_to_dict(event: Event) -> dict[str, Any]:
    """Encode one event as a JSON-ready dict in duroxide's shape."""
    data: dict[str, Any] = EVENT_ADAPTER.dump_python(event, mode="json")
    return data


def events_to_dicts(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Encode several events as JSON-ready dicts."""
    return [event_to_dict(e) for e in events]


def work_item_from_json(data: str | bytes) -> WorkItem:
    """Decode one work item from duroxide's JSON."""
    try:
        return WORK_ITEM_ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise HistoryDecodeError(f"invalid work item: {_one_line(exc)}") from None


def work_item_to_json(item: WorkItem) -> str:
    """Encode one work item exactly as duroxide would."""
    return WORK_ITEM_ADAPTER.dump_json(item).decode()


def turn_record_from_json(data: str | bytes) -> TurnRecord:
    """Decode a stored turn record."""
    try:
        return TURN_RECORD_ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise HistoryDecodeError(f"invalid turn record: {_one_line(exc)}") from None


def turn_record_to_json(record: TurnRecord) -> str:
    """Encode a turn record."""
    return TURN_RECORD_ADAPTER.dump_json(record).decode()
