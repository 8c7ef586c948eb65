"""The pure turn function: verdicts, duplicates, nondeterminism, poison, carry-forward."""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

import pytest

from durascope.history import (
    ActivityCompletedItem,
    ActivityFailedItem,
    ActivityScheduled,
    CancelInstance,
    ExternalRaised,
    OrchestrationStarted,
    PoisonError,
    QueueMessage,
    StartOrchestration,
    SubOrchCompleted,
    TimerFiredItem,
    application_error,
    nondeterminism_error,
)
from durascope.runtime import (
    ENGINE_VERSION,
    Registry,
    Simulation,
    TurnInput,
    TurnOutcome,
    process_turn,
)
from durascope.runtime import _simulator as simulator_module


def one_activity(ctx: Any, x: Any) -> Any:
    result = yield ctx.schedule_activity("A", x)
    return result


def other_activity(ctx: Any, x: Any) -> Any:
    result = yield ctx.schedule_activity("B", x)
    return result


def no_schedule(ctx: Any, x: Any) -> Any:
    return x
    yield  # a generator that never schedules


def code(fn: Any) -> Registry:
    reg = Registry()
    reg.add_orchestration("O", fn)
    reg.add_activity("A", lambda ctx, x: x)
    reg.add_activity("B", lambda ctx, x: x)
    return reg


def started(**kw: Any) -> OrchestrationStarted:
    return OrchestrationStarted(
        event_id=1, instance_id="i", execution_id=1, name="O", version="1.0.0", input="1", **kw
    )


def scheduled_a() -> ActivityScheduled:
    return ActivityScheduled(event_id=2, instance_id="i", execution_id=1, name="A", input="1")


def turn(messages: tuple[Any, ...], history: tuple[Any, ...] = (), **kw: Any) -> TurnInput:
    return TurnInput(
        instance="i",
        current_execution_id=1 if history else 0,
        history=history,
        messages=messages,
        now_ms=1000,
        **kw,
    )


def start_item() -> StartOrchestration:
    return StartOrchestration(instance="i", orchestration="O", input="1")


def completed(exec_id: int = 1, ident: int = 2) -> ActivityCompletedItem:
    return ActivityCompletedItem(instance="i", execution_id=exec_id, id=ident, result='"r"')


def test_first_turn_starts_and_schedules() -> None:
    out = process_turn(turn((start_item(),)), code(one_activity))
    assert [e.type for e in out.delta] == ["OrchestrationStarted", "ActivityScheduled"]
    assert out.delta[0].duroxide_version == ENGINE_VERSION
    assert out.result == "continue"
    assert [w.name for w in out.worker_items] == ["A"]
    assert out.verdicts[0].verdict == "applied"
    assert out.verdicts[0].event_id == 1


def test_completion_applies_and_completes() -> None:
    out = process_turn(turn((completed(),), (started(), scheduled_a())), code(one_activity))
    assert [e.type for e in out.delta] == ["ActivityCompleted", "OrchestrationCompleted"]
    assert out.status == "Completed"
    assert out.output == '"r"'


def test_other_execution_is_filtered() -> None:
    out = process_turn(
        turn((completed(exec_id=7),), (started(), scheduled_a())), code(one_activity)
    )
    assert out.delta == ()
    assert out.verdicts[0].verdict == "filtered"
    assert out.verdicts[0].reason == "other execution: addressed to execution 7, current is 1"


def test_duplicates_in_history_and_in_turn() -> None:
    history = (started(), scheduled_a())
    out = process_turn(turn((completed(), completed()), history), code(one_activity))
    assert [v.verdict for v in out.verdicts] == ["applied", "duplicate"]
    assert out.verdicts[1].reason == "duplicate in this turn"
    # Once the execution is terminal, a redelivery is fast-acked.
    again = process_turn(turn((completed(),), history + out.delta), code(one_activity))
    assert again.verdicts[0].verdict == "discarded"
    assert again.verdicts[0].reason == "instance terminal"


def test_duplicate_in_history_while_running() -> None:
    reg = code(
        lambda ctx, x: (
            yield ctx.all([ctx.schedule_activity("A", 1), ctx.schedule_activity("A", 2)])
        )
    )
    first = process_turn(turn((start_item(),)), reg)
    history = first.delta
    done = process_turn(turn((completed(ident=2),), history), reg)
    history = history + done.delta
    again = process_turn(turn((completed(ident=2),), history), reg)
    assert [v.verdict for v in again.verdicts] == ["duplicate"]
    assert again.verdicts[0].reason == "duplicate in history"
    assert again.delta == ()


