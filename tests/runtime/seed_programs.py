"""The seed-bug programs, shared by the simulator tests, the SQLite runtime tests and
the second runtime process they start.

    python -m tests.runtime.seed_programs DB POLICY CHILD   # the "fresh process"

run as a script, it is a runtime process that never ran the parent: it raises
``release`` to ``CHILD``, waits until the child's completion has reached the
parent's turn journal, and prints what the parent became as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from durascope.history import SubOrchCompleted
from durascope.runtime import Registry, Runtime, RuntimeOptions, SqliteStore


def child_echo(ctx: Any, x: Any) -> Any:
    result = yield ctx.schedule_activity("Echo", x)
    return result


def child_waits(ctx: Any, x: Any) -> Any:
    """A child that finishes only when it receives ``release``."""
    data = yield ctx.wait_for_event("release")
    return [x, data]


def can_parent(ctx: Any, n: int) -> Any:
    """Schedules an auto-id child, awaits it, and continues as new until n == 3."""
    result = yield ctx.schedule_sub_orchestration("Child", n)
    if n < 3:
        return (yield ctx.continue_as_new(n + 1))
    return result


def outliving_parent(ctx: Any, n: int) -> Any:
    """Execution 1 starts a slow child and moves on after a timer; execution 2 waits."""
    if n == 1:
        yield ctx.race(ctx.schedule_sub_orchestration("SlowChild", "old"), ctx.schedule_timer(10))
        return (yield ctx.continue_as_new(2))
    won = yield ctx.race(ctx.wait_for_event("go"), ctx.schedule_timer(3_600_000))
    return won


def explicit_parent(ctx: Any, _: Any) -> Any:
    try:
        result = yield ctx.schedule_sub_orchestration_with_id(
            "Child", "shared-child", ctx.instance_id
        )
    except Exception as exc:
        return f"failed: {exc}"
    return result


def second_execution_waiter(ctx: Any, n: int) -> Any:
    """Continues as new once, then waits for a child scheduled by execution 2."""
    if n == 1:
        yield ctx.schedule_timer(1)
        return (yield ctx.continue_as_new(2))
    result = yield ctx.schedule_sub_orchestration("SlowChild", n)
    return result


def registry() -> Registry:
    """Every seed program and the activity they use."""
    reg = Registry()
    reg.add_activity("Echo", lambda ctx, x: x)
    reg.add_orchestration("Child", child_echo)
    reg.add_orchestration("SlowChild", child_waits)
    reg.add_orchestration("CanParent", can_parent)
    reg.add_orchestration("OutlivingParent", outliving_parent)
    reg.add_orchestration("ExplicitParent", explicit_parent)
    reg.add_orchestration("SecondExecutionWaiter", second_execution_waiter)
    return reg


FAST = RuntimeOptions(idle_poll_max_ms=10)
"""Real dispatchers, polling often enough for quick tests."""


async def completion_verdicts(store: SqliteStore, parent: str) -> list[tuple[int, str, int]]:
    """(turn execution, verdict, addressed execution) of every child completion the parent got."""
    return [
        (turn.execution_id, v.verdict, v.message.parent_execution_id)
        for turn in await store.list_turns(parent)
        for v in turn.messages
        if isinstance(v.message, SubOrchCompleted)
    ]


async def fresh_process(db: str, policy: Any, child: str, timeout_s: float = 30) -> dict[str, Any]:
    """Release ``child`` from a runtime that never ran its parent; report the parent."""
    parent = child.split("::sub::")[0]
    store = await SqliteStore.open(db)
    options = RuntimeOptions(idle_poll_max_ms=10, policy=policy, worker_id="fresh")
    runtime = Runtime(store, options, registry=registry())
    await runtime.start()
    try:
        client = runtime.client()
        await client.raise_event(child, "release", "from the fresh process")
        await client.wait_for_orchestration(child, timeout_s)
        verdicts: list[tuple[int, str, int]] = []
        for _ in range(int(timeout_s * 50)):
            verdicts = await completion_verdicts(store, parent)
            if verdicts:
                break
            await asyncio.sleep(0.02)
        applied = bool(verdicts) and verdicts[0][1] == "applied"
        state = await client.wait_for_orchestration(parent, 2) if applied else None
        row = await client.get_status(parent)
    finally:
        await runtime.shutdown()
        await store.close()
    return {
        "verdicts": verdicts,
        "parent_status": row.status,
        "parent_output": state.output if state else None,
        "parent_execution": row.execution_id,
    }


if __name__ == "__main__":
    db_path, policy_name, child_id = sys.argv[1:4]
    print(json.dumps(asyncio.run(fresh_process(db_path, policy_name, child_id))))
