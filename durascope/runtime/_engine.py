"""The orchestration dispatcher turn as one pure function.

``process_turn`` applies duroxide's rules to a fetched batch: poison check,
terminal fast-ack (with the fix's fail-fast for colliding child starts),
execution selection (continue-as-new starts a new execution), message
preparation (execution filter, duplicates, schedule check), replay of the
code, and the turn's result with its history delta and work items.  The
runtime commits the outcome; the debugger shows it.  No I/O happens here.
"""

from __future__ import annotations

from typing import Any

from durascope.history import (
    ActivityCompleted,
    ActivityCompletedItem,
    ActivityExecute,
    ActivityFailed,
    ActivityFailedItem,
    CancelInstance,
    ContinueAsNew,
    ErrorDetails,
    Event,
    ExternalEvent,
    ExternalRaised,
    OrchestrationCancelRequested,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
    OrchestratorItem,
    QueueEventDelivered,
    QueueMessage,
    StartOrchestration,
    SubOrchCompleted,
    SubOrchestrationCompleted,
    SubOrchestrationFailed,
    SubOrchestrationScheduled,
    SubOrchFailed,
    TimerFired,
    TimerFiredItem,
    cancelled_error,
    display_message,
    is_system_error,
    is_terminal,
    nondeterminism_error,
)
from durascope.runtime._child_ids import full_child_id
from durascope.runtime._registry import OrchestrationResolver
from durascope.runtime._replayer import Replayer, ReplayResult
from durascope.runtime._tasks import (
    ActivityTask,
    DetachedStartTask,
    SubOrchestrationTask,
    TimerTask,
)
from durascope.runtime._turn_builder import TurnBuilder, first_started
from durascope.runtime._turn_types import ENGINE_VERSION, TurnInput, TurnOutcome

CARRY_FORWARD_LIMIT = 20
"""Unconsumed mailbox messages carried into the next execution (duroxide's cap)."""


def retry_backoff_ms(attempt: int, base_ms: int = 1000) -> int:
    """Delay before retrying work whose code is not registered (or that failed to process).

    duroxide's ``UnregisteredBackoffConfig``: ``base_ms * 2**(attempt - 1)`` with the
    exponent capped at 6, and at most 60 s; ``attempt`` is the 1-based fetch count.
    """
    return int(min(base_ms * 2 ** min(max(attempt - 1, 0), 6), 60_000))


def process_turn(inp: TurnInput, code: OrchestrationResolver) -> TurnOutcome:
    """Run one dispatcher turn; see the module docstring."""
    return _Turn(inp, code).run()