def test_code_change_is_a_schedule_mismatch() -> None:
    out = process_turn(turn((completed(),), (started(), scheduled_a())), code(other_activity))
    assert out.status == "Failed"
    assert out.output is not None
    assert out.output.startswith("nondeterministic: schedule mismatch: action=CallActivity")
    assert "ActivityScheduled" in out.output
    assert out.delta[-1].type == "OrchestrationFailed"


def test_removed_schedule_is_history_schedule_without_action() -> None:
    def only_a(ctx: Any, x: Any) -> Any:
        results = yield ctx.all([ctx.schedule_activity("A", x)])
        return results

    scheduled_b = ActivityScheduled(
        event_id=3, instance_id="i", execution_id=1, name="B", input="1"
    )
    raised = ExternalRaised(instance="i", name="go", data="1")
    out = process_turn(turn((raised,), (started(), scheduled_a(), scheduled_b)), code(only_a))
    assert out.output == "nondeterministic: history schedule but no emitted action"


def test_code_that_returns_early_is_not_checked_against_the_rest() -> None:
    """duroxide stops matching history once the output is ready (observed with 0.1.32)."""
    out = process_turn(turn((completed(),), (started(), scheduled_a())), code(no_schedule))
    assert out.status == "Completed"
    assert out.output == "1"


def test_completion_kind_mismatch_and_missing_schedule() -> None:
    timer = TimerFiredItem(instance="i", execution_id=1, id=2, fire_at_ms=5)
    out = process_turn(turn((timer,), (started(), scheduled_a())), code(one_activity))
    assert out.output == (
        "nondeterministic: completion kind mismatch for id=2, expected 'activity', got 'timer'"
    )
    assert out.verdicts[0].verdict == "aborted"
    sub = SubOrchCompleted(parent_instance="i", parent_execution_id=1, parent_id=9, result="1")
    out = process_turn(turn((sub,), (started(), scheduled_a())), code(one_activity))
    assert out.output == "nondeterministic: no matching schedule for sub-orchestration id=9"


def test_system_error_in_a_completion_aborts_the_turn() -> None:
    details = nondeterminism_error("child diverged")
    failed = ActivityFailedItem(instance="i", execution_id=1, id=2, details=details)
    out = process_turn(turn((failed,), (started(), scheduled_a())), code(one_activity))
    assert out.status == "Failed"
    assert out.output == "nondeterministic: child diverged"


def test_application_error_raises_in_the_code() -> None:
    def catching(ctx: Any, x: Any) -> Any:
        try:
            yield ctx.schedule_activity("A", x)
        except Exception as exc:
            return f"caught {exc}"
        return "no"

    failed = ActivityFailedItem(
        instance="i", execution_id=1, id=2, details=application_error("ActivityFailed", "boom")
    )
    out = process_turn(turn((failed,), (started(), scheduled_a())), code(catching))
    assert out.output == '"caught boom"'


def test_missing_instance_batch_is_discarded_not_blocking() -> None:
    out = process_turn(turn((CancelInstance(instance="i", reason="x"),)), code(one_activity))
    assert out.result == "discarded"
    assert out.verdicts[0].verdict == "discarded"
    assert out.verdicts[0].reason == "instance does not exist"


def test_poison_after_max_attempts() -> None:
    out = process_turn(turn((start_item(),), attempt=4, max_attempts=3), code(one_activity))
    assert out.result == "poisoned"
    failed = out.delta[-1]
    assert failed.type == "OrchestrationFailed"
    assert isinstance(failed.details, PoisonError)  # type: ignore[union-attr]
    assert out.output == "poison: orchestration i exceeded 4 attempts (max 3)"


def test_unregistered_orchestration_is_abandoned_with_backoff() -> None:
    out = process_turn(turn((start_item(),), attempt=3), Registry())
    assert out.abandon_delay_ms == 4000
    assert out.verdicts[0].verdict == "aborted"


def test_cancel_takes_precedence_and_cascades() -> None:
    def parent(ctx: Any, _: Any) -> Any:
        result = yield ctx.schedule_sub_orchestration("C", 1)
        return result

    reg = code(parent)
    first = process_turn(turn((start_item(),)), reg)
    out = process_turn(turn((CancelInstance(instance="i", reason="stop"),), first.delta), reg)
    assert [e.type for e in out.delta] == ["OrchestrationCancelRequested", "OrchestrationFailed"]
    assert out.output == "canceled: stop"
    assert [i.instance for i in out.orchestrator_items] == ["i::sub::2"]  # type: ignore[union-attr]


