"""Timeline and stepper: captured and inferred turns, and the time-travel properties."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from durascope.replay import Model, Stepper, Timeline, fold
from durascope.replay._bundle import build_bundle, bundle_to_model
from durascope.replay._timeline import MESSAGE_EVENTS


def test_captured_turns_follow_the_journal(scenario_model: Model) -> None:
    tl = Timeline.of(scenario_model.instance("healthy-loop"))
    assert tl.evidence == "captured"
    assert [t.execution_id for t in tl.turns] == [1, 1, 2, 2, 3, 3]
    assert [t.result for t in tl.turns] == [
        "continue",
        "continued_as_new",
        "continue",
        "continued_as_new",
        "continue",
        "completed",
    ]
    first = tl.turns[0]
    assert [e.type for e in first.delta] == ["OrchestrationStarted", "SubOrchestrationScheduled"]
    assert [s.target_instance for s in first.sent] == ["healthy-loop::sub::2"]


def test_filtered_turn_is_captured_with_its_verdict(scenario_model: Model) -> None:
    tl = Timeline.of(scenario_model.instance("fixed-supervisor"))
    filtered = [t for t in tl.turns if any(v.verdict == "filtered" for v in t.messages)]
    assert len(filtered) == 1
    assert filtered[0].delta == ()
    assert filtered[0].execution_id == 2


def test_inferred_turns_match_captured_boundaries(scenario_model: Model) -> None:
    """A bundle without turns reconstructs the same turn boundaries from history."""
    for instance_id in ("healthy-loop", "fanout-checkout", "deploy-approval", "fixed-supervisor"):
        inst = scenario_model.instance(instance_id)
        captured = Timeline.of(inst)
        bundle = build_bundle(scenario_model, instance_id=instance_id)
        stripped = bundle.model_copy(
            update={
                "instances": tuple(i.model_copy(update={"turns": ()}) for i in bundle.instances)
            }
        )
        inferred = Timeline.of(bundle_to_model(stripped, "mem").instance(instance_id))
        assert inferred.evidence == "inferred"
        with_events = [[e.event_id for e in t.delta] for t in captured.turns if t.delta]
        assert [[e.event_id for e in t.delta] for t in inferred.turns] == with_events
        for turn in inferred.turns:
            assert all(v.reason == "inferred from history" for v in turn.messages)
            assert len(turn.messages) == sum(e.type in MESSAGE_EVENTS for e in turn.delta)


def test_stepper_moves_between_executions(scenario_model: Model) -> None:
    stepper = Stepper(Timeline.of(scenario_model.instance("healthy-loop")))
    assert stepper.current.turn.execution_id == 1
    assert stepper.next_execution().turn.execution_id == 2
    assert stepper.next_execution().turn.execution_id == 3
    assert stepper.next_execution().turn.execution_id == 3
    stepper.last()
    assert stepper.previous_execution().position == 4
    assert stepper.previous_execution().position == 2
    assert stepper.current.total == 6


def test_state_after_a_turn_shows_open_children(scenario_model: Model) -> None:
    tl = Timeline.of(scenario_model.instance("legacy-loop"))
    last = tl.state_after(len(tl) - 1)
    assert last.status == "Running"
    assert [(s.kind, s.detail, s.status) for s in last.open_schedules] == [
        ("child", "legacy-loop::sub::2", "open")
    ]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_time_travel_properties(scenario_store: object, data: st.DataObject) -> None:
    from durascope.replay import open_model

    model = open_model(scenario_store)  # type: ignore[arg-type]
    try:
        instance_id = data.draw(st.sampled_from(sorted(model.instances)))
        timeline = Timeline.of(model.instance(instance_id))
        n = len(timeline)
        stepper = Stepper(timeline)
        target = data.draw(st.integers(0, n - 1))
        # seek(n) equals n steps from the start
        by_seek = stepper.seek(target)
        stepper.first()
        for _ in range(target):
            stepper.step()
        assert stepper.current == by_seek
        # stepping forward then back is the identity (away from the ends)
        if 0 < target < n - 1:
            before = stepper.current
            stepper.step()
            assert stepper.back() == before
        # the state at a turn equals a fold of the events up to it
        turn = timeline.turns[target]
        events = model.instance(instance_id).execution(turn.execution_id).events
        expected = fold(instance_id, turn.execution_id, events[: turn.events_after])
        assert timeline.state_after(target) == expected
    finally:
        model.close()


async def test_checkpointed_state_equals_fold_on_a_long_history() -> None:
    from typing import Any

    from durascope.replay import model_from_simulation
    from durascope.runtime import Registry, Simulation

    def many(ctx: Any, n: int) -> Any:
        total = 0
        for i in range(n):
            if i % 7 == 0:
                yield ctx.schedule_timer(1)
            total += yield ctx.schedule_activity("Inc", i)
            ctx.set_custom_status(str(total))
        return total

    reg = Registry()
    reg.add_orchestration("Many", many)
    reg.add_activity("Inc", lambda ctx, x: x + 1)
    sim = Simulation(reg)
    sim.start("long", "Many", 150)
    await sim.run()
    model = model_from_simulation(sim)
    timeline = Timeline.of(model.instance("long"))
    events = model.instance("long").execution(1).events
    assert len(events) > 300
    for index in range(0, len(timeline), 7):
        turn = timeline.turns[index]
        assert timeline.state_after(index) == fold("long", 1, events[: turn.events_after])
    assert timeline.state_after(len(timeline) - 1).custom_status == str(sum(range(1, 151)))
    # Checkpoints are folded lazily, as far as a seek needs: seeks in any order, on a
    # fresh timeline, still equal the fold (middle first, then back, then past it).
    fresh = Timeline.of(model.instance("long"))
    order = [len(fresh) // 2, 3, len(fresh) - 1, 0, *random.Random(7).sample(range(len(fresh)), 40)]
    for index in order:
        turn = fresh.turns[index]
        assert fresh.state_of(1, turn.events_after) == fold("long", 1, events[: turn.events_after])
