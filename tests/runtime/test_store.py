"""Contract tests for the SQLite store, run against a file store and an in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from durascope.history import (
    ActivityCompleted,
    ActivityCompletedItem,
    ActivityExecute,
    ActivityScheduled,
    CancelInstance,
    ContinueAsNew,
    CustomStatusUpdated,
    ExternalEvent,
    ExternalRaised,
    MessageVerdict,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestratorItem,
    StartOrchestration,
    TimerCreated,
    TimerFiredItem,
    TurnRecord,
)
from durascope.runtime._store import SqliteStore
from durascope.runtime._store_types import (
    LockLostError,
    StoreError,
)
from durascope.runtime._turn_types import TurnOutcome
from tests.runtime.store_records import (
    LOCK_MS,
    fetch,
    first_turn,
    outcome,
    raw_sql,
    start,
    started,
)

pytestmark = pytest.mark.asyncio


class StoreContract:
    """Behaviour every store location must have; subclasses choose the location."""

    def location(self, tmp_path: Path) -> str | Path:
        raise NotImplementedError

    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        async with await SqliteStore.open(self.location(tmp_path)) as s:
            yield s

    async def test_round_trip(self, store: SqliteStore) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        b1 = await fetch(store)
        assert (b1.instance, b1.attempt, b1.instance_exists) == ("a", 1, False)
        assert (b1.current_execution_id, b1.history, b1.next_turn) == (0, (), 1)
        assert b1.messages == (start("a"),) and len(b1.message_ids) == 1
        delta = (
            started("a"),
            ActivityScheduled(event_id=2, name="act", input='"1"'),
            TimerCreated(event_id=3, fire_at_ms=9000),
            CustomStatusUpdated(event_id=4, status="busy"),
        )
        act = ActivityExecute(instance="a", execution_id=1, id=2, name="act", input='"1"')
        timer = TimerFiredItem(instance="a", execution_id=1, id=3, fire_at_ms=9000)
        out1 = outcome(
            b1,
            delta,
            worker_items=(act,),
            orchestrator_items=(timer,),
            custom_status="busy",
            custom_status_changed=True,
        )
        rec1 = out1.record(turn=b1.next_turn, timestamp_ms=1000, policy="fixed")
        await store.ack_orchestration_batch(b1, out1, rec1, now_ms=1001)

        row = await store.get_instance("a")
        assert row is not None
        assert (row.orchestration_name, row.orchestration_version, row.current_execution_id) == (
            "Flow",
            "1.0.0",
            1,
        )
        assert (row.status, row.custom_status, row.custom_status_version) == ("Running", "busy", 1)
        assert await store.read_history("a", 1) == list(delta)
        assert await store.list_turns("a") == [rec1]
        [ex] = await store.list_executions("a")
        assert (ex.execution_id, ex.status, ex.event_count, ex.completed_at_ms) == (
            1,
            "Running",
            4,
            None,
        )
        [queued_timer] = await store.pending_orchestrator_messages()
        assert (queued_timer.item, queued_timer.visible_at_ms, queued_timer.locked) == (
            timer,
            9000,
            False,
        )
        [queued_act] = await store.pending_work_items()
        assert (queued_act.item, queued_act.instance_id, queued_act.locked) == (act, "a", False)

        work = await store.fetch_work_item(now_ms=1002, lock_ms=LOCK_MS)
        assert work is not None and (work.item, work.attempt) == (act, 1)
        done = ActivityCompletedItem(instance="a", execution_id=1, id=2, result='"r"')
        assert await store.ack_work_item(work, done, now_ms=1003)
        assert await store.pending_work_items() == []

        b2 = await fetch(store, 1004)
        assert b2.messages == (done,)  # the timer is not due yet
        assert (b2.instance_exists, b2.current_execution_id, b2.next_turn) == (True, 1, 2)
        assert b2.history == delta
        delta2 = (
            ActivityCompleted(event_id=5, source_event_id=2, result='"r"'),
            OrchestrationCompleted(event_id=6, output='"r"'),
        )
        out2 = outcome(b2, delta2, status="Completed", output='"r"')
        rec2 = out2.record(turn=b2.next_turn, timestamp_ms=1004, policy="fixed")
        await store.ack_orchestration_batch(b2, out2, rec2, now_ms=1005)

        row = await store.get_instance("a")
        assert row is not None and (row.status, row.output) == ("Completed", '"r"')
        [ex] = await store.list_executions("a")
        assert (ex.status, ex.output, ex.completed_at_ms, ex.event_count) == (
            "Completed",
            '"r"',
            1005,
            6,
        )
        assert await store.read_history("a", 1) == list(delta + delta2)
        assert [t.turn for t in await store.list_turns("a")] == [1, 2]
        assert [i.instance_id for i in await store.list_instances()] == ["a"]

    async def test_continue_as_new_moves_current_execution(self, store: SqliteStore) -> None:
        delta1 = await first_turn(store)
        await store.enqueue([ExternalRaised(instance="a", name="go", data="1")], now_ms=1001)
        b2 = await fetch(store, 1001)
        assert b2.history == delta1
        can = ContinueAsNew(instance="a", orchestration="Flow", input='"2"', version="1.0.0")
        await store.ack_orchestration_batch(
            b2,
            outcome(
                b2,
                (OrchestrationContinuedAsNew(event_id=3, input='"2"'),),
                status="ContinuedAsNew",
                output='"2"',
                orchestrator_items=(can,),
            ),
            None,
            now_ms=1002,
        )
        b3 = await fetch(store, 1003)
        assert (b3.messages, b3.current_execution_id) == ((can,), 1)
        await store.ack_orchestration_batch(
            b3, outcome(b3, (started("a", 2),), execution_id=2), None, now_ms=1003
        )
        row = await store.get_instance("a")
        assert row is not None and (row.current_execution_id, row.status) == (2, "Running")
        assert [(e.execution_id, e.status, e.output) for e in await store.list_executions("a")] == [
            (1, "ContinuedAsNew", '"2"'),
            (2, "Running", None),
        ]
        await store.enqueue([ExternalRaised(instance="a", name="go", data="2")], now_ms=1004)
        b4 = await fetch(store, 1004)
        assert (b4.current_execution_id, b4.history) == (2, (started("a", 2),))

    async def test_locked_instance_is_skipped_others_are_fetchable(
        self, store: SqliteStore
    ) -> None:
        await store.enqueue([start("a"), start("b")], now_ms=1000)
        assert (await fetch(store)).instance == "a"
        await store.enqueue([ExternalRaised(instance="a", name="e", data="1")], now_ms=1000)
        assert (await fetch(store)).instance == "b"
        assert await store.fetch_orchestration_batch(now_ms=1000, lock_ms=LOCK_MS) is None
        locked = [m.locked for m in await store.pending_orchestrator_messages(now_ms=1000)]
        assert locked == [True, True, False]  # a's later message was not fetched

    async def test_expired_lock_is_stolen_and_the_old_ack_fails(self, store: SqliteStore) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        old = await fetch(store, 1000, lock_ms=100)
        assert await store.fetch_orchestration_batch(now_ms=1099, lock_ms=100) is None
        new = await fetch(store, 1100, lock_ms=100)
        assert (new.instance, new.attempt) == ("a", 2) and new.lock_token != old.lock_token
        assert not await store.renew_orchestration_lock(old, now_ms=1101, lock_ms=100)
        with pytest.raises(LockLostError):
            await store.ack_orchestration_batch(
                old, outcome(old, (started("a"),)), None, now_ms=1101
            )
        assert await store.get_instance("a") is None
        assert not await store.abandon_orchestration_batch(old, delay_ms=None, now_ms=1101)
        await store.ack_orchestration_batch(new, outcome(new, (started("a"),)), None, now_ms=1101)
        assert await store.read_history("a", 1) == [started("a")]

    async def test_ack_after_expiry_commits_nothing(self, store: SqliteStore) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        batch = await fetch(store, 1000, lock_ms=100)
        act = ActivityExecute(instance="a", execution_id=1, id=2, name="act", input="1")
        rec = TurnRecord(instance="a", execution_id=1, turn=1, timestamp_ms=1100, result="continue")
        with pytest.raises(LockLostError):
            await store.ack_orchestration_batch(
                batch, outcome(batch, (started("a"),), worker_items=(act,)), rec, now_ms=1100
            )
        assert await store.get_instance("a") is None
        assert await store.read_history("a", 1) == []
        assert await store.list_turns("a") == []
        assert await store.pending_work_items() == []
        assert [m.item for m in await store.pending_orchestrator_messages()] == [start("a")]
        assert (await fetch(store, 1100)).attempt == 2

    async def test_renewed_lock_survives_past_first_expiry(self, store: SqliteStore) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        batch = await fetch(store, 1000, lock_ms=100)
        assert await store.renew_orchestration_lock(batch, now_ms=1050, lock_ms=100)
        assert await store.fetch_orchestration_batch(now_ms=1120, lock_ms=100) is None
        await store.ack_orchestration_batch(
            batch, outcome(batch, (started("a"),)), None, now_ms=1140
        )

    async def test_messages_arriving_after_fetch_survive_the_ack(self, store: SqliteStore) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        batch = await fetch(store)
        late = ExternalRaised(instance="a", name="late", data="1")
        await store.enqueue([late], now_ms=1001)
        await store.ack_orchestration_batch(
            batch, outcome(batch, (started("a"),)), None, now_ms=1002
        )
        again = await fetch(store, 1003)
        assert again.messages == (late,) and again.attempt == 1

    async def test_timer_invisible_until_fire_time(self, store: SqliteStore) -> None:
        timer = TimerFiredItem(instance="a", execution_id=1, id=3, fire_at_ms=5000)
        await store.enqueue([timer], now_ms=1000)
        assert await store.fetch_orchestration_batch(now_ms=4999, lock_ms=LOCK_MS) is None
        assert await store.next_visible_at_ms() == 5000
        assert await store.next_visible_at_ms("worker") is None
        assert (await fetch(store, 5000)).messages == (timer,)
        # While locked, the row counts from the lock's expiry.
        assert await store.next_visible_at_ms("orchestrator") == 5000 + LOCK_MS

    async def test_a_timer_past_sqlites_integers_is_stored_and_never_due(
        self, store: SqliteStore
    ) -> None:
        """``schedule_timer(2**64 - 1)`` is valid: its row made the commit raise OverflowError."""
        timer = TimerFiredItem(instance="a", execution_id=1, id=3, fire_at_ms=2**64 - 1)
        await store.enqueue([timer], now_ms=1000)
        assert await store.fetch_orchestration_batch(now_ms=10**15, lock_ms=LOCK_MS) is None
        assert await store.next_visible_at_ms() == 2**63 - 1
        [queued] = await store.pending_orchestrator_messages()
        assert queued.item == timer

    async def test_abandon_with_delay_and_ignore_attempt(self, store: SqliteStore) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        b1 = await fetch(store, 1000)
        assert await store.abandon_orchestration_batch(b1, delay_ms=500, now_ms=1000)
        assert await store.fetch_orchestration_batch(now_ms=1499, lock_ms=LOCK_MS) is None
        assert await store.next_visible_at_ms() == 1500
        b2 = await fetch(store, 1500)
        assert b2.attempt == 2
        assert await store.abandon_orchestration_batch(
            b2, delay_ms=None, now_ms=1500, ignore_attempt=True
        )
        assert (await fetch(store, 1500)).attempt == 2

    async def test_attempt_count_grows_per_fetch(self, store: SqliteStore) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        attempts = []
        for _ in range(3):
            batch = await fetch(store)
            attempts.append(batch.attempt)
            await store.abandon_orchestration_batch(batch, delay_ms=None, now_ms=1000)
        assert attempts == [1, 2, 3]
        await store.enqueue([ExternalRaised(instance="a", name="e", data="1")], now_ms=1000)
        batch = await fetch(store)
        assert batch.attempt == 4 and len(batch.messages) == 2  # the max over the batch
        assert [m.attempt_count for m in await store.pending_orchestrator_messages()] == [4, 1]

    async def test_undecodable_queue_rows_are_reported_and_deleted_at_ack(
        self, store: SqliteStore
    ) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        act = ActivityExecute(instance="a", execution_id=1, id=2, name="x", input="1")
        for raw in ('{"Bogus":{"instance":"a"}}', "not json", act.model_dump_json()):
            await raw_sql(
                store,
                "INSERT INTO orchestrator_queue (instance_id, work_item,"
                " visible_at_ms, created_at_ms) VALUES ('a', ?, 1000, 1000)",
                (raw,),
            )
        assert [m.item is None for m in await store.pending_orchestrator_messages()] == [
            False,
            True,
            True,
            False,
        ]
        batch = await fetch(store)
        assert batch.messages == (start("a"),) and len(batch.undecodable_message_ids) == 3
        await store.ack_orchestration_batch(
            batch, outcome(batch, (started("a"),)), None, now_ms=1001
        )
        assert await store.pending_orchestrator_messages() == []

    async def test_undecodable_anchor_row_sets_history_error(self, store: SqliteStore) -> None:
        await first_turn(store)
        # Rewriting the last cached row must be noticed (the cache anchor) and reported.
        await raw_sql(store, "UPDATE history SET event_data = '{\"nope\": 1}' WHERE event_id = 2")
        await store.enqueue([ExternalRaised(instance="a", name="e", data="1")], now_ms=1001)
        batch = await fetch(store, 1001)
        # The rows that still decode come along (they tell whether the execution ended).
        assert [e.event_id for e in batch.history] == [1] and batch.history_error is not None
        assert (
            batch.history_error.startswith("history row a/1/2:") and "\n" not in batch.history_error
        )
        assert batch.current_execution_id == 1

    async def test_undecodable_appended_row_sets_history_error(self, store: SqliteStore) -> None:
        await first_turn(store)
        await raw_sql(store, "INSERT INTO history VALUES ('a', 1, 3, 'X', '[1, 2]')")
        await store.enqueue([ExternalRaised(instance="a", name="e", data="1")], now_ms=1001)
        batch = await fetch(store, 1001)
        assert [e.event_id for e in batch.history] == [1, 2]  # the cached prefix decodes
        assert (batch.history_error or "").startswith("history row a/1/3:")
        with pytest.raises(StoreError):
            await store.read_history("a", 1)

    async def test_missing_instance_batch_does_not_block_the_queue(
        self, store: SqliteStore
    ) -> None:
        ghost = CancelInstance(instance="ghost", reason="by_user")
        await store.enqueue([ghost], now_ms=1000)
        await store.enqueue([start("b")], now_ms=1000)
        batch = await fetch(store)
        assert (batch.instance, batch.instance_exists, batch.current_execution_id) == (
            "ghost",
            False,
            0,
        )
        assert batch.messages == (ghost,) and batch.orchestration_name is None
        assert (await fetch(store)).instance == "b"  # fetchable while ghost is held
        discard = TurnOutcome(
            instance="ghost",
            execution_id=0,
            result="discarded",
            verdicts=(MessageVerdict(message=ghost, verdict="discarded", reason="no instance"),),
        )
        await store.ack_orchestration_batch(batch, discard, None, now_ms=1001)
        assert await store.get_instance("ghost") is None
        assert await store.list_executions("ghost") == []
        assert [m.instance_id for m in await store.pending_orchestrator_messages()] == ["b"]

    async def test_worker_ack_refused_after_cancellation(self, store: SqliteStore) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        b1 = await fetch(store)
        act = ActivityExecute(instance="a", execution_id=1, id=2, name="act", input="1")
        await store.ack_orchestration_batch(
            b1,
            outcome(
                b1,
                (started("a"), ActivityScheduled(event_id=2, name="act", input="1")),
                worker_items=(act,),
            ),
            None,
            now_ms=1000,
        )
        work = await store.fetch_work_item(now_ms=1001, lock_ms=LOCK_MS)
        assert work is not None
        await store.enqueue([ExternalRaised(instance="a", name="stop", data="1")], now_ms=1002)
        b2 = await fetch(store, 1002)
        await store.ack_orchestration_batch(
            b2,
            outcome(
                b2, (ExternalEvent(event_id=3, name="stop", data="1"),), cancelled_activities=(2,)
            ),
            None,
            now_ms=1002,
        )
        assert await store.pending_work_items() == []
        done = ActivityCompletedItem(instance="a", execution_id=1, id=2, result="1")
        assert not await store.ack_work_item(work, done, now_ms=1003)
        assert not await store.renew_work_item_lock(work, now_ms=1003, lock_ms=LOCK_MS)
        assert await store.pending_orchestrator_messages() == []

    async def test_worker_ack_refused_after_steal(self, store: SqliteStore) -> None:
        await store.enqueue([start("a")], now_ms=1000)
        b1 = await fetch(store)
        act = ActivityExecute(instance="a", execution_id=1, id=2, name="act", input="1")
        await store.ack_orchestration_batch(
            b1, outcome(b1, (started("a"),), worker_items=(act,)), None, now_ms=1000
        )
        slow = await store.fetch_work_item(now_ms=1000, lock_ms=100)
        assert slow is not None
        assert await store.fetch_work_item(now_ms=1099, lock_ms=100) is None
        assert await store.next_visible_at_ms("worker") == 1100
        fast = await store.fetch_work_item(now_ms=1100, lock_ms=100)
        assert fast is not None and (fast.id, fast.attempt) == (slow.id, 2)
        done = ActivityCompletedItem(instance="a", execution_id=1, id=2, result="1")
        assert not await store.ack_work_item(slow, done, now_ms=1101)
        assert not await store.abandon_work_item(slow, delay_ms=None, now_ms=1101)
        assert await store.ack_work_item(fast, done, now_ms=1101)
        assert [m.item for m in await store.pending_orchestrator_messages()] == [done]

    async def test_worker_abandon_renew_and_parked_rows(self, store: SqliteStore) -> None:
        await raw_sql(
            store,
            "INSERT INTO worker_queue (work_item, visible_at_ms, instance_id,"
            " execution_id, activity_id, created_at_ms) VALUES ('junk', 0, 'a', 1, 9, 0)",
        )
        act = ActivityExecute(instance="a", execution_id=1, id=2, name="act", input="1")
        await store.enqueue([start("a")], now_ms=1000)
        b1 = await fetch(store)
        await store.ack_orchestration_batch(
            b1, outcome(b1, (started("a"),), worker_items=(act,)), None, now_ms=1000
        )
        work = await store.fetch_work_item(now_ms=1000, lock_ms=100)
        assert work is not None and work.item == act  # the junk row was parked, not returned
        assert await store.renew_work_item_lock(work, now_ms=1050, lock_ms=100)
        assert await store.fetch_work_item(now_ms=1120, lock_ms=100) is None
        assert await store.abandon_work_item(work, delay_ms=300, now_ms=1120)
        assert await store.next_visible_at_ms("worker") == 1420
        assert await store.fetch_work_item(now_ms=1419, lock_ms=100) is None
        again = await store.fetch_work_item(now_ms=1420, lock_ms=100)
        assert again is not None and again.attempt == 2
        assert [
            (m.item is None, m.locked) for m in await store.pending_work_items(now_ms=1420)
        ] == [(True, False), (False, True)]

    async def test_reads_for_debugger(self, store: SqliteStore) -> None:
        await store.enqueue([start("p")], now_ms=1000)
        await store.enqueue([start("p::sub::2", parent="p")], now_ms=1001)
        for now in (1001, 1002):
            batch = await fetch(store, now)
            [message] = batch.messages
            assert isinstance(message, StartOrchestration)
            parent = message.parent_instance
            await store.ack_orchestration_batch(
                batch,
                outcome(batch, (started(batch.instance, parent=parent),), parent_instance=parent),
                None,
                now_ms=now,
            )
        assert [r.instance_id for r in await store.list_instances()] == ["p", "p::sub::2"]
        assert await store.list_children("p") == ["p::sub::2"]
        child = await store.get_instance("p::sub::2")
        assert child is not None and child.parent_instance_id == "p"
        assert await store.get_instance("nope") is None
        assert isinstance(await store.data_version(), int)

    async def test_closed_store_raises_store_error(self, store: SqliteStore) -> None:
        await store.close()
        with pytest.raises(StoreError, match="closed"):
            await store.get_instance("a")
        await store.close()  # idempotent

    async def test_enqueue_rejects_worker_items(self, store: SqliteStore) -> None:
        act = ActivityExecute(instance="a", execution_id=1, id=2, name="act", input="1")
        bad: list[OrchestratorItem] = [act]  # type: ignore[list-item]
        with pytest.raises(ValueError):
            await store.enqueue(bad, now_ms=0)
        await store.enqueue([], now_ms=0)
        assert await store.pending_orchestrator_messages() == []


class TestMemoryStore(StoreContract):
    def location(self, tmp_path: Path) -> str | Path:
        return ":memory:"


class TestFileStore(StoreContract):
    def location(self, tmp_path: Path) -> str | Path:
        return tmp_path / "store.db"
