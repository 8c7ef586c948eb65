"""Time-travel properties, checked against an independent reference.

The reference for position ``i`` of an instance is computed from scratch each time:
the turn from a fresh ``Timeline.of`` (new objects, no checkpoints, no cached
states) and the state as ``fold`` of the execution's events up to the turn, read
straight from the instance.  A stepper under test keeps its checkpoints and caches
across operations; what it shows must equal the reference after every operation:

- seek(n) equals n steps from the first turn, and both equal the reference at n;
- stepping forward then back is the identity (away from the ends);
- any sequence of steps, seeks and execution jumps lands where the turn list says.

Timelines are drawn from captured journals (the fixture store), inferred ones
(a journal-free copy of it, and real duroxide stores), and a long simulated history.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durascope.replay import (
    ExecutionState,
    Instance,
    Model,
    Stepper,
    Timeline,
    Turn,
    fold,
    model_from_simulation,
    open_model,
)
from tests.replay.journal_free import without_journal

FIXTURE_STORE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios.db"


def reference(instance: Instance, index: int) -> tuple[Turn, ExecutionState]:
    """Turn ``index`` and the state after it, computed from nothing cached."""
    turn = Timeline.of(instance).turns[index]
    events = instance.execution(turn.execution_id).events
    return turn, fold(instance.instance_id, turn.execution_id, events[: turn.events_after])


def shows(stepper: Stepper, instance: Instance, index: int) -> None:
    """The stepper is at ``index`` and shows exactly the reference there."""
    view = stepper.current
    turn, state = reference(instance, index)
    assert (view.position, view.total) == (index, len(stepper.timeline))
    assert view.turn == turn
    assert view.state == state


def _long_simulated() -> Model:
    import asyncio

    from durascope.runtime import Registry, Simulation

    def loop(ctx: Any, n: int) -> Any:
        total = 0
        for i in range(n):
            if i % 5 == 0:
                yield ctx.schedule_timer(1)
            total += yield ctx.schedule_activity("Inc", i)
            ctx.set_custom_status(str(total))
        if n > 20:
            return (yield ctx.continue_as_new(n // 2))
        return total

    registry = Registry()
    registry.add_orchestration("Loop", loop)
    registry.add_activity("Inc", lambda ctx, x: x + 1)
    sim = Simulation(registry)
    sim.start("long", "Loop", 90)
    asyncio.run(sim.run())
    return model_from_simulation(sim)


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[str, Instance]]]:
    """``(label, instance)`` for every timeline the properties draw from."""
    models: list[Model] = []
    fixture = open_model(FIXTURE_STORE)
    models.append(fixture)
    drawn = [(f"captured {i.instance_id}", i) for i in fixture]
    journal_free = without_journal(fixture)
    drawn += [(f"inferred {i.instance_id}", i) for i in journal_free]
    try:
        import duroxide  # noqa: F401

        from tests.replay.duroxide_stores import generate

        stores = generate(
            tmp_path_factory.mktemp("duroxide"), ["healthy", "can_children", "cancelled_tree"]
        )
        for name, path in stores.items():
            model = open_model(path)
            models.append(model)
            drawn += [(f"duroxide {name} {i.instance_id}", i) for i in model]
    except ImportError:
        pass
    drawn += [(f"simulated {i.instance_id}", i) for i in _long_simulated()]
    yield drawn
    for model in models:
        model.close()


def test_the_timelines_cover_both_evidences(instances: list[tuple[str, Instance]]) -> None:
    evidences = {Timeline.of(i).evidence for _, i in instances}
    assert evidences == {"captured", "inferred"}
    assert any(label.startswith("duroxide") for label, _ in instances)
    assert max(len(Timeline.of(i)) for _, i in instances) > 100
    assert any(len(i.executions) > 1 for _, i in instances)


PROPERTY_SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_seek_n_equals_n_steps(instances: list[tuple[str, Instance]], data: st.DataObject) -> None:
    _, instance = data.draw(st.sampled_from(instances), label="instance")
    timeline = Timeline.of(instance)
    n = data.draw(st.integers(0, len(timeline) - 1), label="n")
    by_seek = Stepper(timeline)
    if data.draw(st.booleans(), label="move first"):  # seek from elsewhere, not from 0
        by_seek.seek(data.draw(st.integers(0, len(timeline) - 1)))
    by_seek.seek(n)
    shows(by_seek, instance, n)
    by_steps = Stepper(Timeline.of(instance))
    by_steps.last()
    by_steps.first()
    for _ in range(n):
        by_steps.step()
    shows(by_steps, instance, n)
    assert by_steps.current == by_seek.current


@PROPERTY_SETTINGS
@given(data=st.data())
def test_forward_then_back_is_the_identity(
    instances: list[tuple[str, Instance]], data: st.DataObject
) -> None:
    _, instance = data.draw(st.sampled_from(instances), label="instance")
    timeline = Timeline.of(instance)
    total = len(timeline)
    stepper = Stepper(timeline)
    start = data.draw(st.integers(0, total - 1), label="start")
    k = data.draw(st.integers(1, 8), label="k")
    stepper.seek(start)
    shows(stepper, instance, start)
    stepper.step(k)
    forward = min(start + k, total - 1)
    shows(stepper, instance, forward)
    stepper.back(k)
    back = max(forward - k, 0)
    shows(stepper, instance, back)
    if start + k <= total - 1:  # away from the end, back undoes forward exactly
        assert back == start


OPERATIONS = st.one_of(
    st.tuples(st.just("step"), st.integers(-5, 5)),
    st.tuples(st.just("seek"), st.integers(-3, 400)),
    st.tuples(st.sampled_from(["first", "last", "next_execution", "previous_execution"])),
)


def expected_position(turns: tuple[Turn, ...], position: int, op: tuple[Any, ...]) -> int:
    """Where an operation lands, computed from the turn list alone."""
    last = len(turns) - 1
    name = op[0]
    if name == "step":
        return max(0, min(position + op[1], last))
    if name == "seek":
        return max(0, min(op[1], last))
    if name == "first":
        return 0
    if name == "last":
        return last
    executions = [t.execution_id for t in turns]
    starts = [i for i in range(len(turns)) if i == 0 or executions[i] != executions[i - 1]]
    if name == "next_execution":
        later = [i for i in starts if i > position]
        return later[0] if later else position
    current_start = max(i for i in starts if i <= position)
    if current_start != position:
        return current_start
    earlier = [i for i in starts if i < position]
    return earlier[-1] if earlier else position


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_walk_shows_the_reference_at_every_stop(
    instances: list[tuple[str, Instance]], data: st.DataObject
) -> None:
    _, instance = data.draw(st.sampled_from(instances), label="instance")
    stepper = Stepper(Timeline.of(instance))
    turns = Timeline.of(instance).turns
    position = 0
    for op in data.draw(st.lists(OPERATIONS, min_size=1, max_size=12), label="walk"):
        position = expected_position(turns, position, op)
        getattr(stepper, op[0])(*op[1:])
        shows(stepper, instance, position)