class _Turn(TurnBuilder):
    # The turn.

    def run(self) -> TurnOutcome:
        inp = self.inp
        start_index = next(
            (
                i
                for i, m in enumerate(inp.messages)
                if isinstance(m, StartOrchestration | ContinueAsNew)
            ),
            None,
        )
        start = inp.messages[start_index] if start_index is not None else None
        started = first_started(self.history)

        if inp.history_error is not None:
            return self._history_error(started)
        if not self.history and start is None:
            self._all_verdicts("discarded", "instance does not exist")
            return self._outcome(result="discarded")
        if inp.attempt > inp.max_attempts:
            return self._poison(start, started)

        terminal = next((e for e in reversed(self.history) if is_terminal(e)), None)
        can_start = isinstance(start, ContinueAsNew)
        if terminal is not None and not (
            terminal.type == "OrchestrationContinuedAsNew" and can_start
        ):
            return self._fast_ack(started)

        if can_start:
            assert isinstance(start, ContinueAsNew)
            self.execution_id = max(inp.current_execution_id, 1) + 1
            self.history, self.next_id = (), 1
            name, version, input_ = start.orchestration, start.version, start.input
        elif not self.history:
            assert isinstance(start, StartOrchestration)
            self.execution_id = max(inp.current_execution_id, 1)
            name, version, input_ = start.orchestration, start.version, start.input
        else:
            assert started is not None
            name, version, input_ = started.name, started.version, started.input

        resolved = self.code.resolve(name, version)
        if resolved is None:
            self._all_verdicts("aborted", f"orchestration '{name}' is not registered")
            delay = retry_backoff_ms(inp.attempt, inp.retry_backoff_ms)
            return self._outcome(
                abandon_delay_ms=delay,
                abandon_reason=f"orchestration '{name}' (version {version or 'latest'}) "
                f"is not registered; retry in {delay} ms",
                result="continue",
            )
        resolved_version, fn = resolved

        if self.history:
            if start_index is not None:
                self._verdict(
                    start_index, "discarded", "instance already running: duplicate start ignored"
                )
        else:
            assert start_index is not None
            started = self._new_started(start, started, name, resolved_version, input_)
            self._verdict(
                start_index, "applied", f"started execution {self.execution_id}", started.event_id
            )
        assert started is not None
        for i, m in enumerate(inp.messages):
            if i != start_index and isinstance(m, StartOrchestration | ContinueAsNew):
                self._verdict(i, "duplicate", "second start item in one batch ignored")

        abort = self._prepare_completions()
        replay = self._replay(fn, started, resolved_version)
        if abort is None and replay.abort is not None:
            abort = replay.abort
        return self._finalize(started, replay, abort)

    def _prepare_completions(self) -> ErrorDetails | None:
        """Duroxide's ``prep_completions``: filter, dedupe, check, materialize."""
        inp = self.inp
        abort: ErrorDetails | None = None
        known = {e.event_id: e for e in self.history}
        in_history = {
            (e.type, e.source_event_id) for e in self.history if e.source_event_id is not None
        }
        in_turn: set[tuple[str, int]] = set()
        cancel_seen = any(e.type == "OrchestrationCancelRequested" for e in self.history)
        for i, msg in enumerate(inp.messages):
            if self.verdicts[i] is not None:
                continue
            if isinstance(msg, ExternalRaised):
                ev = self._append(ExternalEvent, name=msg.name, data=msg.data)
                self._verdict(i, "applied", "external event", ev.event_id)
                continue
            if isinstance(msg, QueueMessage):
                ev = self._append(QueueEventDelivered, name=msg.name, data=msg.data)
                self._verdict(i, "applied", "mailbox message", ev.event_id)
                continue
            if isinstance(msg, CancelInstance):
                if cancel_seen:
                    self._verdict(i, "duplicate", "cancellation already requested")
                    continue
                cancel_seen = True
                ev = self._append(OrchestrationCancelRequested, reason=msg.reason)
                self._verdict(i, "applied", "cancellation requested", ev.event_id)
                continue
            addressed, source, kind, event_type = _completion_facts(msg)
            if addressed != self.execution_id:
                self._verdict(
                    i,
                    "filtered",
                    f"other execution: addressed to execution {addressed}, "
                    f"current is {self.execution_id}",
                )
                continue
            if (event_type, source) in in_history:
                # duroxide 0.1.32 has no ActivityFailed arm in this check: it records a
                # redelivered failure again and fails the orchestration ("completion
                # without open schedule").  A redelivery is normal under leases, so
                # durascope drops it like any other duplicate (README, "Where durascope
                # differs from duroxide"); the debugger shows duroxide's behaviour.
                self._verdict(i, "duplicate", "duplicate in history")
                continue
            if (event_type, source) in in_turn:
                self._verdict(i, "duplicate", "duplicate in this turn")
                continue
            schedule = known.get(source) or next(
                (e for e in self.delta if e.event_id == source), None
            )
            problem = _schedule_problem(schedule, kind, source)
            if problem is not None:
                abort = abort or nondeterminism_error(problem)
                self._verdict(i, "aborted", f"nondeterminism: {problem}")
                continue
            ev = self._materialize(msg, source)
            in_turn.add((event_type, source))
            details = getattr(msg, "details", None)
            if details is not None and is_system_error(details):
                abort = abort or details
            self._verdict(i, "applied", f"completion of schedule {source}", ev.event_id)
        return abort

    def _materialize(self, msg: OrchestratorItem, source: int) -> Event:
        if isinstance(msg, ActivityCompletedItem):
            return self._append(ActivityCompleted, source, result=msg.result)
        if isinstance(msg, ActivityFailedItem):
            return self._append(ActivityFailed, source, details=msg.details)
        if isinstance(msg, TimerFiredItem):
            return self._append(TimerFired, source, fire_at_ms=msg.fire_at_ms)
        if isinstance(msg, SubOrchCompleted):
            return self._append(SubOrchestrationCompleted, source, result=msg.result)
        assert isinstance(msg, SubOrchFailed)
        return self._append(SubOrchestrationFailed, source, details=msg.details)

    def _replay(self, fn: Any, started: OrchestrationStarted, version: str) -> ReplayResult:
        full = list(self.history) + self.delta
        replayer = Replayer(
            fn,
            instance=self.inp.instance,
            execution_id=self.execution_id,
            name=started.name,
            version=version,
            input=started.input,
            history=full,
            persisted_len=len(self.history),
            now_ms=self.inp.now_ms,
            policy=self.inp.policy,
            engine_version=ENGINE_VERSION,
            initial_custom_status=started.initial_custom_status,
        )
        result = replayer.run()
        self.delta.extend(result.new_events)
        self.next_id = max(self.next_id, result.next_event_id)
        return result

    # Endings.

    def _finalize(
        self, started: OrchestrationStarted, replay: ReplayResult, abort: ErrorDetails | None
    ) -> TurnOutcome:
        full = list(self.history) + self.delta
        cancel = next((e for e in full if isinstance(e, OrchestrationCancelRequested)), None)
        workers: list[ActivityExecute] = []
        orchestrator: list[OrchestratorItem] = []
        loser_cancels: list[OrchestratorItem] = []
        known_update: dict[str, int] = {}

        if abort is not None:
            result, status = "failed", "Failed"
            details: ErrorDetails | None = abort
            output: str | None = display_message(abort)
        elif cancel is not None:
            result, status = "cancelled", "Failed"
            details = cancelled_error(cancel.reason)
            output = display_message(details)
        elif replay.continue_as_new is not None:
            result, status, details = "continued_as_new", "ContinuedAsNew", None
            output = replay.continue_as_new.input
        else:
            loser_cancels = self._dropped_future_breadcrumbs(replay)
            if replay.state == "completed":
                result, status, details, output = "completed", "Completed", None, replay.output
            elif replay.state == "failed":
                assert replay.failure is not None
                result, status, details = "failed", "Failed", replay.failure
                output = display_message(replay.failure)
            else:
                result, status, details, output = "continue", "Running", None, None

        if result == "continue":
            for pending in replay.pending:
                item = self._dispatch(pending.action.task, pending.event.event_id, started)
                if isinstance(item, ActivityExecute):
                    workers.append(item)
                    known_update[self.inp.instance] = self.execution_id
                elif item is not None:
                    orchestrator.append(item)
                    if isinstance(item, TimerFiredItem):
                        known_update[self.inp.instance] = self.execution_id
        else:
            # A final turn dispatches only detached starts, and only when it completes or
            # fails (duroxide drops them on continue-as-new and cancellation); other
            # schedules of this turn stay in history without work (the debugger reports
            # them as never dispatched).
            for pending in replay.pending:
                if isinstance(pending.action.task, DetachedStartTask) and result in (
                    "completed",
                    "failed",
                ):
                    item = self._dispatch(pending.action.task, pending.event.event_id, started)
                    assert item is not None and not isinstance(item, ActivityExecute)
                    orchestrator.append(item)
            self._subscription_breadcrumbs(replay, with_dropped=result == "continued_as_new")
            if result == "continued_as_new":
                assert replay.continue_as_new is not None
                self._append(OrchestrationContinuedAsNew, input=replay.continue_as_new.input)
                orchestrator.append(
                    ContinueAsNew(
                        instance=self.inp.instance,
                        orchestration=started.name,
                        input=replay.continue_as_new.input,
                        version=replay.continue_as_new.version,
                        carry_forward_events=tuple(replay.unconsumed_queue[:CARRY_FORWARD_LIMIT]),
                        initial_custom_status=replay.custom_status,
                    )
                )
            elif result == "completed":
                assert output is not None
                self._append(OrchestrationCompleted, output=output)
            else:
                assert details is not None
                self._append(OrchestrationFailed, details=details)
            if result == "cancelled":
                orchestrator.extend(self._cancel_children(started))
            notify = self._notify_parent(started, result, output, details)
            if notify is not None:
                orchestrator.append(notify)

        cancelled = self._terminal_activity_cancels(result) if result != "continue" else []
        orchestrator.extend(loser_cancels)
        cancelled.extend(
            leaf.schedule_id
            for leaf in replay.dropped
            if leaf.kind == "activity" and leaf.schedule_id is not None
        )
        status_text = self._status_of(full, replay)
        return self._outcome(
            worker_items=tuple(workers),
            orchestrator_items=tuple(orchestrator),
            cancelled_activities=tuple(dict.fromkeys(cancelled)),
            result=result,
            status=status if result != "continue" else "Running",
            output=output if result != "continue" else None,
            orchestration_name=started.name,
            orchestration_version=started.version,
            parent_instance=started.parent_instance,
            custom_status=status_text[1],
            custom_status_changed=status_text[0],
            known_executions_update=known_update,
            error=output if result == "failed" and abort is not None else None,
        )

    def _status_of(self, full: list[Event], replay: ReplayResult) -> tuple[bool, str | None]:
        updates = [e for e in self.delta if e.type == "CustomStatusUpdated"]
        if not updates:
            return False, None
        return True, updates[-1].status  # type: ignore[union-attr]

    def _dispatch(
        self, task: Any, event_id: int, started: OrchestrationStarted
    ) -> ActivityExecute | OrchestratorItem | None:
        inst, ex = self.inp.instance, self.execution_id
        if isinstance(task, ActivityTask):
            return ActivityExecute(
                instance=inst,
                execution_id=ex,
                id=event_id,
                name=task.name,
                input=task.input,
                session_id=task.session_id,
                tag=task.tag,
            )
        if isinstance(task, TimerTask):
            fire = next(e for e in self.delta if e.event_id == event_id).fire_at_ms  # type: ignore[union-attr]
            return TimerFiredItem(instance=inst, execution_id=ex, id=event_id, fire_at_ms=fire)
        if isinstance(task, SubOrchestrationTask):
            scheduled = next(e for e in self.delta if e.event_id == event_id)
            assert isinstance(scheduled, SubOrchestrationScheduled)
            return StartOrchestration(
                instance=full_child_id(inst, scheduled.instance),
                orchestration=task.name,
                input=task.input,
                version=task.version,
                parent_instance=inst,
                parent_id=event_id,
                execution_id=1,
                parent_execution_id=ex if self.inp.policy == "fixed" else None,
            )
        if isinstance(task, DetachedStartTask):
            return StartOrchestration(
                instance=task.instance,
                orchestration=task.name,
                input=task.input,
                version=task.version,
            )
        return None  # waits and dequeues need no work item


