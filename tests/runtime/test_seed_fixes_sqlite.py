"""The seed bugs and their fixes on the real runtime: a file-backed SqliteStore, real
dispatchers, and (for the "fresh process" case) a second runtime process.

The same programs on the in-memory simulator are in ``test_seed_fixes``; here
the turn journal the store wrote says where each child's completion went.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from durascope.history import (
    OrchestrationStarted,
    StartOrchestration,
    SubOrchestrationScheduled,
)
from durascope.runtime import Client, Runtime, SqliteStore
from tests.runtime.integrity import integrity_problems
from tests.runtime.seed_programs import FAST, completion_verdicts, registry

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20.0


class Running:
    """A runtime with real dispatchers on a store file, and its client."""

    def __init__(self, store: SqliteStore, runtime: Runtime) -> None:
        self.store = store
        self.runtime = runtime
        self.client: Client = runtime.client()

    async def wait_until(self, what: str, check: Callable[[], Awaitable[bool]]) -> None:
        for _ in range(int(WAIT_S * 50)):
            if await check():
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    async def children(self, instance: str) -> list[str]:
        return [
            e.instance
            for ex in await self.store.list_executions(instance)
            for e in await self.store.read_history(instance, ex.execution_id)
            if isinstance(e, SubOrchestrationScheduled)
        ]


async def open_running(path: Path, policy: Any = "fixed") -> Running:
    store = await SqliteStore.open(path)
    runtime = Runtime(store, replace(FAST, policy=policy), registry=registry())
    await runtime.start()
    return Running(store, runtime)


@pytest_asyncio.fixture
async def fixed(tmp_path: Path) -> AsyncIterator[Running]:
    running = await open_running(tmp_path / "fixed.db")
    yield running
    await running.runtime.shutdown()
    assert await integrity_problems(running.store) == []
    await running.store.close()


@pytest_asyncio.fixture
async def legacy(tmp_path: Path) -> AsyncIterator[Running]:
    running = await open_running(tmp_path / "legacy.db", policy="legacy")
    yield running
    await running.runtime.shutdown()
    assert await integrity_problems(running.store) == []
    await running.store.close()


async def test_can_parent_completes_and_each_completion_reaches_its_execution(
    fixed: Running,
) -> None:
    await fixed.client.start_orchestration("P", "CanParent", 1)
    state = await fixed.client.wait_for_orchestration("P", WAIT_S)
    assert (state.status, state.output, state.execution_id) == ("Completed", "3", 3)
    assert await fixed.children("P") == ["sub::2", "sub::2_2", "sub::3_2"]
    for child, execution in [("P::sub::2", 1), ("P::sub::2_2", 2), ("P::sub::3_2", 3)]:
        started = (await fixed.store.read_history(child, 1))[0]
        assert isinstance(started, OrchestrationStarted)
        assert (started.parent_instance, started.parent_id) == ("P", 2)
        assert started.parent_execution_id == execution
    # Each child's completion went to, and was applied in, the execution that scheduled it.
    assert await completion_verdicts(fixed.store, "P") == [
        (1, "applied", 1),
        (2, "applied", 2),
        (3, "applied", 3),
    ]


async def test_legacy_can_parent_hangs_on_its_previous_child(legacy: Running) -> None:
    await legacy.client.start_orchestration("P", "CanParent", 1)
    discarded: list[str] = []

    async def start_discarded() -> bool:
        discarded[:] = [
            v.reason
            for turn in await legacy.store.list_turns("P::sub::2")
            for v in turn.messages
            if isinstance(v.message, StartOrchestration) and v.verdict == "discarded"
        ]
        return bool(discarded)

    await legacy.wait_until("the second start to hit the completed child", start_discarded)
    await asyncio.sleep(0.3)  # nothing more happens: the parent waits forever
    state = await legacy.client.get_status("P")
    assert (state.status, state.execution_id) == ("Running", 2)
    assert await legacy.children("P") == ["sub::2", "sub::2"]
    assert len(discarded) == 1 and "terminal" in discarded[0]
    assert await completion_verdicts(legacy.store, "P") == [(1, "applied", 1)]
    assert await legacy.store.pending_orchestrator_messages() == []


async def test_child_outliving_execution_1_is_filtered_not_poisoning_execution_2(
    fixed: Running,
) -> None:
    await fixed.client.start_orchestration("P", "OutlivingParent", 1)

    async def on_execution_2() -> bool:
        return (await fixed.client.get_status("P")).execution_id == 2

    await fixed.wait_until("the parent's execution 2", on_execution_2)
    await fixed.client.raise_event("P::sub::2", "release", "late")
    assert (await fixed.client.wait_for_orchestration("P::sub::2", WAIT_S)).status == "Completed"

    async def completion_seen() -> bool:
        return bool(await completion_verdicts(fixed.store, "P"))

    await fixed.wait_until("the late completion at the parent", completion_seen)
    assert await completion_verdicts(fixed.store, "P") == [(2, "filtered", 1)]
    [reason] = [
        v.reason
        for turn in await fixed.store.list_turns("P")
        for v in turn.messages
        if v.verdict == "filtered"
    ]
    assert reason == "other execution: addressed to execution 1, current is 2"
    assert (await fixed.client.get_status("P")).status == "Running"
    await fixed.client.raise_event("P", "go", "ok")
    state = await fixed.client.wait_for_orchestration("P", WAIT_S)
    assert (state.status, state.output) == ("Completed", '{"index": 0, "value": "ok"}')


async def test_legacy_child_completion_lands_on_the_wrong_execution(legacy: Running) -> None:
    await legacy.client.start_orchestration("P", "OutlivingParent", 1)

    async def on_execution_2() -> bool:
        return (await legacy.client.get_status("P")).execution_id == 2

    await legacy.wait_until("the parent's execution 2", on_execution_2)
    await legacy.client.raise_event("P::sub::2", "release", "late")
    state = await legacy.client.wait_for_orchestration("P", WAIT_S)
    assert state.status == "Failed"
    assert state.error == "nondeterministic: no matching schedule for sub-orchestration id=2"
    # This process ran execution 2, so its map addressed the completion there: misrouted.
    assert await completion_verdicts(legacy.store, "P") == [(2, "aborted", 2)]


async def test_foreign_terminal_instance_fails_the_parent_fast(fixed: Running) -> None:
    await fixed.client.start_orchestration("pA", "ExplicitParent")
    assert (await fixed.client.wait_for_orchestration("pA", WAIT_S)).output == '"pA"'
    await fixed.client.start_orchestration("pB", "ExplicitParent")
    state = await fixed.client.wait_for_orchestration("pB", WAIT_S)
    assert state.output == (
        "\"failed: sub-orchestration instance id 'shared-child' already exists and is terminal\""
    )
    [collision] = [
        turn for turn in await fixed.store.list_turns("shared-child") if turn.result == "discarded"
    ]
    assert "start from another parent" in collision.messages[0].reason
    assert [(s.target_instance, type(s.item).__name__) for s in collision.sent] == [
        ("pB", "SubOrchFailed")
    ]


async def test_legacy_foreign_terminal_instance_hangs_the_parent(legacy: Running) -> None:
    await legacy.client.start_orchestration("pA", "ExplicitParent")
    await legacy.client.wait_for_orchestration("pA", WAIT_S)
    await legacy.client.start_orchestration("pB", "ExplicitParent")

    async def start_discarded() -> bool:
        return len(await legacy.store.list_turns("shared-child")) == 3

    await legacy.wait_until("pB's start at the terminal child", start_discarded)
    await asyncio.sleep(0.3)
    assert (await legacy.client.get_status("pB")).status == "Running"
    assert (await legacy.store.list_turns("shared-child"))[-1].sent == ()


async def test_redelivered_start_of_a_completed_child_leaves_the_parent_alone(
    fixed: Running,
) -> None:
    await fixed.client.start_orchestration("P", "CanParent", 3)
    assert (await fixed.client.wait_for_orchestration("P", WAIT_S)).status == "Completed"
    parent_events = await fixed.store.read_history("P", 1)
    parent_turns = await fixed.store.list_turns("P")
    started = (await fixed.store.read_history("P::sub::2", 1))[0]
    assert isinstance(started, OrchestrationStarted)
    child_turns = len(await fixed.store.list_turns("P::sub::2"))
    redelivered = StartOrchestration(
        instance="P::sub::2",
        orchestration="Child",
        input=started.input,
        parent_instance="P",
        parent_id=2,
        parent_execution_id=1,
    )
    await fixed.store.enqueue([redelivered], now_ms=0)

    async def handled() -> bool:
        return len(await fixed.store.list_turns("P::sub::2")) > child_turns

    await fixed.wait_until("the redelivered start to be handled", handled)
    last = (await fixed.store.list_turns("P::sub::2"))[-1]
    assert (last.result, last.sent) == ("discarded", ())
    assert "redelivered" in last.messages[0].reason
    await asyncio.sleep(0.2)
    assert await fixed.store.pending_orchestrator_messages() == []
    assert await fixed.store.read_history("P", 1) == parent_events
    assert await fixed.store.list_turns("P") == parent_turns


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "child", "expected"),
    [
        ("fixed", "P::sub::2_2", ("Completed", [(2, "applied", 2)])),
        ("legacy", "P::sub::2", ("Running", [(2, "filtered", 1)])),
    ],
)
async def test_a_fresh_process_routes_the_child_completion(
    tmp_path: Path, policy: str, child: str, expected: tuple[str, list[Any]]
) -> None:
    """The child completes in a second runtime process that never ran the parent."""
    db = tmp_path / f"fresh-{policy}.db"
    first = await open_running(db, policy)
    try:
        await first.client.start_orchestration("P", "SecondExecutionWaiter", 1)

        async def child_waiting() -> bool:
            row = await first.store.get_instance(child)
            return row is not None and any(
                e.type == "ExternalSubscribed" for e in await first.store.read_history(child, 1)
            )

        await first.wait_until("the child of execution 2 to wait", child_waiting)
        assert (await first.client.get_status("P")).execution_id == 2
    finally:
        await first.runtime.shutdown()
        await first.store.close()

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.runtime.seed_programs", str(db), policy, child,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-4000:]
    report = json.loads(out)
    status, verdicts = expected
    assert report["parent_status"] == status
    assert [tuple(v) for v in report["verdicts"]] == verdicts
    assert report["parent_execution"] == 2
    if status == "Completed":
        assert report["parent_output"] == '[2, "from the fresh process"]'
    store = await SqliteStore.open(db)
    try:
        fresh_turns = [t for t in await store.list_turns(child) if t.worker_id == "fresh"]
        assert fresh_turns and fresh_turns[-1].result == "completed"
        assert await integrity_problems(store) == []
    finally:
        await store.close()
