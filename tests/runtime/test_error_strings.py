"""Every nondeterminism message the engine produces, in duroxide's exact wording.

The same messages from the real duroxide are compared in the differential
scenarios ``nondeterminism``, ``nondeterminism_messages`` and
``misaddressed_completions``; the cases here also cover what the Python API of
duroxide cannot produce (a corrupted history).
"""

from __future__ import annotations

from typing import Any

import pytest

from durascope.history import (
    ActivityCancelRequested,
    ActivityCompleted,
    ActivityCompletedItem,
    ActivityFailed,
    ActivityFailedItem,
    ActivityScheduled,
    CustomStatusUpdated,
    Event,
    ExternalRaised,
    ExternalSubscribed,
    ExternalSubscribedCancelled,
    OrchestrationCancelRequested,
    OrchestrationChained,
    OrchestrationStarted,
    QueueSubscribed,
    QueueSubscriptionCancelled,
    SubOrchCompleted,
    SubOrchestrationCancelRequested,
    SubOrchestrationScheduled,
    TimerCreated,
    TimerFired,
    TimerFiredItem,
    application_error,
)
from durascope.runtime import Registry, TurnInput, TurnOutcome, process_turn
from durascope.runtime._rust_debug import describe_event

GO = ExternalRaised(instance="i", name="go", data="null")


def ev(cls: type[Any], event_id: int, source: int | None = None, **fields: Any) -> Event:
    event: Event = cls(
        event_id=event_id, source_event_id=source, instance_id="i", execution_id=1, **fields
    )
    return event


def started() -> Event:
    return ev(OrchestrationStarted, 1, name="O", version="1.0.0", input="null")


def turn(code: Any, history: list[Event], *messages: Any) -> TurnOutcome:
    reg = Registry()
    reg.add_orchestration("O", code)
    return process_turn(
        TurnInput(
            instance="i",
            current_execution_id=1,
            history=(started(), *history),
            messages=messages or (GO,),
            now_ms=5000,
        ),
        reg,
    )


def failure(out: TurnOutcome) -> str:
    assert out.status == "Failed", out
    assert out.output is not None and out.output.startswith("nondeterministic: ")
    return out.output.removeprefix("nondeterministic: ")


def activity(ctx: Any, _: Any) -> Any:
    return (yield ctx.schedule_activity("A", 1))


# Rust Debug rendering.


def test_set_optional_fields_render_as_some() -> None:
    scheduled = ev(ActivityScheduled, 2, name="A", input='"x"', session_id="s-1", tag="gpu")
    assert describe_event(scheduled) == (
        'ActivityScheduled { name: "A", input: "\\"x\\"", session_id: Some("s-1"), '
        'tag: Some("gpu") }'
    )
    assert describe_event(ev(ActivityScheduled, 2, name="A", input="1")) == (
        'ActivityScheduled { name: "A", input: "1", session_id: None, tag: None }'
    )
    assert describe_event(ev(CustomStatusUpdated, 3, status="s")) == (
        'CustomStatusUpdated { status: Some("s") }'
    )
    assert describe_event(ev(CustomStatusUpdated, 3, status=None)) == (
        "CustomStatusUpdated { status: None }"
    )


def test_started_event_renders_its_parent_link_and_carried_events() -> None:
    child = ev(
        OrchestrationStarted,
        1,
        name="C",
        version="1.0.0",
        input="2",
        parent_instance="P",
        parent_id=2,
        carry_forward_events=(("q", '"b"'),),
        initial_custom_status="s",
        parent_execution_id=3,
    )
    assert describe_event(child) == (
        'OrchestrationStarted { name: "C", version: "1.0.0", input: "2", '
        'parent_instance: Some("P"), parent_id: Some(2), '
        'carry_forward_events: Some([("q", "\\"b\\"")]), initial_custom_status: Some("s"), '
        "parent_execution_id: Some(3) }"
    )


def test_error_details_render_as_rust_enums() -> None:
    failed = ev(ActivityFailed, 3, 2, details=application_error("ActivityFailed", "boom"))
    assert describe_event(failed) == (
        'ActivityFailed { details: Application { kind: ActivityFailed, message: "boom", '
        "retryable: false } }"
    )
    queue = ev(QueueSubscribed, 2, name="inbox")
    assert describe_event(queue) == 'QueueSubscribed { name: "inbox" }'


# Schedule and custom status mismatches.