async def test_mailbox_messages_carry_forward_across_continue_as_new() -> None:
    def mailbox(ctx: Any, n: int) -> Any:
        got = yield ctx.dequeue_event("q")
        if n == 1:
            return (yield ctx.continue_as_new(2))
        second = yield ctx.dequeue_event("q")
        return [got, second]

    sim = Simulation(code(mailbox))
    sim.start("m", "O", 1)
    sim.enqueue_event("m", "q", "a")
    sim.enqueue_event("m", "q", "b")
    sim.enqueue_event("m", "q", "c")
    await sim.run()
    state = sim.instances["m"]
    assert state.output == '["b", "c"]'
    exec2 = state.executions[2]
    assert exec2[0].carry_forward_events == (("q", '"b"'), ("q", '"c"'))  # type: ignore[union-attr]
    assert [e.type for e in exec2[1:3]] == ["ExternalEventPersistent"] * 2


async def test_positional_event_raised_before_the_wait_is_not_delivered() -> None:
    def waits(ctx: Any, _: Any) -> Any:
        yield ctx.schedule_timer(10)
        won = yield ctx.race(ctx.wait_for_event("go"), ctx.schedule_timer(100))
        return won["index"]

    sim = Simulation(code(waits))
    sim.start("w", "O")
    sim.raise_event("w", "go", 1)
    await sim.run()
    assert sim.instances["w"].output == "1"
    types = [e.type for e in sim.history("w")]
    assert types.index("ExternalEvent") < types.index("ExternalSubscribed")


def multi_turn(ctx: Any, n: int) -> Any:
    """Many turns: a fan-out, a timer, a child, an event, custom status, continue-as-new."""
    ctx.set_custom_status(f"round {n}")
    results = yield ctx.all([ctx.schedule_activity("A", i) for i in range(3)])
    yield ctx.schedule_timer(50)
    child = yield ctx.schedule_sub_orchestration("Child", n)
    if n == 1:
        return (yield ctx.continue_as_new(2))
    ctx.set_custom_status("waiting")
    event = yield ctx.wait_for_event("go")
    return [results, child, event, ctx.get_custom_status()]


def child_code(ctx: Any, x: int) -> Any:
    return (yield ctx.schedule_activity("B", x * 10))


