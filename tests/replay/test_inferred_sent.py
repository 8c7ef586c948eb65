"""Inferred turns list the work items the runtime sent, as captured turns do.

For every built-in scenario, a journal-free copy of the store infers the same turn
boundaries as the journal records, and each inferred turn's ``sent`` matches the
captured one: the same items, kinds, queues and targets.  The differences allowed
are the ones ``_inferred_sent`` documents, all under the legacy policy, where history
does not say what was stamped:

- a ``StartOrchestration`` of an instance that shows neither policy's marks (no
  later execution scheduling an auto id, no parent link of its own) is assumed to
  carry the fix's ``parent_execution_id``;
- a completion from a child whose start records no parent execution is addressed to
  an unknown execution (``target_execution`` None; the item says duroxide's fallback, 1);
- work sent by a turn that appended nothing (a terminal child's fail-fast
  ``SubOrchFailed``) has no inferred turn.

Inferred turns never claim a message that is still on a queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from durascope.history import (
    ActivityCompletedItem,
    ActivityExecute,
    ContinueAsNew,
    SentWorkItem,
    StartOrchestration,
    SubOrchCompleted,
    SubOrchFailed,
    TimerFiredItem,
)
from durascope.replay import Model, Timeline, diagnose, open_model
from tests.replay.journal_free import without_journal

FIXTURE_STORE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios.db"


def shape(s: SentWorkItem) -> tuple[str, str, str, int | None]:
    return (type(s.item).__name__, s.queue, s.target_instance, s.target_execution)


@pytest.fixture(scope="module")
def models() -> Iterator[tuple[Model, Model]]:
    model = open_model(FIXTURE_STORE)
    yield model, without_journal(model)
    model.close()


@pytest.fixture(scope="module")
def duroxide_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("duroxide", reason="the real duroxide package writes these stores")
    from tests.replay.duroxide_stores import generate

    return generate(
        tmp_path_factory.mktemp("duroxide"), ["healthy", "can_children", "pending_and_orphan"]
    )


def allowed(captured: SentWorkItem, inferred: SentWorkItem) -> bool:
    """One of the documented differences (legacy stamps history does not record)."""
    c, i = captured.item, inferred.item
    if isinstance(c, StartOrchestration) and isinstance(i, StartOrchestration):
        return (
            c.parent_execution_id is None
            and i.parent_execution_id is not None
            and c.model_copy(update={"parent_execution_id": i.parent_execution_id}) == i
        )
    if isinstance(c, SubOrchCompleted | SubOrchFailed) and type(c) is type(i):
        return (
            inferred.target_execution is None
            and i.parent_execution_id == 1
            and c.model_copy(update={"parent_execution_id": 1}) == i
        )
    return False


def test_inferred_sent_matches_the_captured_sent(models: tuple[Model, Model]) -> None:
    model, journal_free = models
    compared = differences = 0
    for instance in model:
        captured = Timeline.of(instance)
        inferred = Timeline.of(journal_free.instance(instance.instance_id))
        assert (captured.evidence, inferred.evidence) == ("captured", "inferred")
        with_delta = [t for t in captured.turns if t.delta]
        assert [[e.event_id for e in t.delta] for t in inferred.turns] == [
            [e.event_id for e in t.delta] for t in with_delta
        ], instance.instance_id
        for c, i in zip(with_delta, inferred.turns, strict=True):
            assert [(s.item.variant, s.queue, s.target_instance) for s in i.sent] == [
                (s.item.variant, s.queue, s.target_instance) for s in c.sent
            ], (instance.instance_id, c.number)
            for cs, is_ in zip(c.sent, i.sent, strict=True):
                compared += 1
                if cs != is_:
                    differences += 1
                    assert allowed(cs, is_), (instance.instance_id, c.number, cs, is_)
                    assert c.record is not None and c.record.policy == "legacy"
        for turn in captured.turns:
            if not turn.delta:  # no inferred turn; only a fail-fast notification is lost
                assert all(isinstance(s.item, SubOrchFailed) for s in turn.sent), turn
    assert compared > 40
    assert 0 < differences < compared  # only the legacy stamps listed in the module docstring


def test_fixed_policy_trees_match_exactly(models: tuple[Model, Model]) -> None:
    model, journal_free = models
    for root in ("healthy-loop", "fanout-checkout", "cancel-pipeline", "fixed-supervisor"):
        for instance_id in [i for i in model.instances if i.startswith(root)]:
            captured = [t.sent for t in Timeline.of(model.instance(instance_id)).turns if t.delta]
            inferred = [t.sent for t in Timeline.of(journal_free.instance(instance_id)).turns]
            assert inferred == captured, instance_id


def test_each_kind_of_work_item_is_reconstructed(models: tuple[Model, Model]) -> None:
    _, journal_free = models
    sent = {
        shape(s)
        for i in journal_free
        for t in Timeline.of(i).turns
        for s in t.sent
        if i.instance_id.startswith(("healthy-loop", "cancel-pipeline", "fixed-supervisor"))
    }
    assert ("ActivityExecute", "worker", "healthy-loop::sub::2", 1) in sent
    assert ("TimerFiredItem", "orchestrator", "fixed-supervisor", 1) in sent
    assert ("StartOrchestration", "orchestrator", "healthy-loop::sub::3_2", 1) in sent
    assert ("SubOrchCompleted", "orchestrator", "healthy-loop", 3) in sent
    assert ("SubOrchFailed", "orchestrator", "cancel-pipeline", 1) in sent
    assert ("ContinueAsNew", "orchestrator", "healthy-loop", 2) in sent
    assert ("CancelInstance", "orchestrator", "cancel-pipeline::sub::3", None) in sent
    start = next(
        s.item
        for t in Timeline.of(journal_free.instance("healthy-loop")).turns
        for s in t.sent
        if isinstance(s.item, StartOrchestration) and s.item.instance == "healthy-loop::sub::3_2"
    )
    assert (start.parent_instance, start.parent_id, start.parent_execution_id) == (
        "healthy-loop",
        2,
        3,
    )


def test_a_misrouted_turn_is_its_own_inferred_turn(models: tuple[Model, Model]) -> None:
    """durascope gives a turn one time: the aborted misroute's failure is a turn of its own."""
    _, journal_free = models
    turns = Timeline.of(journal_free.instance("legacy-supervisor")).turns
    assert [[e.type for e in t.delta] for t in turns][-1] == [
        "ExternalSubscribedCancelled",
        "OrchestrationFailed",
    ]
    assert turns[-1].messages == ()  # the aborted message left no event: not claimed


