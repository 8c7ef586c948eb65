"""Orchestration and facade API names not covered elsewhere, the journal's targets,
graceful shutdown, and cancellation precedence within one batch."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from durascope.compat.duroxide import Client as SyncClient
from durascope.compat.duroxide import Runtime as SyncRuntime
from durascope.compat.duroxide import SqliteProvider
from durascope.history import (
    ActivityCompletedItem,
    ActivityExecute,
    ActivityScheduled,
    CancelInstance,
    ContinueAsNew,
    OrchestrationChained,
    OrchestrationStarted,
    StartOrchestration,
    SubOrchestrationScheduled,
    TurnRecord,
    item_kind,
)
from durascope.runtime import (
    Registry,
    Runtime,
    RuntimeOptions,
    Simulation,
    SqliteStore,
    TurnInput,
    process_turn,
)


def work_v1(ctx: Any, x: Any) -> Any:
    return f"v1 {x}"
    yield


def work_v2(ctx: Any, x: Any) -> Any:
    return f"v2 {x}"
    yield


def versions() -> Registry:
    reg = Registry()
    reg.add_orchestration("Work", work_v1, "1.0.0")
    reg.add_orchestration("Work", work_v2, "2.0.0")
    return reg


async def test_versioned_child_with_an_explicit_id() -> None:
    def parent(ctx: Any, _: Any) -> Any:
        pinned = yield ctx.schedule_sub_orchestration_versioned_with_id(
            "Work", "1.0.0", "pinned-kid", 5
        )
        latest = yield ctx.schedule_sub_orchestration("Work", 6)
        return [pinned, latest]

    reg = versions()
    reg.add_orchestration("Parent", parent)
    sim = Simulation(reg)
    sim.start("p", "Parent")
    await sim.run()
    assert sim.instances["p"].output == '["v1 5", "v2 6"]'
    scheduled = [e for e in sim.history("p") if isinstance(e, SubOrchestrationScheduled)]
    assert [e.instance for e in scheduled] == ["pinned-kid", "sub::4"]
    started = sim.history("pinned-kid")[0]
    assert isinstance(started, OrchestrationStarted)
    assert (started.version, started.parent_instance, started.parent_id) == ("1.0.0", "p", 2)
    first_turn = next(t for t in sim.turns if t.instance == "p")
    [start] = [s.item for s in first_turn.sent]
    assert isinstance(start, StartOrchestration)
    assert (start.instance, start.version, start.parent_execution_id) == ("pinned-kid", "1.0.0", 1)


async def test_versioned_detached_start() -> None:
    def launcher(ctx: Any, _: Any) -> Any:
        yield ctx.start_orchestration_versioned("Work", "1.0.0", "free-v1", 7)
        yield ctx.start_orchestration("Work", "free-latest", 8)
        return "launched"

    reg = versions()
    reg.add_orchestration("Launcher", launcher)
    sim = Simulation(reg)
    sim.start("l", "Launcher")
    await sim.run()
    assert sim.instances["l"].output == '"launched"'
    chained = [e for e in sim.history("l") if isinstance(e, OrchestrationChained)]
    assert [(e.name, e.instance, e.input) for e in chained] == [
        ("Work", "free-v1", "7"),
        ("Work", "free-latest", "8"),
    ]
    assert sim.instances["free-v1"].output == '"v1 7"'
    assert sim.instances["free-latest"].output == '"v2 8"'
    assert sim.instances["free-v1"].parent_instance_id is None


async def test_session_and_tag_reach_the_history_the_work_item_and_the_activity() -> None:
    def where(ctx: Any, x: Any) -> Any:
        return [x, ctx.session_id, ctx.tag()]

    def routed(ctx: Any, _: Any) -> Any:
        on_session = yield ctx.schedule_activity_on_session("Where", 1, "s-9")
        also = yield ctx.schedule_activity("Where", 2, session_id="s-9")
        tagged = yield ctx.schedule_activity("Where", 3).with_tag("gpu")
        both = yield ctx.schedule_activity_on_session("Where", 4, "s-9").with_tag("gpu")
        return [on_session, also, tagged, both]

    reg = Registry()
    reg.add_activity("Where", where)
    reg.add_orchestration("Routed", routed)
    sim = Simulation(reg)
    sim.start("r", "Routed")
    await sim.run()
    assert sim.instances["r"].output == (
        '[[1, "s-9", null], [2, "s-9", null], [3, null, "gpu"], [4, "s-9", "gpu"]]'
    )
    scheduled = [e for e in sim.history("r") if isinstance(e, ActivityScheduled)]
    expected = [("s-9", None), ("s-9", None), (None, "gpu"), ("s-9", "gpu")]
    assert [(e.session_id, e.tag) for e in scheduled] == expected
    sent = [s.item for t in sim.turns for s in t.sent if isinstance(s.item, ActivityExecute)]
    assert [(w.session_id, w.tag) for w in sent] == expected


async def test_traces_are_logged_once_not_on_replay(caplog: pytest.LogCaptureFixture) -> None:
    def traced(ctx: Any, _: Any) -> Any:
        ctx.trace_info("started")
        yield ctx.schedule_activity("A", 1)
        ctx.trace_warn("after the activity")
        yield ctx.schedule_timer(10)
        ctx.trace_error("after the timer")
        ctx.trace_debug("last words")
        return "done"

    def activity(ctx: Any, x: Any) -> Any:
        ctx.trace_info(f"activity ran with {x}")
        return x

    reg = Registry()
    reg.add_activity("A", activity)
    reg.add_orchestration("Traced", traced)
    sim = Simulation(reg)
    with caplog.at_level(logging.DEBUG, logger="durascope"):
        sim.start("t", "Traced")
        await sim.run()
    assert sim.instances["t"].output == '"done"'
    assert len([t for t in sim.turns if t.instance == "t"]) == 3  # two replays
    lines = [
        (r.name, r.levelname, r.getMessage())
        for r in caplog.records
        if r.name in ("durascope.orchestration", "durascope.activity")
    ]
    assert lines == [
        ("durascope.orchestration", "INFO", "started"),
        ("durascope.activity", "INFO", "activity ran with 1"),
        ("durascope.orchestration", "WARNING", "after the activity"),
        ("durascope.orchestration", "ERROR", "after the timer"),
        ("durascope.orchestration", "DEBUG", "last words"),
    ]
    first = next(r for r in caplog.records if r.getMessage() == "started")
    assert (first.instance_id, first.execution_id) == ("t", 1)  # type: ignore[attr-defined]


async def test_is_replaying_is_true_for_the_code_before_this_turns_new_events() -> None:
    seen: list[tuple[str, bool]] = []

    def observed(ctx: Any, _: Any) -> Any:
        seen.append(("start", ctx.is_replaying))
        yield ctx.schedule_activity("A", 1)
        seen.append(("after 1", ctx.is_replaying))
        yield ctx.schedule_activity("A", 2)
        seen.append(("after 2", ctx.is_replaying))
        return "done"

    reg = Registry()
    reg.add_activity("A", lambda ctx, x: x)
    reg.add_orchestration("Observed", observed)
    sim = Simulation(reg)
    sim.start("o", "Observed")
    await sim.run()
    assert seen == [
        ("start", False),
        ("start", True),
        ("after 1", False),
        ("start", True),
        ("after 1", True),
        ("after 2", False),
    ]


def test_versioned_registration_and_starts_on_an_in_memory_provider() -> None:
    provider = SqliteProvider.in_memory()
    runtime = SyncRuntime(provider)
    runtime.register_orchestration_versioned("Work", "1.0.0", work_v1)

    @runtime.register_orchestration_versioned("Work", "2.0.0")
    def v2(ctx: Any, x: Any) -> Any:
        return (yield ctx.schedule_activity("Echo", f"v2 {x}"))

    runtime.register_activity("Echo", lambda ctx, x: x)
    runtime.start()
    try:
        client = SyncClient(provider)
        client.start_orchestration_versioned("pinned", "Work", "a", "1.0.0")
        client.start_orchestration("latest", "Work", "b")
        assert client.wait_for_orchestration("pinned", 10_000).output == "v1 a"
        assert client.wait_for_orchestration("latest", 10_000).output == "v2 b"
        versions_seen = {
            i: client.get_instance_info(i).orchestration_version for i in ("pinned", "latest")
        }
        assert versions_seen == {"pinned": "1.0.0", "latest": "2.0.0"}
    finally:
        runtime.shutdown()
        provider.close()
    other = SqliteProvider.in_memory()  # each in-memory provider is its own store
    try:
        assert SyncClient(other).list_all_instances() == []
    finally:
        other.close()


# The journal's targets.


def targets(turn: TurnRecord) -> list[tuple[str, str, int | None]]:
    return [(item_kind(s.item), s.target_instance, s.target_execution) for s in turn.sent]


async def test_sent_items_name_the_execution_they_are_addressed_to() -> None:
    def rounds(ctx: Any, n: int) -> Any:
        yield ctx.schedule_activity("A", n)
        yield ctx.schedule_timer(5)
        yield ctx.schedule_sub_orchestration("Child", n)
        if n < 2:
            return (yield ctx.continue_as_new(n + 1))
        return n

    def child(ctx: Any, x: Any) -> Any:
        return x
        yield

    reg = Registry()
    reg.add_activity("A", lambda ctx, x: x)
    reg.add_orchestration("Rounds", rounds)
    reg.add_orchestration("Child", child)
    sim = Simulation(reg)
    sim.start("R", "Rounds", 1)
    await sim.run()
    assert sim.instances["R"].output == "2"
    parent = [(t.execution_id, targets(t)) for t in sim.turns if t.instance == "R"]
    assert parent == [
        (1, [("ActivityExecute", "R", 1)]),
        (1, [("TimerFired", "R", 1)]),
        (1, [("StartOrchestration", "R::sub::6", 1)]),
        (1, [("ContinueAsNew", "R", 2)]),
        (2, [("ActivityExecute", "R", 2)]),
        (2, [("TimerFired", "R", 2)]),
        (2, [("StartOrchestration", "R::sub::2_6", 1)]),
        (2, []),
    ]
    child_ends = [targets(t) for t in sim.turns if t.instance.startswith("R::") and t.sent]
    assert child_ends == [[("SubOrchCompleted", "R", 1)], [("SubOrchCompleted", "R", 2)]]


async def test_the_store_keeps_the_targets_it_journaled(tmp_path: Path) -> None:
    def once(ctx: Any, n: int) -> Any:
        if n == 1:
            yield ctx.schedule_timer(1)
            return (yield ctx.continue_as_new(2))
        yield ctx.start_orchestration("Done", "freed", None)
        return n

    def done(ctx: Any, _: Any) -> Any:
        return "ok"
        yield

    reg = Registry()
    reg.add_orchestration("Once", once)
    reg.add_orchestration("Done", done)
    store = await SqliteStore.open(tmp_path / "targets.db")
    runtime = Runtime(store, RuntimeOptions(idle_poll_max_ms=10), registry=reg)
    await runtime.start()
    try:
        await runtime.client().start_orchestration("o", "Once", 1)
        assert (await runtime.client().wait_for_orchestration("o", 10)).output == "2"
        await runtime.client().wait_for_orchestration("freed", 10)
    finally:
        await runtime.shutdown()
    turns = await store.list_turns("o")
    await store.close()
    assert [targets(t) for t in turns] == [
        [("TimerFired", "o", 1)],
        [("ContinueAsNew", "o", 2)],
        [("StartOrchestration", "freed", 1)],
    ]


# Graceful shutdown.


async def test_shutdown_waits_for_an_activity_in_flight_and_keeps_its_completion(
    tmp_path: Path,
) -> None:
    running, release = threading.Event(), threading.Event()

    def slow(ctx: Any, x: Any) -> Any:
        running.set()
        release.wait(10)
        return f"finished {x}"

    def one(ctx: Any, x: Any) -> Any:
        return (yield ctx.schedule_activity("Slow", x))

    reg = Registry()
    reg.add_activity("Slow", slow)
    reg.add_orchestration("One", one)
    path = tmp_path / "shutdown.db"
    store = await SqliteStore.open(path)
    runtime = Runtime(store, RuntimeOptions(idle_poll_max_ms=10), registry=reg)
    await runtime.start()
    await runtime.client().start_orchestration("s", "One", 1)
    assert await asyncio.to_thread(running.wait, 10)
    stopping = asyncio.create_task(runtime.shutdown(timeout_s=10))
    await asyncio.sleep(0.3)
    assert not stopping.done()  # waiting for the activity, not abandoning it
    release.set()
    await asyncio.wait_for(stopping, 10)
    # The completion was acked before the dispatchers stopped: it waits in the queue.
    pending = await store.pending_orchestrator_messages()
    assert [m.item for m in pending] == [
        ActivityCompletedItem(instance="s", execution_id=1, id=2, result='"finished 1"')
    ]
    assert await store.pending_work_items() == []
    assert (await runtime.client().get_status("s")).status == "Running"

    again = Runtime(store, RuntimeOptions(idle_poll_max_ms=10), registry=reg)
    await again.start()
    try:
        state = await again.client().wait_for_orchestration("s", 10)
    finally:
        await again.shutdown()
        await store.close()
    assert (state.status, state.output) == ("Completed", '"finished 1"')


# Cancellation in the same batch as other messages.


def started_history(code: Any) -> tuple[Registry, tuple[Any, ...]]:
    reg = Registry()
    reg.add_orchestration("O", code)
    first = process_turn(
        TurnInput(
            instance="i",
            current_execution_id=0,
            history=(),
            messages=(StartOrchestration(instance="i", orchestration="O", input="1"),),
            now_ms=1000,
        ),
        reg,
    )
    return reg, first.delta


def batch(reg: Registry, history: tuple[Any, ...], *messages: Any) -> Any:
    return process_turn(
        TurnInput(
            instance="i", current_execution_id=1, history=history, messages=messages, now_ms=2000
        ),
        reg,
    )


COMPLETED = ActivityCompletedItem(instance="i", execution_id=1, id=2, result='"r"')
CANCEL = CancelInstance(instance="i", reason="stop")


def completes(ctx: Any, _: Any) -> Any:
    return (yield ctx.schedule_activity("A", 1))


def continues(ctx: Any, n: int) -> Any:
    yield ctx.schedule_activity("A", n)
    return (yield ctx.continue_as_new(n + 1))


@pytest.mark.parametrize("order", ["completion first", "cancel first"])
def test_cancel_wins_over_a_completion_in_the_same_batch(order: str) -> None:
    reg, history = started_history(completes)
    messages = (COMPLETED, CANCEL) if order == "completion first" else (CANCEL, COMPLETED)
    out = batch(reg, history, *messages)
    assert (out.result, out.status, out.output) == ("cancelled", "Failed", "canceled: stop")
    assert [v.verdict for v in out.verdicts] == ["applied", "applied"]
    types = [e.type for e in out.delta]
    assert set(types[:2]) == {"ActivityCompleted", "OrchestrationCancelRequested"}
    assert types[2:] == ["OrchestrationFailed"]


def test_cancel_wins_over_continue_as_new_in_the_same_batch() -> None:
    reg, history = started_history(continues)
    out = batch(reg, history, COMPLETED, CANCEL)
    assert (out.result, out.output) == ("cancelled", "canceled: stop")
    assert "OrchestrationContinuedAsNew" not in [e.type for e in out.delta]
    assert not any(isinstance(i, ContinueAsNew) for i in out.orchestrator_items)
    # Without the cancel, the same batch continues as new.
    assert batch(reg, history, COMPLETED).result == "continued_as_new"


def test_a_cancel_next_to_the_continue_as_new_item_cancels_the_new_execution() -> None:
    reg, history = started_history(continues)
    can = batch(reg, history, COMPLETED)
    [item] = can.orchestrator_items
    assert isinstance(item, ContinueAsNew)
    out = process_turn(
        TurnInput(
            instance="i",
            current_execution_id=1,
            history=history + can.delta,
            messages=(item, CANCEL),
            now_ms=3000,
        ),
        reg,
    )
    assert (out.execution_id, out.result, out.output) == (2, "cancelled", "canceled: stop")
    # The code still runs once (its new schedule is recorded, never dispatched).
    assert [(e.type, e.source_event_id) for e in out.delta] == [
        ("OrchestrationStarted", None),
        ("OrchestrationCancelRequested", None),
        ("ActivityScheduled", None),
        ("OrchestrationFailed", None),
        ("ActivityCancelRequested", 3),
    ]
    assert out.worker_items == ()
    assert [v.verdict for v in out.verdicts] == ["applied", "applied"]
