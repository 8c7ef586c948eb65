"""Poison messages and orphans: a batch that cannot be processed never blocks the queue.

- An unregistered orchestration and an undecodable history row are abandoned
  with backoff, then failed with a ``Poison`` error after ``max_attempts``,
  while instances queued behind them complete.
- An activity whose worker dies every time it runs is poisoned the same way.
- Orphan messages for instances that do not exist (duroxide leaves an orphan
  ``CancelInstance`` at the queue head, where it blocks every later instance)
  are discarded, and the turn journal records the discard.
- Undecodable queue rows are dropped (orchestrator queue) or parked (worker queue).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from durascope.history import (
    ActivityFailed,
    OrchestrationFailed,
    OrchestrationStarted,
    PoisonActivity,
    PoisonError,
    PoisonFailedDeserialization,
    PoisonOrchestration,
)
from durascope.replay import open_model
from durascope.runtime import Client, Runtime, RuntimeOptions, SqliteStore
from tests.programs.mixed_workload import add_code, expected_output
from tests.reliability.peek import peek
from tests.runtime.integrity import decoded, integrity_problems

ROOT = Path(__file__).resolve().parents[2]
POISON_OPTIONS = RuntimeOptions(
    max_attempts=3, retry_backoff_ms=50, orchestration_lock_ms=1000, worker_lock_ms=1000
)
OTHERS = 100


def add_waiter(runtime: Runtime) -> None:
    @runtime.register_orchestration("Waiter")
    def waiter(ctx: Any, x: int) -> Any:
        go = yield ctx.wait_for_event("go")
        return [x, go]


async def start_others(client: Client, n: int = OTHERS, prefix: str = "ok") -> list[str]:
    ids = [f"{prefix}{i}" for i in range(n)]
    for i, iid in enumerate(ids):
        await client.start_orchestration(iid, "Mixed", i)
    return ids


async def wait_status(client: Client, ids: list[str], timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    out = {}
    for iid in ids:
        out[iid] = await client.wait_for_orchestration(iid, max(0.1, deadline - time.monotonic()))
    return out


async def completion_times(store: SqliteStore, ids: list[str]) -> list[int]:
    times = []
    for iid in ids:
        turns = await store.list_turns(iid)
        times += [t.timestamp_ms for t in turns if t.result == "completed"]
    return times


async def first_turn_times(store: SqliteStore, ids: list[str]) -> list[int]:
    return [(await store.list_turns(iid))[0].timestamp_ms for iid in ids]


def queue_rows(db: Path, table: str = "orchestrator_queue") -> list[tuple[Any, ...]]:
    return peek(db, f"SELECT instance_id, work_item FROM {table} ORDER BY id")


def check_others(outputs: dict[str, Any], prefix: str = "ok") -> None:
    assert {iid: s.status for iid, s in outputs.items()} == dict.fromkeys(outputs, "Completed")
    for iid, state in outputs.items():
        assert decoded(state.output) == expected_output(int(iid[len(prefix) :])), iid


@pytest.mark.slow
async def test_an_unregistered_orchestration_is_poisoned_while_the_queue_flows(
    tmp_path: Path,
) -> None:
    store = await SqliteStore.open(tmp_path / "unregistered.db")
    # Backoff long enough (0.4 + 0.8 + 1.6 s) for a Mixed orchestration queued behind
    # it to complete first even on a loaded machine: at 50 ms the three retries can end
    # before any of them has, and the check below says nothing about blocking.
    runtime = Runtime(store, dataclasses.replace(POISON_OPTIONS, retry_backoff_ms=400))
    add_code(runtime)
    client = runtime.client()
    await client.start_orchestration("bad", "NotRegistered", 1)  # at the queue head
    others = await start_others(client)
    await runtime.start()
    try:
        outputs = await wait_status(client, others)
        check_others(outputs)
        bad = await client.wait_for_orchestration("bad", 30)
        assert bad.status == "Failed"
        assert bad.error == "poison: orchestration bad exceeded 4 attempts (max 3)"
        history = await store.read_history("bad", 1)
        assert [e.type for e in history] == ["OrchestrationStarted", "OrchestrationFailed"]
        started, failed = history
        assert isinstance(started, OrchestrationStarted) and started.name == "NotRegistered"
        assert isinstance(failed, OrchestrationFailed)
        assert isinstance(failed.details, PoisonError)
        assert (failed.details.attempt_count, failed.details.max_attempts) == (4, 3)
        assert failed.details.message_type == PoisonOrchestration(instance="bad", execution_id=1)
        batch = json.loads(failed.details.message)  # the poisoned batch, as JSON
        assert batch == [
            {
                "StartOrchestration": {
                    **batch[0]["StartOrchestration"],
                    "instance": "bad",
                    "orchestration": "NotRegistered",
                }
            }
        ]
        # The three failed attempts were abandoned, not journaled; the poison turn is.
        [turn] = await store.list_turns("bad")
        assert turn.result == "poisoned" and turn.attempt == 4
        assert [(v.verdict, v.reason) for v in turn.messages] == [
            ("aborted", "poison: fetched 4 times (max 3)")
        ]
        # No head-of-line blocking: work queued behind it completed before it was poisoned.
        assert min(await completion_times(store, others)) < turn.timestamp_ms
        assert await integrity_problems(store) == []
    finally:
        await runtime.shutdown()
        await store.close()


async def corrupt_history_row(db: Path, instance: str, event_id: int, data: str) -> None:
    conn = sqlite3.connect(db, timeout=30)
    try:
        conn.execute(
            "UPDATE history SET event_data = ? WHERE instance_id = ? AND event_id = ?",
            (data, instance, event_id),
        )
        conn.commit()
    finally:
        conn.close()


def sentinel_row(db: Path, instance: str) -> dict[str, Any] | None:
    rows = peek(
        db, "SELECT event_data FROM history WHERE instance_id = ? AND event_id = 99999", (instance,)
    )
    return json.loads(rows[0][0]) if rows else None


async def waiting_instance(db: Path, instance: str) -> None:
    """Run ``Waiter`` on ``instance`` until it waits for its event; then stop."""
    store = await SqliteStore.open(db)
    runtime = Runtime(store, POISON_OPTIONS)
    add_waiter(runtime)
    client = runtime.client()
    await client.start_orchestration(instance, "Waiter", 7)
    await runtime.start()
    try:
        deadline = time.monotonic() + 30
        while not await store.list_turns(instance):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    finally:
        await runtime.shutdown()
        await store.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "garbage",
    ['{"type": "OrchestrationStarted", "event_id": "one"', "[1, 2, 3]", '{"type": 42}'],
    ids=["truncated-json", "wrong-shape", "wrong-type"],
)
async def test_an_undecodable_history_is_poisoned_at_the_sentinel(
    tmp_path: Path, garbage: str
) -> None:
    db = tmp_path / "undecodable.db"
    await waiting_instance(db, "victim")
    # Corrupt the victim's first event with plain sqlite3, as a disk or a bad
    # migration would; then raise the event it waits for.
    await corrupt_history_row(db, "victim", 1, garbage)
    store = await SqliteStore.open(db)
    runtime = Runtime(store, POISON_OPTIONS)
    add_code(runtime)
    add_waiter(runtime)
    client = runtime.client()
    await client.raise_event("victim", "go", "now")
    others = await start_others(client)
    await runtime.start()
    try:
        check_others(await wait_status(client, others))
        victim = await client.wait_for_orchestration("victim", 30)
        assert victim.status == "Failed"
        assert victim.error is not None
        assert victim.error.startswith(
            "poison: orchestration victim history deserialization failed: history row victim/1/1:"
        ), victim.error
        sentinel = sentinel_row(db, "victim")
        assert sentinel is not None and sentinel["type"] == "OrchestrationFailed"
        failed = OrchestrationFailed.model_validate(sentinel)
        assert isinstance(failed.details, PoisonError)
        assert isinstance(failed.details.message_type, PoisonFailedDeserialization)
        assert failed.details.message_type.instance == "victim"
        assert "history row victim/1/1" in failed.details.message
        turn = (await store.list_turns("victim"))[-1]
        assert turn.result == "poisoned"
        assert [v.verdict for v in turn.messages] == ["aborted"]
        assert queue_rows(db) == []
        # While it was being retried, the instances queued behind it made progress.
        assert min(await first_turn_times(store, others)) < turn.timestamp_ms
    finally:
        await runtime.shutdown()
        await store.close()


@pytest.mark.slow
async def test_a_message_to_an_undecodable_poisoned_instance_does_not_loop(
    tmp_path: Path,
) -> None:
    """After the sentinel poison, one more message arrives for the same instance."""
    db = tmp_path / "again.db"
    await waiting_instance(db, "victim")
    await corrupt_history_row(db, "victim", 1, "not json")
    store = await SqliteStore.open(db)
    runtime = Runtime(store, POISON_OPTIONS)
    add_code(runtime)
    add_waiter(runtime)
    client = runtime.client()
    await client.raise_event("victim", "go", 1)
    await runtime.start()
    try:
        assert (await client.wait_for_orchestration("victim", 30)).status == "Failed"
        before = sentinel_row(db, "victim")
        await client.raise_event("victim", "go", 2)  # e.g. a retry by the sender
        others = await start_others(client, 20)
        check_others(await wait_status(client, others))
        # The late event is dealt with (discarded: the execution is terminal), not
        # retried and re-poisoned forever, and nothing failed in the runtime.
        deadline = time.monotonic() + 10
        while queue_rows(db) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert queue_rows(db) == []
        assert sentinel_row(db, "victim") == before
        assert runtime.dispatchers is not None
        assert not [t for t in runtime.dispatchers._tasks if t.done()]
    finally:
        await runtime.shutdown()
        await store.close()


@pytest.mark.slow
async def test_an_activity_that_kills_its_worker_every_time_is_poisoned(tmp_path: Path) -> None:
    db = tmp_path / "crashy.db"
    store = await SqliteStore.open(db)
    client = Client(store)
    await client.start_orchestration("crashy", "Mixed", 0)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DURASCOPE_FAULT_POINTS": "activity",
        "DURASCOPE_FAULT_P": "1",
        "DURASCOPE_FAULT_LOG": str(tmp_path / "crashy.log"),
        "DURASCOPE_LOCK_MS": "300",
    }
    for _ in range(POISON_OPTIONS.max_attempts):  # every run dies inside Inc
        proc = subprocess.run(
            [sys.executable, "-m", "tests.reliability.faulty_runtime", "run", str(db)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == -9, proc.stderr[-2000:]
        await asyncio.sleep(0.35)  # the dead worker's lease runs out
    kills = (tmp_path / "crashy.log").read_text().count("kill activity in Inc of crashy ")
    assert kills == POISON_OPTIONS.max_attempts
    runtime = Runtime(store, POISON_OPTIONS)
    add_code(runtime)
    others = await start_others(client, 20)
    await runtime.start()
    try:
        check_others(await wait_status(client, others))
        crashy = await client.wait_for_orchestration("crashy", 30)
        assert crashy.status == "Failed"
        assert crashy.error == "poison: activity Inc#2 exceeded 4 attempts (max 3)"
        history = await store.read_history("crashy", 1)
        failed = [e for e in history if isinstance(e, ActivityFailed)]
        assert len(failed) == 1 and isinstance(failed[0].details, PoisonError)
        assert failed[0].details.message_type == PoisonActivity(
            instance="crashy", execution_id=1, activity_name="Inc", activity_id=2
        )
        assert isinstance(history[-1], OrchestrationFailed)
        assert await integrity_problems(store) == []
    finally:
        await runtime.shutdown()
        await store.close()


@pytest.mark.slow
async def test_orphan_messages_at_the_queue_head_are_discarded_and_journaled(
    tmp_path: Path,
) -> None:
    db = tmp_path / "orphans.db"
    store = await SqliteStore.open(db)
    client = Client(store)
    # duroxide parks an orphan CancelInstance at the head and never runs anything
    # after it; here every orphan kind goes first.
    await client.cancel_instance("does-not-exist", "cleanup")
    await client.raise_event("nobody-home", "go", 1)
    await client.enqueue_event("nobody-either", "inbox", 2)
    others = await start_others(client)
    runtime = Runtime(store, POISON_OPTIONS)
    add_code(runtime)
    await runtime.start()
    try:
        check_others(await wait_status(client, others))
        for orphan, kind in (
            ("does-not-exist", "CancelInstance"),
            ("nobody-home", "ExternalRaised"),
            ("nobody-either", "QueueMessage"),
        ):
            [turn] = await store.list_turns(orphan)
            assert turn.result == "discarded"
            [verdict] = turn.messages
            assert (verdict.verdict, verdict.reason) == ("discarded", "instance does not exist")
            assert type(verdict.message).__name__ == kind
            assert await store.get_instance(orphan) is None  # discarding created nothing
        assert queue_rows(db) == []
        # Discarded before anything queued behind them completed.
        first_done = min(await completion_times(store, others))
        for orphan in ("does-not-exist", "nobody-home", "nobody-either"):
            assert all(t.timestamp_ms <= first_done for t in await store.list_turns(orphan))
    finally:
        await runtime.shutdown()
        await store.close()
    # The debugger shows the discards as captured turns of instances that never existed.
    model = open_model(db)
    try:
        assert {t.instance for t in model.orphan_turns} >= {
            "does-not-exist",
            "nobody-home",
            "nobody-either",
        }
    finally:
        model.close()


@pytest.mark.slow
async def test_undecodable_queue_rows_neither_block_nor_crash(tmp_path: Path) -> None:
    db = tmp_path / "junk.db"
    store = await SqliteStore.open(db)
    client = Client(store)
    conn = sqlite3.connect(db, timeout=30)
    now = int(time.time() * 1000)
    for instance, item in (
        ("junk-1", "not json at all"),
        ("junk-2", '{"NoSuchWorkItem": {"instance": "junk-2"}}'),
        ("junk-3", '{"StartOrchestration": {"instance": 5}}'),
        ("ok0", '{"ExternalRaised": {"instance": "ok0", "name": 7}}'),  # an existing target
    ):
        conn.execute(
            "INSERT INTO orchestrator_queue (instance_id, work_item, visible_at_ms, "
            "created_at_ms) VALUES (?, ?, ?, ?)",
            (instance, item, now, now),
        )
    conn.execute(
        "INSERT INTO worker_queue (work_item, visible_at_ms, instance_id, execution_id, "
        "activity_id, created_at_ms) VALUES ('{\"ActivityExecute\": 1}', ?, 'junk-w', 1, 1, ?)",
        (now, now),
    )
    conn.commit()
    conn.close()
    others = await start_others(client)
    runtime = Runtime(store, POISON_OPTIONS)
    add_code(runtime)
    await runtime.start()
    try:
        check_others(await wait_status(client, others))
        assert queue_rows(db) == []  # dropped with their batches
        parked = queue_rows(db, "worker_queue")
        assert parked == [("junk-w", '{"ActivityExecute": 1}')]  # kept for inspection
        assert await integrity_problems(store) == []
        assert runtime.dispatchers is not None
        assert not [t for t in runtime.dispatchers._tasks if t.done()]
    finally:
        await runtime.shutdown()
        await store.close()