def test_a_duroxide_store_shows_work_items_out(duroxide_stores: dict[str, Path]) -> None:
    model = open_model(duroxide_stores["healthy"])
    try:
        turns = Timeline.of(model.instance("healthy")).turns
        sent = [shape(s) for t in turns for s in t.sent]
        child = next(i for i in model.instances if i != "healthy")
        assert sent == [
            ("ActivityExecute", "worker", "healthy", 1),
            ("TimerFiredItem", "orchestrator", "healthy", 1),
            ("StartOrchestration", "orchestrator", child, 1),
        ]
        start = next(
            s.item for t in turns for s in t.sent if isinstance(s.item, StartOrchestration)
        )
        # duroxide 0.1.32 stamps the parent execution; the child records it.
        assert (start.parent_instance, start.parent_execution_id) == ("healthy", 1)
        child_sent = [shape(s) for t in Timeline.of(model.instance(child)).turns for s in t.sent]
        assert child_sent == [
            ("ActivityExecute", "worker", child, 1),
            ("SubOrchCompleted", "orchestrator", "healthy", 1),
        ]
    finally:
        model.close()
    model = open_model(duroxide_stores["can_children"])
    try:
        sent = [shape(s) for t in Timeline.of(model.instance("can-job")).turns for s in t.sent]
        assert [s for s in sent if s[0] == "ContinueAsNew"] == [
            ("ContinueAsNew", "orchestrator", "can-job", n) for n in (2, 3, 4)
        ]
        assert ("StartOrchestration", "orchestrator", "can-job::sub::2_2", 1) in sent
        last_child = [
            shape(s) for t in Timeline.of(model.instance("can-job::sub::4_2")).turns for s in t.sent
        ]
        assert last_child[-1] == ("SubOrchCompleted", "orchestrator", "can-job", 4)
    finally:
        model.close()


