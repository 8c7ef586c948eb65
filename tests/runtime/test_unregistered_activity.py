"""An activity this process has no code for: abandoned with backoff, then poisoned.

duroxide keeps such a work item for a node that has the code (a rolling
deployment), putting it back with a growing delay; after ``max_attempts`` fetches
it fails the activity with a ``Poison`` error, which fails the orchestration's
turn and its parent's, whatever the code catches.  The differential scenarios
``unregistered_activity`` and ``rolling_deployment`` compare this with duroxide.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from durascope.history import (
    ActivityExecute,
    ActivityFailed,
    OrchestrationFailed,
    PoisonActivity,
    PoisonError,
    work_item_to_json,
)
from durascope.runtime import Registry, Runtime, RuntimeOptions, Simulation, SqliteStore


def calls_missing(ctx: Any, x: Any) -> Any:
    try:
        return (yield ctx.schedule_activity("Missing", x))
    except Exception as exc:  # a poison failure is never delivered to the code
        return f"caught {exc}"


def parent_of_missing(ctx: Any, x: Any) -> Any:
    try:
        return (yield ctx.schedule_sub_orchestration("CallsMissing", x))
    except Exception as exc:
        return f"caught {exc}"


def registry() -> Registry:
    reg = Registry()
    reg.add_orchestration("CallsMissing", calls_missing)
    reg.add_orchestration("ParentOfMissing", parent_of_missing)
    return reg


POISON_DISPLAY = "poison: activity Missing#2 exceeded 3 attempts (max 2)"


async def test_unregistered_activity_is_poisoned_after_max_attempts_with_backoff() -> None:
    sim = Simulation(registry(), max_attempts=2)
    t0 = sim.now_ms
    sim.start("u", "CallsMissing", 1)
    await sim.run()
    state = sim.instances["u"]
    assert (state.status, state.output) == ("Failed", POISON_DISPLAY)
    failed, ended = sim.history("u")[-2:]
    assert isinstance(failed, ActivityFailed) and isinstance(ended, OrchestrationFailed)
    assert failed.details == ended.details
    item = ActivityExecute(instance="u", execution_id=1, id=2, name="Missing", input="1")
    assert failed.details == PoisonError(
        attempt_count=3,
        max_attempts=2,
        message_type=PoisonActivity(
            instance="u", execution_id=1, activity_name="Missing", activity_id=2
        ),
        message=work_item_to_json(item),
    )
    # Fetched at t0, put back for 1 s, fetched, put back for 2 s, fetched and poisoned.
    assert failed.timestamp_ms - t0 == 3000


async def test_poison_of_a_childs_activity_fails_the_parent_too() -> None:
    sim = Simulation(registry(), max_attempts=2)
    sim.start("p", "ParentOfMissing", 2)
    await sim.run()
    assert sim.instances["p::sub::2"].output == POISON_DISPLAY
    assert sim.instances["p"].status == "Failed"
    assert sim.instances["p"].output == POISON_DISPLAY
    assert [e.type for e in sim.history("p")] == [
        "OrchestrationStarted",
        "SubOrchestrationScheduled",
        "SubOrchestrationFailed",
        "OrchestrationFailed",
    ]


async def test_code_registered_before_the_item_is_poisoned_runs_it() -> None:
    reg = registry()
    sim = Simulation(reg, max_attempts=5)
    sim.start("r", "CallsMissing", 3)
    await sim.run(until_ms=sim.now_ms + 2500)  # two fetches, both put back
    assert sim.instances["r"].status == "Running"
    assert [e.type for e in sim.history("r")] == ["OrchestrationStarted", "ActivityScheduled"]
    reg.add_activity("Missing", lambda ctx, x: x * 100)  # the upgraded node arrives
    await sim.run()
    assert sim.instances["r"].output == "300"


async def test_the_sqlite_runtime_puts_the_item_back_and_a_later_process_runs_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rolling.db"
    options = RuntimeOptions(retry_backoff_ms=200, idle_poll_max_ms=10)
    store = await SqliteStore.open(path)
    old = Runtime(store, options, registry=registry())
    await old.start()
    client = old.client()
    await client.start_orchestration("r", "CallsMissing", 4)
    rows: list[Any] = []
    for _ in range(200):
        rows = await store.pending_work_items()
        if rows and rows[0].attempt_count >= 2:
            break
        await asyncio.sleep(0.02)
    await old.shutdown()
    assert len(rows) == 1 and rows[0].attempt_count >= 2  # fetched twice, still queued
    assert (await client.get_status("r")).status == "Running"

    new_code = registry()
    new_code.add_activity("Missing", lambda ctx, x: x * 100)
    new = Runtime(store, options, registry=new_code)
    await new.start()
    try:
        state = await new.client().wait_for_orchestration("r", 10)
    finally:
        await new.shutdown()
        await store.close()
    assert (state.status, state.output) == ("Completed", "400")
