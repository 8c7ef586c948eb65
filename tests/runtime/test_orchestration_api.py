"""The orchestration API beyond the differential scenarios: retries, versions, async code,
and the sync facade inside a running event loop (as in Jupyter)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from durascope.compat.duroxide import Client, Runtime, SqliteProvider
from durascope.history import ActivityScheduled, TimerCreated
from durascope.runtime import Registry, Simulation


async def test_activity_retry_backs_off_with_durable_timers() -> None:
    attempts: list[int] = []

    def flaky(ctx: Any, x: int) -> int:
        attempts.append(x)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return x * 10

    def orchestration(ctx: Any, x: int) -> Any:
        result = yield ctx.schedule_activity_with_retry(
            "Flaky", x, {"max_attempts": 4, "backoff": "exponential"}
        )
        return result

    reg = Registry()
    reg.add_activity("Flaky", flaky)
    reg.add_orchestration("Retry", orchestration)
    sim = Simulation(reg)
    sim.start("r", "Retry", 7)
    await sim.run()
    assert sim.instances["r"].output == "70"
    events = sim.history("r")
    kinds = [type(e).__name__ for e in events if isinstance(e, ActivityScheduled | TimerCreated)]
    assert kinds == [
        "ActivityScheduled",
        "TimerCreated",
        "ActivityScheduled",
        "TimerCreated",
        "ActivityScheduled",
    ]
    delays = [e.fire_at_ms - e.timestamp_ms for e in events if isinstance(e, TimerCreated)]
    assert delays == [100, 200]


async def test_retry_gives_up_with_the_last_error() -> None:
    def always(ctx: Any, x: int) -> int:
        raise ValueError("no")

    def orchestration(ctx: Any, x: int) -> Any:
        try:
            yield ctx.schedule_activity_with_retry(
                "Always", x, {"max_attempts": 2, "backoff": "fixed"}
            )
        except Exception as exc:
            return str(exc)
        return "unreachable"

    reg = Registry()
    reg.add_activity("Always", always)
    reg.add_orchestration("GiveUp", orchestration)
    sim = Simulation(reg)
    sim.start("g", "GiveUp")
    await sim.run()
    assert sim.instances["g"].output == "\"Activity 'Always' call failed: ValueError: no\""


async def test_versions_resolve_latest_or_exact_and_pin_across_can() -> None:
    def v1(ctx: Any, n: int) -> Any:
        if n == 0:
            return (yield ctx.continue_as_new_versioned(1, "1.0.0"))
        return f"v1 ran {n}"

    def v2(ctx: Any, n: int) -> Any:
        child = yield ctx.schedule_sub_orchestration_versioned("Work", "1.0.0", n)
        return f"v2 ran {n} then {child}"
        yield  # pragma: no cover

    reg = Registry()
    reg.add_orchestration("Work", v1, "1.0.0")
    reg.add_orchestration("Work", v2, "2.0.0")
    sim = Simulation(reg)
    sim.start("latest", "Work", 5)
    sim.start("pinned", "Work", 0, version="1.0.0")
    await sim.run()
    assert sim.instances["latest"].output == '"v2 ran 5 then v1 ran 5"'
    assert sim.instances["pinned"].output == '"v1 ran 1"'
    assert sim.history("pinned")[0].version == "1.0.0"  # type: ignore[union-attr]


async def test_async_activities_detached_starts_and_typed_all() -> None:
    async def slow_double(ctx: Any, x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    def orchestration(ctx: Any, _: Any) -> Any:
        yield ctx.start_orchestration("Leaf", "detached-leaf", 3)
        values = yield ctx.all_typed([ctx.schedule_activity("Double", i) for i in range(3)])
        ctx.set_custom_status("done")
        ctx.reset_custom_status()
        return [values, ctx.get_custom_status(), ctx.is_replaying]

    def leaf(ctx: Any, x: int) -> Any:
        return (yield ctx.schedule_activity("Double", x))

    reg = Registry()
    reg.add_activity("Double", slow_double)
    reg.add_orchestration("Main", orchestration)
    reg.add_orchestration("Leaf", leaf)
    sim = Simulation(reg)
    sim.start("m", "Main")
    await sim.run()
    assert sim.instances["m"].output == "[[0, 2, 4], null, false]"
    assert sim.instances["detached-leaf"].output == "6"
    assert sim.instances["detached-leaf"].parent_instance_id is None


async def test_sync_facade_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    """The duroxide-python facade is sync; called from a coroutine it must not deadlock."""
    provider = SqliteProvider.open(tmp_path / "loop.db")
    runtime = Runtime(provider)

    @runtime.register_activity("Echo")
    def echo(ctx: Any, x: Any) -> Any:
        return x

    @runtime.register_orchestration("Hello")
    def hello(ctx: Any, name: str) -> Any:
        greeting = yield ctx.schedule_activity("Echo", f"hello {name}")
        return greeting

    asyncio.get_running_loop()  # we are inside a loop, like a notebook cell
    runtime.start()
    try:
        client = Client(provider)
        client.start_orchestration("h", "Hello", "notebook")
        result = client.wait_for_orchestration("h", 10_000)
        assert (result.status, result.output) == ("Completed", "hello notebook")
        assert client.list_all_instances() == ["h"]
        assert [e.kind for e in client.read_execution_history("h", 1)] == [
            "OrchestrationStarted",
            "ActivityScheduled",
            "ActivityCompleted",
            "OrchestrationCompleted",
        ]
        assert client.get_instance_tree("h").all_ids == ["h"]
    finally:
        runtime.shutdown()
        provider.close()


def test_reserved_ids_raise_like_duroxide(tmp_path: Path) -> None:
    provider = SqliteProvider.open(tmp_path / "ids.db")
    client = Client(provider)
    try:
        client.start_orchestration("tenant::sub::9", "X", 1)
    except RuntimeError as exc:
        assert "reserved sub-orchestration marker 'sub::'" in str(exc)
    else:
        raise AssertionError("a reserved id was accepted")
    client.start_orchestration("tenant::job", "X", 1)  # plain '::' is fine
    provider.close()