def test_queued_messages_are_sent_but_never_claimed_as_applied(
    duroxide_stores: dict[str, Path],
) -> None:
    model = open_model(duroxide_stores["pending_and_orphan"])
    try:
        queued = {(p.instance_id, type(p.item).__name__): p.item for p in model.pending}
        for instance_id, kind in (("sleeper", "TimerFiredItem"), ("slow", "ActivityExecute")):
            turns = Timeline.of(model.instance(instance_id)).turns
            # The last turn sent it; it is still on its queue, exactly as sent.
            assert [s.item for s in turns[-1].sent] == [queued[(instance_id, kind)]]
            # No turn claims its result was applied.
            for turn in turns:
                assert not any(
                    isinstance(v.message, TimerFiredItem | ActivityCompletedItem)
                    for v in turn.messages
                )
            assert turns[-1].result == "continue"
        assert isinstance(queued[("slow", "ActivityExecute")], ActivityExecute)
        # Diagnostics do not take the queued work for never dispatched.
        assert not [f for f in diagnose(model) if f.kind == "never_dispatched"]
        assert ("never-ran", "StartOrchestration") in queued
        assert "never-ran" not in model.instances
    finally:
        model.close()


def test_continue_as_new_carries_what_the_next_execution_received(
    models: tuple[Model, Model],
) -> None:
    _, journal_free = models
    turns = Timeline.of(journal_free.instance("healthy-loop")).turns
    can = [s.item for t in turns for s in t.sent if isinstance(s.item, ContinueAsNew)]
    starts = [v.message for t in turns for v in t.messages if isinstance(v.message, ContinueAsNew)]
    assert can == starts and len(can) == 2


async def test_detached_starts_dropped_children_and_carried_mailbox() -> None:
    """A detached start, a race's dropped child, and mailbox messages carried across CAN."""
    from typing import Any

    from durascope.replay import model_from_simulation
    from durascope.runtime import Registry, Simulation

    def mix(ctx: Any, n: int) -> Any:
        if n == 1:
            ctx.set_custom_status("first")
            yield ctx.start_orchestration("Leaf", "detached-leaf", 7)
            yield ctx.race(ctx.schedule_sub_orchestration("Slow", 0), ctx.schedule_timer(10))
            yield ctx.schedule_timer(50)
            return (yield ctx.continue_as_new(2))
        return (yield ctx.dequeue_event("inbox"))

    def slow(ctx: Any, _: Any) -> Any:
        return (yield ctx.wait_for_event("never"))

    def leaf(ctx: Any, x: int) -> Any:
        return x
        yield  # a generator

    registry = Registry()
    registry.add_orchestration("Mix", mix)
    registry.add_orchestration("Slow", slow)
    registry.add_orchestration("Leaf", leaf)
    sim = Simulation(registry)
    sim.start("mix", "Mix", 1)
    await sim.run(until_ms=sim.now_ms + 20)
    # A later time than the cancelled child's answer: two turns that only append
    # messages in the same millisecond would read as one.
    sim.now_ms += 5
    sim.enqueue_event("mix", "inbox", "hello")
    await sim.run()
    model = model_from_simulation(sim)
    assert model.instance("mix").status == "Completed"
    journal_free = without_journal(model)
    for instance_id in ("mix", "mix::sub::4", "detached-leaf"):
        captured = [t.sent for t in Timeline.of(model.instance(instance_id)).turns if t.delta]
        inferred = [t.sent for t in Timeline.of(journal_free.instance(instance_id)).turns]
        assert inferred == captured, instance_id
    sent = [s.item for t in Timeline.of(journal_free.instance("mix")).turns for s in t.sent]
    kinds = [type(i).__name__ for i in sent]
    assert kinds.count("StartOrchestration") == 2  # the detached leaf and the child
    assert "CancelInstance" in kinds
    can = next(i for i in sent if isinstance(i, ContinueAsNew))
    assert can.carry_forward_events == (("inbox", '"hello"'),)
    assert can.initial_custom_status == "first"
