"""The history model round-trips duroxide's JSON exactly (hypothesis + real lines)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from durascope.history import (
    KNOWN_EVENT_CLASSES,
    ApplicationError,
    Cancelled,
    ConfigurationError,
    InfrastructureError,
    PoisonActivity,
    PoisonError,
    PoisonFailedDeserialization,
    PoisonOrchestration,
    TurnRecord,
    UnknownEvent,
    event_from_json,
    event_to_json,
    turn_record_from_json,
    turn_record_to_json,
    work_item_from_json,
    work_item_to_json,
)
from durascope.history import _work_items as work_items

text = st.text(max_size=20)
ints = st.integers(min_value=0, max_value=2**53)
maybe_text = st.none() | text
maybe_int = st.none() | ints

error_details = st.one_of(
    st.builds(
        ApplicationError,
        kind=st.sampled_from(["ActivityFailed", "OrchestrationFailed", "Panicked"])
        | st.builds(Cancelled, reason=text),
        message=text,
        retryable=st.booleans(),
    ),
    st.builds(
        ConfigurationError, kind=st.just("Nondeterminism"), resource=text, message=maybe_text
    ),
    st.builds(InfrastructureError, operation=text, message=text, retryable=st.booleans()),
    st.builds(
        PoisonError,
        attempt_count=ints,
        max_attempts=ints,
        message_type=st.one_of(
            st.builds(PoisonOrchestration, instance=text, execution_id=ints),
            st.builds(
                PoisonActivity,
                instance=text,
                execution_id=ints,
                activity_name=text,
                activity_id=ints,
            ),
            st.builds(PoisonFailedDeserialization, instance=text, execution_id=ints, error=text),
        ),
        message=text,
    ),
)


def field_strategy(annotation: Any) -> st.SearchStrategy[Any]:
    name = str(annotation)
    if "ErrorDetails" in name or "ApplicationError" in name:
        return error_details
    if "tuple[tuple[str, str]" in name:
        pairs = st.lists(st.tuples(text, text), max_size=3).map(tuple)
        return st.none() | pairs if "None" in name else pairs
    if name in ("int",) or annotation is int:
        return ints
    if "int" in name and "None" in name:
        return maybe_int
    if annotation is bool:
        return st.booleans()
    if "str" in name and "None" in name:
        return maybe_text
    return text


def model_strategy(cls: type[Any]) -> st.SearchStrategy[Any]:
    fields = {
        n: field_strategy(f.annotation) for n, f in cls.model_fields.items() if n not in ("type",)
    }
    return st.builds(cls, **fields)


events = st.one_of(*(model_strategy(cls) for cls in KNOWN_EVENT_CLASSES))
items = st.one_of(
    *(
        model_strategy(cls)
        for cls in (
            work_items.StartOrchestration,
            work_items.ActivityExecute,
            work_items.ActivityCompletedItem,
            work_items.ActivityFailedItem,
            work_items.TimerFiredItem,
            work_items.ExternalRaised,
            work_items.QueueMessage,
            work_items.SubOrchCompleted,
            work_items.SubOrchFailed,
            work_items.CancelInstance,
            work_items.ContinueAsNew,
        )
    )
)


@settings(max_examples=300)
@given(events)
def test_events_round_trip(event: Any) -> None:
    encoded = event_to_json(event)
    decoded = event_from_json(encoded)
    assert decoded == event
    assert event_to_json(decoded) == encoded
    assert json.loads(encoded)["type"] == event.type


@settings(max_examples=200)
@given(items)
def test_work_items_round_trip(item: Any) -> None:
    encoded = work_item_to_json(item)
    assert work_item_from_json(encoded) == item
    assert list(json.loads(encoded)) == [type(item).variant]


@settings(max_examples=50)
@given(st.lists(items, max_size=3), st.lists(st.integers(1, 50), max_size=5))
def test_turn_records_round_trip(messages: list[Any], ids: list[int]) -> None:
    from durascope.history import MessageVerdict

    record = TurnRecord(
        instance="i",
        execution_id=1,
        turn=1,
        timestamp_ms=1,
        messages=tuple(MessageVerdict(message=m, verdict="applied", reason="r") for m in messages),
        delta_event_ids=tuple(ids),
        result="continue",
    )
    assert turn_record_from_json(turn_record_to_json(record)) == record


@settings(max_examples=100)
@given(
    st.text(min_size=1, max_size=20).filter(lambda t: not t[0].isupper()),
    st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: k not in ("type", "event_id")),
        st.integers(),
        max_size=3,
    ),
)
def test_unknown_event_types_keep_their_fields(kind: str, extra: dict[str, int]) -> None:
    raw = {
        "event_id": 3,
        "source_event_id": None,
        "instance_id": "i",
        "execution_id": 1,
        "timestamp_ms": 5,
        "duroxide_version": "x",
        "type": f"future{kind}",
        **extra,
    }
    event = event_from_json(json.dumps(raw))
    assert isinstance(event, UnknownEvent)
    assert json.loads(event_to_json(event)) == raw


# Lines observed in duroxide 0.1.32 SQLite stores: byte-for-byte round trips.
REAL_EVENTS = [
    '{"event_id":1,"source_event_id":null,"instance_id":"can-job::sub::2_3","execution_id":1,"timestamp_ms":1795543517303,"duroxide_version":"0.1.32","type":"OrchestrationStarted","name":"Child","version":"1.0.0","input":"\\"1\\"","parent_instance":"can-job","parent_id":3,"parent_execution_id":2}',
    '{"event_id":7,"source_event_id":null,"instance_id":"w2","execution_id":1,"timestamp_ms":1795543518516,"duroxide_version":"0.1.32","type":"OrchestrationFailed","details":{"Application":{"kind":{"Cancelled":{"reason":"by_user"}},"message":"","retryable":false}}}',
    '{"event_id":1,"source_event_id":null,"instance_id":"w","execution_id":2,"timestamp_ms":1,"duroxide_version":"0.1.32","type":"OrchestrationStarted","name":"Waiter","version":"1.0.0","input":"2","parent_instance":null,"parent_id":null,"carry_forward_events":[["q","\\"m2\\""]],"initial_custom_status":"s1"}',
    '{"event_id":6,"source_event_id":3,"instance_id":"cm","execution_id":1,"timestamp_ms":1,"duroxide_version":"0.1.32","type":"ActivityCancelRequested","reason":"orchestration_terminal_failed"}',
]
REAL_ITEMS = [
    '{"StartOrchestration":{"instance":"q1","orchestration":"Parent","input":"\\"0\\"","version":null,"parent_instance":null,"parent_id":null,"execution_id":1}}',
    '{"TimerFired":{"instance":"race","execution_id":1,"id":3,"fire_at_ms":1795545381338}}',
]


@pytest.mark.parametrize("line", REAL_EVENTS)
def test_real_duroxide_events_round_trip_byte_for_byte(line: str) -> None:
    assert event_to_json(event_from_json(line)) == line


@pytest.mark.parametrize("line", REAL_ITEMS)
def test_real_duroxide_work_items_round_trip_byte_for_byte(line: str) -> None:
    assert work_item_to_json(work_item_from_json(line)) == line