async def recorded_turns(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> tuple[Simulation, list[tuple[TurnInput, TurnOutcome]]]:
    """Run ``multi_turn`` on the simulator, keeping every turn's input and outcome."""
    recorded: list[tuple[TurnInput, TurnOutcome]] = []

    def recording(inp: TurnInput, resolver: Any) -> TurnOutcome:
        outcome = process_turn(inp, resolver)
        recorded.append((inp, outcome))
        return outcome

    monkeypatch.setattr(simulator_module, "process_turn", recording)
    sim = Simulation(reg)
    sim.start("f", "O", 1)
    await sim.run()
    sim.raise_event("f", "go", "now")
    await sim.run()
    return sim, recorded


def replay_differences(reg: Registry, recorded: list[tuple[TurnInput, TurnOutcome]]) -> list[str]:
    """Every recorded turn whose input, run again through process_turn, gives another outcome."""
    return [
        f"turn {n} of {inp.instance}: {again} != {outcome}"
        for n, (inp, outcome) in enumerate(recorded)
        if (again := process_turn(inp, reg)) != outcome
    ]


async def test_replay_is_deterministic_across_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-running every recorded turn's input through the pure turn function gives the
    same outcome: the same verdicts, delta, work items and result."""
    reg = code(multi_turn)
    reg.add_orchestration("Child", child_code)
    sim, recorded = await recorded_turns(reg, monkeypatch)
    state = sim.instances["f"]
    assert (state.status, state.current_execution_id) == ("Completed", 2)
    assert json.loads(state.output or "") == [
        [{"ok": 0}, {"ok": 1}, {"ok": 2}],
        20,
        "now",
        "waiting",
    ]
    parent_turns = [(inp, out) for inp, out in recorded if inp.instance == "f"]
    assert len(parent_turns) >= 8 and len(recorded) > len(parent_turns)
    # Turns after the first replay a persisted history: the code runs from the start.
    assert sum(1 for inp, _ in parent_turns if inp.history) >= 6
    assert replay_differences(reg, recorded) == []
    # The recorded deltas are exactly what each execution's history holds.
    for execution, events in state.executions.items():
        deltas = [e for _, out in parent_turns if out.execution_id == execution for e in out.delta]
        assert deltas == events


async def test_the_replay_check_catches_code_that_is_not_deterministic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The comparison above can fail: code that reads a changing global does."""
    calls = itertools.count()

    def flaky(ctx: Any, n: int) -> Any:
        results = yield ctx.all([ctx.schedule_activity("A", i) for i in range(next(calls) % 2 + 2)])
        yield ctx.schedule_timer(50)
        yield ctx.schedule_sub_orchestration("Child", n)
        yield ctx.wait_for_event("go")
        return results

    reg = code(flaky)
    reg.add_orchestration("Child", child_code)
    _, recorded = await recorded_turns(reg, monkeypatch)
    assert replay_differences(reg, recorded) != []


def test_queue_message_for_running_instance_is_applied() -> None:
    out = process_turn(
        turn((QueueMessage(instance="i", name="q", data="1"),), (started(), scheduled_a())),
        code(one_activity),
    )
    assert [e.type for e in out.delta] == ["ExternalEventPersistent"]
    assert out.result == "continue"


def test_detached_start_in_a_cancelled_turn_is_not_sent() -> None:
    """duroxide sends detached starts only from a turn that completes or fails."""

    def chains_on_go(ctx: Any, _: Any) -> Any:
        yield ctx.wait_for_event("go")
        yield ctx.start_orchestration("O", "detached", 1)
        return "done"

    reg = code(chains_on_go)
    first = process_turn(turn((start_item(),)), reg)
    go = ExternalRaised(instance="i", name="go", data="1")
    cancel = CancelInstance(instance="i", reason="stop")
    cancelled = process_turn(turn((go, cancel), first.delta), reg)
    assert cancelled.result == "cancelled"
    assert "OrchestrationChained" in [e.type for e in cancelled.delta]
    assert cancelled.orchestrator_items == ()
    completed = process_turn(turn((go,), first.delta), reg)
    assert completed.result == "completed"
    assert [i.instance for i in completed.orchestrator_items] == ["detached"]  # type: ignore[union-attr]


NOT_A_TASK = (
    "an orchestration yielded int, which is not a task "
    "(yield what ctx.schedule_*/wait_for_event/all/race return)"
)


@pytest.mark.parametrize(
    "body",
    [
        lambda ctx: 42,
        lambda ctx: ctx.all([ctx.schedule_timer(1), 42]),  # nothing of it is scheduled
        lambda ctx: ctx.race(ctx.schedule_activity("A", 1), ctx.all([42])),
    ],
)
def test_yielding_what_is_not_a_task_fails_the_orchestration(body: Any) -> None:
    """As duroxide does ("Invalid generator step result"): no abandon, no retry, no poison."""

    def orchestration(ctx: Any, x: Any) -> Any:
        yield body(ctx)

    out = process_turn(turn((start_item(),)), code(orchestration))
    assert out.abandon_delay_ms is None
    assert [e.type for e in out.delta] == ["OrchestrationStarted", "OrchestrationFailed"]
    assert (out.status, out.output) == ("Failed", NOT_A_TASK)
    assert out.delta[-1].details == application_error("OrchestrationFailed", NOT_A_TASK)  # type: ignore[union-attr]
    assert out.worker_items == () and out.orchestrator_items == ()


def _raises(ctx: Any, x: Any) -> Any:
    raise ValueError("boom before any yield")


def _exits(ctx: Any, x: Any) -> Any:
    sys.exit(4)
    yield


def _returns_an_object(ctx: Any, x: Any) -> Any:
    return object()


def _completes_with_an_object(ctx: Any, x: Any) -> Any:
    yield ctx.all([])
    return object()


@pytest.mark.parametrize(
    ("fn", "last_line"),
    [
        (_raises, "ValueError: boom before any yield"),
        (_exits, "SystemExit: 4"),
        (_returns_an_object, "TypeError: Object of type object is not JSON serializable"),
        (_completes_with_an_object, "TypeError: Object of type object is not JSON serializable"),
    ],
)
def test_whatever_the_orchestration_code_raises_fails_the_orchestration(
    fn: Any, last_line: str
) -> None:
    """duroxide-python fails the orchestration for these too; the turn is not retried."""
    out = process_turn(turn((start_item(),)), code(fn))
    assert out.abandon_delay_ms is None
    assert out.delta[0].type == "OrchestrationStarted"
    assert out.delta[-1].type == "OrchestrationFailed"
    assert out.status == "Failed"
    assert out.output is not None
    assert out.output.strip().splitlines()[-1] == last_line