def test_schedule_mismatch_shows_some_for_the_recorded_session() -> None:
    def other_session(ctx: Any, _: Any) -> Any:
        return (yield ctx.schedule_activity_on_session("A", 1, "s-2"))

    history = [ev(ActivityScheduled, 2, name="A", input="1", session_id="s-1")]
    assert failure(turn(other_session, history)) == (
        'schedule mismatch: action=CallActivity { scheduling_event_id: 0, name: "A", '
        'input: "1", session_id: Some("s-2"), tag: None } vs event=ActivityScheduled '
        '{ name: "A", input: "1", session_id: Some("s-1"), tag: None }'
    )


def test_auto_child_placeholder_counts_the_schedules_emitted() -> None:
    def fan(ctx: Any, _: Any) -> Any:
        return (
            yield ctx.all(
                [
                    ctx.schedule_timer(10),
                    ctx.schedule_activity("A", 1),
                    ctx.schedule_sub_orchestration_versioned("C", "2.0.0", 2),
                ]
            )
        )

    history = [
        ev(TimerCreated, 2, fire_at_ms=10),
        ev(ActivityScheduled, 3, name="A", input="1"),
        ev(ActivityScheduled, 4, name="A", input="2"),
    ]
    assert failure(turn(fan, history)) == (
        'schedule mismatch: action=StartSubOrchestration { scheduling_event_id: 0, name: "C", '
        'version: Some("2.0.0"), instance: "sub::pending_3", input: "2" } vs '
        'event=ActivityScheduled { name: "A", input: "2", session_id: None, tag: None }'
    )


def test_custom_status_event_against_another_action_is_a_custom_status_mismatch() -> None:
    history = [ev(CustomStatusUpdated, 2, status="waiting")]
    assert failure(turn(activity, history)) == (
        'custom status mismatch: action=CallActivity { scheduling_event_id: 0, name: "A", '
        'input: "1", session_id: None, tag: None } vs event=CustomStatusUpdated '
        '{ status: Some("waiting") }'
    )


def test_custom_status_action_against_a_schedule_is_a_schedule_mismatch() -> None:
    def status_first(ctx: Any, _: Any) -> Any:
        ctx.set_custom_status("x")
        return (yield ctx.schedule_activity("A", 1))

    history = [ev(ActivityScheduled, 2, name="A", input="1")]
    assert failure(turn(status_first, history)) == (
        'schedule mismatch: action=UpdateCustomStatus { status: Some("x") } vs '
        'event=ActivityScheduled { name: "A", input: "1", session_id: None, tag: None }'
    )


def test_custom_status_event_with_no_action_emitted_yet_is_accepted() -> None:
    """duroxide pops an action for CustomStatusUpdated only when there is one."""
    history = [
        ev(ActivityScheduled, 2, name="A", input="1"),
        ev(CustomStatusUpdated, 3, status="from elsewhere"),
    ]
    out = turn(
        activity, history, ActivityCompletedItem(instance="i", execution_id=1, id=2, result="7")
    )
    assert (out.status, out.output) == ("Completed", "7")


def test_history_chained_start_without_an_action() -> None:
    history = [
        ev(ActivityScheduled, 2, name="A", input="1"),
        ev(OrchestrationChained, 3, name="C", instance="c", input="null"),
    ]
    assert failure(turn(activity, history)) == "history OrchestrationChained but no emitted action"


# Completions that point at the wrong schedule.


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            ActivityCompletedItem(instance="i", execution_id=1, id=1, result="1"),
            "no matching schedule for completion id=1",
        ),
        (
            ActivityFailedItem(
                instance="i", execution_id=1, id=9, details=application_error("ActivityFailed", "x")
            ),
            "no matching schedule for completion id=9",
        ),
        (
            TimerFiredItem(instance="i", execution_id=1, id=77, fire_at_ms=0),
            "no matching schedule for timer id=77",
        ),
        (
            TimerFiredItem(instance="i", execution_id=1, id=2, fire_at_ms=0),
            "completion kind mismatch for id=2, expected 'activity', got 'timer'",
        ),
        (
            SubOrchCompleted(parent_instance="i", parent_execution_id=1, parent_id=2, result="1"),
            "completion kind mismatch for id=2, expected 'activity', got 'suborchestration'",
        ),
        (
            SubOrchCompleted(parent_instance="i", parent_execution_id=1, parent_id=9, result="1"),
            "no matching schedule for sub-orchestration id=9",
        ),
    ],
)
def test_misaddressed_completion_is_rejected_before_it_is_applied(
    message: Any, expected: str
) -> None:
    out = turn(activity, [ev(ActivityScheduled, 2, name="A", input="1")], message)
    assert failure(out) == expected
    assert out.verdicts[0].verdict == "aborted"