def _completion_facts(msg: OrchestratorItem) -> tuple[int, int, str, str]:
    """(addressed execution, schedule id, schedule kind, history event type)."""
    if isinstance(msg, ActivityCompletedItem):
        return msg.execution_id, msg.id, "activity", "ActivityCompleted"
    if isinstance(msg, ActivityFailedItem):
        return msg.execution_id, msg.id, "activity", "ActivityFailed"
    if isinstance(msg, TimerFiredItem):
        return msg.execution_id, msg.id, "timer", "TimerFired"
    if isinstance(msg, SubOrchCompleted):
        return (
            msg.parent_execution_id,
            msg.parent_id,
            "suborchestration",
            "SubOrchestrationCompleted",
        )
    assert isinstance(msg, SubOrchFailed)
    return msg.parent_execution_id, msg.parent_id, "suborchestration", "SubOrchestrationFailed"


_KIND_OF_SCHEDULE = {
    "ActivityScheduled": "activity",
    "TimerCreated": "timer",
    "SubOrchestrationScheduled": "suborchestration",
}


def _schedule_problem(schedule: Event | None, kind: str, source: int) -> str | None:
    """Duroxide's schedule check: the message must point at a schedule of its kind."""
    found = _KIND_OF_SCHEDULE.get(schedule.type) if schedule is not None else None
    if found == kind:
        return None
    if found is not None:
        return f"completion kind mismatch for id={source}, expected '{found}', got '{kind}'"
    if kind == "activity":
        return f"no matching schedule for completion id={source}"
    if kind == "timer":
        return f"no matching schedule for timer id={source}"
    return f"no matching schedule for sub-orchestration id={source}"