def test_redelivered_activity_failure_is_a_duplicate_and_a_late_completion_fails() -> None:
    """A redelivered failure is dropped (duroxide 0.1.32 records it again and fails).

    duroxide's duplicate check has no ActivityFailed arm; durascope deliberately
    treats a failure like every other completion.  A *completion* after a failure is
    not a duplicate, and replay fails on it as in duroxide.
    """

    def catching(ctx: Any, _: Any) -> Any:
        try:
            yield ctx.schedule_activity("A", 1)
        except Exception:
            ctx.set_custom_status("caught")
        return (yield ctx.wait_for_event("go"))

    history = [
        ev(ActivityScheduled, 2, name="A", input="1"),
        ev(ActivityFailed, 3, 2, details=application_error("ActivityFailed", "x")),
        ev(CustomStatusUpdated, 4, status="caught"),
        ev(ExternalSubscribed, 5, name="go"),
    ]
    again = ActivityFailedItem(
        instance="i", execution_id=1, id=2, details=application_error("ActivityFailed", "x")
    )
    out = turn(catching, history, again)
    assert [(v.verdict, v.reason) for v in out.verdicts] == [("duplicate", "duplicate in history")]
    assert out.result == "continue" and out.delta == ()
    done = ActivityCompletedItem(instance="i", execution_id=1, id=2, result="1")
    assert failure(turn(catching, history, done)) == "completion without open schedule"


def test_completion_of_a_timer_in_history_as_an_activity() -> None:
    history = [ev(TimerCreated, 2, fire_at_ms=10), ev(ActivityCompleted, 3, 2, result="1")]

    def timer(ctx: Any, _: Any) -> Any:
        return (yield ctx.schedule_timer(10))

    assert failure(turn(timer, history)) == "completion kind mismatch: expected activity"


def test_completion_in_history_without_its_schedule() -> None:
    history = [ev(TimerFired, 2, 1, fire_at_ms=10)]
    assert failure(turn(activity, history)) == "completion without open schedule"


# Dropped futures that the code no longer drops.


def race_loser(kind: str) -> Any:
    def code(ctx: Any, _: Any) -> Any:
        loser = {
            "activity": ctx.schedule_activity("A", 1),
            "suborch": ctx.schedule_sub_orchestration("C", 1),
            "external": ctx.wait_for_event("e"),
            "queue": ctx.dequeue_event("q"),
        }[kind]
        yield ctx.race(loser, ctx.schedule_timer(10))
        return (yield ctx.wait_for_event("go"))

    return code


def no_race(ctx: Any, _: Any) -> Any:
    """New code that returns at once: it drops nothing history says was dropped."""
    return "changed"
    yield


SCHEDULES: dict[str, tuple[Event, Event]] = {
    "activity": (
        ev(ActivityScheduled, 2, name="A", input="1"),
        ev(ActivityCancelRequested, 6, 2, reason="dropped_future"),
    ),
    "suborch": (
        ev(SubOrchestrationScheduled, 2, name="C", instance="sub::2", input="1"),
        ev(SubOrchestrationCancelRequested, 6, 2, reason="dropped_future"),
    ),
    "external": (
        ev(ExternalSubscribed, 2, name="e"),
        ev(ExternalSubscribedCancelled, 6, 2, reason="dropped_future"),
    ),
    "queue": (
        ev(QueueSubscribed, 2, name="q"),
        ev(QueueSubscriptionCancelled, 6, 2, reason="dropped_future"),
    ),
}
LABELS = {
    "activity": "activities",
    "suborch": "sub-orchestrations",
    "external": "external waits",
    "queue": "persistent waits",
}


def dropped_history(kind: str) -> list[Event]:
    schedule, breadcrumb = SCHEDULES[kind]
    return [
        schedule,
        ev(TimerCreated, 3, fire_at_ms=10),
        ev(TimerFired, 4, 3, fire_at_ms=10),
        ev(ExternalSubscribed, 5, name="go"),
        breadcrumb,
    ]


@pytest.mark.parametrize("kind", sorted(SCHEDULES))
def test_replaying_the_same_drop_is_accepted(kind: str) -> None:
    out = turn(race_loser(kind), dropped_history(kind))
    assert out.status == "Completed", out.output


@pytest.mark.parametrize("kind", sorted(SCHEDULES))
def test_a_drop_history_records_but_the_code_no_longer_makes(kind: str) -> None:
    assert failure(turn(no_race, dropped_history(kind))) == (
        f"cancellation mismatch ({LABELS[kind]}): baseline_dropped_future_cancel_requests={{2}} "
        "ctx_cancelled_in_replayed_segment={}"
    )


def test_the_drop_check_is_skipped_for_a_cancelled_execution() -> None:
    history = [*dropped_history("activity"), ev(OrchestrationCancelRequested, 7, reason="stop")]
    out = turn(no_race, history)
    assert out.output == "canceled: stop"
