"""Replay orchestration code against one execution's history.

The replayer walks the events in order, resuming the user's generator whenever
the future it waits on resolves.  Each task the code yields emits actions into
a FIFO; every schedule event in history pops the next action and must match it
(duroxide's rules and error strings), and the actions left when history runs
out become new events.  Nothing here does I/O: the engine decides what a turn
commits, the replayer only says what the code did.
"""

from __future__ import annotations

import types
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from durascope.history import (
    ErrorDetails,
    Event,
    SubOrchestrationPolicy,
    application_error,
    display_message,
    is_system_error,
    nondeterminism_error,
)
from durascope.runtime._actions import (
    SCHEDULE_KINDS,
    Action,
    PendingAction,
    action_matches,
    check_step,
    leaf_for,
    schedule_event,
)
from durascope.runtime._context import OrchestrationContext
from durascope.runtime._futures import (
    AllFuture,
    CompositeFuture,
    DropSink,
    DurableFuture,
    LeafFuture,
    RaceFuture,
)
from durascope.runtime._rust_debug import describe_action, describe_event
from durascope.runtime._tasks import (
    ActivityTask,
    AllTask,
    ContinueAsNewTask,
    DetachedStartTask,
    RaceTask,
    decode_payload,
    encode_payload,
    retry_attempts,
)
from durascope.runtime._user_code import close_quietly, exception_text, format_raised

OrchestrationFn = Callable[[OrchestrationContext, Any], Any]
"""A generator function ``(ctx, input) -> Generator[Task, Any, output]`` (or a plain one)."""

MAX_NEW_ACTIONS = 10_000
"""Bound on actions one turn may emit (duroxide bounds its quiescence loop likewise)."""

_COMPLETION_KIND = {
    "ActivityCompleted": "activity",
    "ActivityFailed": "activity",
    "TimerFired": "timer",
    "SubOrchestrationCompleted": "suborch",
    "SubOrchestrationFailed": "suborch",
}
_BREADCRUMB_KIND = {
    "ActivityCancelRequested": "activity",
    "SubOrchestrationCancelRequested": "suborch",
    "ExternalSubscribedCancelled": "external",
    "ExternalSubscribedPersistentCancelled": "queue",
}


_DROP_CHECK_LABELS = {
    "activity": "activities",
    "suborch": "sub-orchestrations",
    "external": "external waits",
    "queue": "persistent waits",
}
_SCHEDULE_OF_KIND = {
    "ActivityScheduled": "activity",
    "SubOrchestrationScheduled": "suborch",
    "ExternalSubscribed": "external",
    "ExternalSubscribedPersistent": "queue",
}


def _rust_set(ids: set[Any]) -> str:
    """A set of ids as Rust's ``{:?}`` of a ``HashSet`` (sorted here; Rust's order varies)."""
    return "{" + ", ".join(str(i) for i in sorted(ids)) + "}"


class NondeterminismDetected(Exception):
    """Replay diverged from history; ``message`` uses duroxide's wording."""

    def __init__(self, message: str, event_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.event_id = event_id


@dataclass
class ReplayResult:
    """What replaying the code over an execution's history produced."""

    new_events: list[Event] = field(default_factory=list)
    pending: list[PendingAction] = field(default_factory=list)
    state: str = "running"
    """``running``, ``completed``, ``failed`` or ``continue_as_new``."""
    output: str | None = None
    failure: ErrorDetails | None = None
    continue_as_new: ContinueAsNewTask | None = None
    abort: ErrorDetails | None = None
    """A system error or nondeterminism that fails the execution regardless of code."""
    abort_event_id: int | None = None
    dropped: list[LeafFuture] = field(default_factory=list)
    breadcrumbed: set[tuple[str, int]] = field(default_factory=set)
    open_subscriptions: list[LeafFuture] = field(default_factory=list)
    unconsumed_queue: list[tuple[str, str]] = field(default_factory=list)
    undelivered_events: list[int] = field(default_factory=list)
    custom_status: str | None = None
    next_event_id: int = 1


class _Coroutine:
    """A generator being driven (the orchestration itself or a retry loop)."""

    def __init__(self, gen: Generator[Any, Any, Any], result: _CoroutineFuture | None) -> None:
        self.gen = gen
        self.result = result
        self.awaiting: DurableFuture | None = None
        self.started = False
        self.finished = False


class _CoroutineFuture(DurableFuture):
    """The future of a nested coroutine (a retried activity)."""

    def __init__(self) -> None:
        super().__init__()
        self.coroutine: _Coroutine | None = None

    def drop(self, on_drop: DropSink) -> None:
        if self.done or self.dropped:
            return
        self.dropped = True
        co = self.coroutine
        if co is not None and not co.finished:
            co.finished = True
            if co.awaiting is not None:
                co.awaiting.drop(on_drop)
            co.gen.close()


class _Never(DurableFuture):
    """What ``continue_as_new`` waits on: the execution ends instead."""

    def drop(self, on_drop: DropSink) -> None:
        self.dropped = True


class Replayer(DropSink):
    """Replays one execution of an orchestration; see the module docstring.

    Args:
        fn: The orchestration function.
        instance: Instance id.
        execution_id: Execution being replayed.
        name: Orchestration name (from ``OrchestrationStarted``).
        version: Pinned version.
        input: The execution's JSON input.
        history: All events of the execution known this turn, persisted first.
        persisted_len: How many of ``history`` were already persisted.
        now_ms: Turn time, for new events and timer fire times.
        policy: Child-id policy.
        engine_version: Written to new events' ``duroxide_version``.
        initial_custom_status: Custom status carried into this execution.
    """

    def __init__(
        self,
        fn: OrchestrationFn,
        *,
        instance: str,
        execution_id: int,
        name: str,
        version: str,
        input: str,
        history: list[Event],
        persisted_len: int,
        now_ms: int,
        policy: SubOrchestrationPolicy,
        engine_version: str,
        initial_custom_status: str | None = None,
    ) -> None:
        super().__init__()
        self._fn = fn
        self._instance = instance
        self._execution_id = execution_id
        self._input = input
        self._history = history
        self._persisted_len = persisted_len
        self._now_ms = now_ms
        self._policy = policy
        self._engine_version = engine_version
        self._position = 0
        self._fifo: deque[Action] = deque()
        self._bound: dict[int, LeafFuture] = {}
        self._closed: set[int] = set()
        self._ext_subs: dict[str, deque[LeafFuture]] = {}
        self._queue_subs: dict[str, deque[LeafFuture]] = {}
        self._queue_msgs: dict[str, deque[tuple[int, str]]] = {}
        self._coroutines: list[_Coroutine] = []
        self._generators: list[Generator[Any, Any, Any]] = []
        self._tokens = 0
        self._result = ReplayResult(custom_status=initial_custom_status)
        self.custom_status = initial_custom_status
        self.ctx = OrchestrationContext(
            self,
            instance_id=instance,
            execution_id=execution_id,
            orchestration_name=name,
            orchestration_version=version,
        )

    # Called by the context.

    @property
    def is_replaying(self) -> bool:
        """True while the walker is inside the persisted part of history."""
        return self._position < self._persisted_len

    def record_custom_status(self, status: str | None) -> None:
        """Queue a custom-status action (it is matched against history like a schedule)."""
        self.custom_status = status
        self._fifo.append(Action(kind="custom_status", custom_status=status))

    # DropSink

    def add(self, leaf: LeafFuture) -> None:
        """A leaf future was dropped: stop routing arrivals to it."""
        self._result.dropped.append(leaf)
        for subs in (self._ext_subs.get(leaf.name), self._queue_subs.get(leaf.name)):
            if subs is not None and leaf in subs:
                subs.remove(leaf)

    # The walk.

    def run(self) -> ReplayResult:
        """Replay the whole history, then turn the remaining actions into new events."""
        result = self._result
        try:
            self._start_main()
            self._poll()
            for index, event in enumerate(self._history):
                if result.state in ("completed", "failed"):
                    # duroxide stops matching history once the output is ready: events
                    # left over (a trailing wait the new code dropped) are not checked.
                    break
                self._position = index + 1
                self._apply(event)
                if result.abort is not None:
                    return self._finish()
                self._poll()
            self._position = len(self._history)
            next_id = max((e.event_id for e in self._history), default=0) + 1
            emitted = 0
            while self._fifo and result.abort is None:
                action = self._fifo.popleft()
                envelope = {
                    "event_id": next_id,
                    "instance_id": self._instance,
                    "execution_id": self._execution_id,
                    "timestamp_ms": self._now_ms,
                    "duroxide_version": self._engine_version,
                }
                event = schedule_event(action, envelope, self._policy)
                next_id += 1
                self._bind(action, event)
                result.new_events.append(event)
                result.pending.append(PendingAction(action, event))
                emitted += 1
                if emitted > MAX_NEW_ACTIONS:
                    raise NondeterminismDetected(
                        f"quiescence loop: more than {MAX_NEW_ACTIONS} actions in one turn"
                    )
                self._poll()
            result.next_event_id = next_id
            if result.abort is None:
                self._check_dropped_futures()
        except NondeterminismDetected as exc:
            result.abort = nondeterminism_error(exc.message)
            result.abort_event_id = exc.event_id
        return self._finish()

    def _check_dropped_futures(self) -> None:
        """The end-of-turn check (duroxide's) of persisted ``dropped_future`` breadcrumbs.

        For each kind, the schedules history says were dropped (``*Cancel*`` events
        with reason ``dropped_future`` in the persisted part) must be among those the
        code dropped this run.  Like duroxide, the check is skipped when nothing is
        persisted yet, for a cancelled execution and for a continue-as-new turn.
        """
        if self._persisted_len == 0 or self._result.continue_as_new is not None:
            return
        if any(e.type == "OrchestrationCancelRequested" for e in self._history):
            return
        persisted = self._history[: self._persisted_len]
        for kind, label in _DROP_CHECK_LABELS.items():
            baseline = {
                e.source_event_id
                for e in persisted
                if _BREADCRUMB_KIND.get(e.type) == kind
                and getattr(e, "reason", None) == "dropped_future"
                and e.source_event_id is not None
            }
            if not baseline:
                continue
            scheduled = {e.event_id for e in persisted if _SCHEDULE_OF_KIND.get(e.type) == kind}
            dropped = {
                leaf.schedule_id
                for leaf in self._result.dropped
                if leaf.kind == kind and leaf.schedule_id in scheduled
            }
            if not baseline <= dropped:
                raise NondeterminismDetected(
                    f"cancellation mismatch ({label}): "
                    f"baseline_dropped_future_cancel_requests={_rust_set(baseline)} "
                    f"ctx_cancelled_in_replayed_segment={_rust_set(dropped)}"
                )

    def _finish(self) -> ReplayResult:
        result = self._result
        result.custom_status = self.custom_status
        for subs in self._ext_subs.values():
            result.open_subscriptions.extend(s for s in subs if not s.done)
        for subs in self._queue_subs.values():
            result.open_subscriptions.extend(s for s in subs if not s.done)
        result.open_subscriptions.sort(key=lambda f: f.schedule_id or 0)
        msgs = [(eid, name, data) for name, q in self._queue_msgs.items() for eid, data in q]
        result.unconsumed_queue = [(name, data) for _, name, data in sorted(msgs)]
        # Closing runs the code's finally blocks and GeneratorExit handlers (duroxide-python
        # runs them too, when it drops the generator); the result is complete by now, so
        # nothing they do (set a status, yield, raise) reaches it.
        for gen in self._generators:
            close_quietly(gen)
        return result

    def _start_main(self) -> None:
        try:
            made = self._fn(self.ctx, decode_payload(self._input))
            if not isinstance(made, types.GeneratorType):
                # duroxide-python treats a plain function's return value as the output.
                self._main_done(output=encode_payload(made))
                return
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # whatever the code raises fails it
            self._main_done(failure=application_error("OrchestrationFailed", format_raised(exc)))
            return
        self._generators.append(made)
        self._coroutines.append(_Coroutine(made, None))

    def _poll(self) -> None:
        progress = True
        while progress:
            progress = False
            for co in list(self._coroutines):
                if co.finished or (co.started and co.awaiting is not None and not co.awaiting.done):
                    continue
                progress = True
                self._step(co)
            self._coroutines = [c for c in self._coroutines if not c.finished]

    def _step(self, co: _Coroutine) -> None:
        awaited = co.awaiting
        co.awaiting = None
        try:
            if not co.started:
                co.started = True
                task = next(co.gen)
            elif awaited is not None and not awaited.ok:
                task = co.gen.throw(Exception(awaited.error))
            else:
                task = co.gen.send(awaited.value if awaited is not None else None)
        except StopIteration as stop:
            if co.result is not None:
                co.finished = True
                co.result.resolve(stop.value)
                return
            try:
                output = encode_payload(stop.value)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # an output json.dumps refuses
                self._raised(co, exc)
                return
            co.finished = True
            self._main_done(output=output)
            return
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the code raised: its execution (or retry) fails
            self._raised(co, exc)
            return
        try:
            checked = check_step(task)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a user type's __class__ or __name__ raised
            self._raised(co, exc)
            return
        if isinstance(checked, str):
            # duroxide fails the orchestration ("Invalid generator step result"), before
            # scheduling any part of what was yielded; it is no reason to retry the turn.
            # The generator stays suspended until the turn ends (see _finish).
            self._fail(co, checked)
            return
        co.awaiting = self._start(checked)

    def _raised(self, co: _Coroutine, exc: BaseException) -> None:
        self._fail(co, format_raised(exc) if co.result is None else exception_text(exc))

    def _fail(self, co: _Coroutine, message: str) -> None:
        co.finished = True
        if co.result is None:
            self._main_done(failure=application_error("OrchestrationFailed", message))
        else:
            co.result.reject(message)

    def _main_done(self, *, output: str | None = None, failure: ErrorDetails | None = None) -> None:
        result = self._result
        if result.state != "running" or result.continue_as_new is not None:
            return
        if failure is not None:
            result.state, result.failure = "failed", failure
        else:
            result.state, result.output = "completed", output

    def _start(self, task: Any) -> DurableFuture:
        if isinstance(task, ActivityTask) and task.retry is not None:
            return self._start_retry(task)
        if isinstance(task, AllTask):
            return AllFuture([self._start(t) for t in task.tasks], unwrap=task.unwrap)
        if isinstance(task, RaceTask):
            return RaceFuture([self._start(t) for t in task.tasks], self)
        if isinstance(task, ContinueAsNewTask):
            if self._result.continue_as_new is None and self._result.state == "running":
                self._result.continue_as_new = task
                self._result.state = "continue_as_new"
            return _Never()
        leaf = leaf_for(task)
        if isinstance(task, DetachedStartTask):
            leaf.resolve(None)
        self._tokens += 1
        self._fifo.append(Action(kind=leaf.kind, task=task, future=leaf, token=self._tokens))
        return leaf

    def _start_retry(self, task: ActivityTask) -> DurableFuture:
        refusal = task.retry.refusal if task.retry is not None else None
        if refusal is not None:
            # duroxide-python cannot turn the dict into a policy: the whole
            # orchestration fails, the code never sees an exception.
            self._main_done(failure=application_error(refusal.kind, refusal.message))
            return _Never()
        future = _CoroutineFuture()
        co = _Coroutine(retry_attempts(task), future)
        future.coroutine = co
        self._generators.append(co.gen)
        self._coroutines.append(co)
        self._step(co)
        return future

    # Applying history events.

    def _apply(self, event: Event) -> None:
        etype = event.type
        if etype in SCHEDULE_KINDS:
            if not self._fifo:
                if etype == "OrchestrationChained":
                    raise NondeterminismDetected(
                        "history OrchestrationChained but no emitted action", event.event_id
                    )
                raise NondeterminismDetected(
                    "history schedule but no emitted action", event.event_id
                )
            action = self._fifo.popleft()
            if not action_matches(action, event):
                raise NondeterminismDetected(
                    f"schedule mismatch: action={describe_action(action, self._now_ms)} "
                    f"vs event={describe_event(event)}",
                    event.event_id,
                )
            self._bind(action, event)
        elif etype == "CustomStatusUpdated":
            # The code's set/reset pops its action; none emitted yet is fine for duroxide.
            if self._fifo:
                action = self._fifo.popleft()
                if action.kind != "custom_status":
                    raise NondeterminismDetected(
                        f"custom status mismatch: action={describe_action(action, self._now_ms)} "
                        f"vs event={describe_event(event)}",
                        event.event_id,
                    )
        elif etype in _COMPLETION_KIND:
            self._complete(event, _COMPLETION_KIND[etype])
        elif etype == "ExternalEvent":
            subs = self._ext_subs.get(event.name)  # type: ignore[union-attr]
            if subs:
                subs.popleft().resolve(decode_payload(event.data))  # type: ignore[union-attr]
            else:
                self._result.undelivered_events.append(event.event_id)
        elif etype == "ExternalEventPersistent":
            name, data = event.name, event.data  # type: ignore[union-attr]
            waiting = self._queue_subs.get(name)
            if waiting:
                waiting.popleft().resolve(decode_payload(data))
            else:
                self._queue_msgs.setdefault(name, deque()).append((event.event_id, data))
        elif etype in _BREADCRUMB_KIND and event.source_event_id is not None:
            self._result.breadcrumbed.add((_BREADCRUMB_KIND[etype], event.source_event_id))

    def _complete(self, event: Event, kind: str) -> None:
        src = event.source_event_id
        leaf = self._bound.get(src) if src is not None else None
        if src is None or leaf is None or src in self._closed:
            raise NondeterminismDetected("completion without open schedule", event.event_id)
        self._closed.add(src)
        if leaf.kind != kind:
            if event.type == "ActivityCompleted":
                raise NondeterminismDetected(
                    "completion kind mismatch: expected activity", event.event_id
                )
            # duroxide checks the kind only for ActivityCompleted; another completion
            # of the wrong kind reaches no future of its kind, so nothing resumes.
            return
        details: ErrorDetails | None = getattr(event, "details", None)
        if details is not None and is_system_error(details):
            self._result.abort = details
            self._result.abort_event_id = event.event_id
            return
        if leaf.dropped:
            return
        if details is not None:
            leaf.reject(display_message(details), details)
        elif event.type == "TimerFired":
            leaf.resolve(None)
        else:
            leaf.resolve(decode_payload(getattr(event, "result", None)))

    def _bind(self, action: Action, event: Event) -> None:
        leaf = action.future
        if leaf is None:
            return
        leaf.schedule_id = event.event_id
        self._bound[event.event_id] = leaf
        if leaf.dropped:
            return
        if leaf.kind == "external":
            self._ext_subs.setdefault(leaf.name, deque()).append(leaf)
        elif leaf.kind == "queue":
            msgs = self._queue_msgs.get(leaf.name)
            if msgs:
                leaf.resolve(decode_payload(msgs.popleft()[1]))
            else:
                self._queue_subs.setdefault(leaf.name, deque()).append(leaf)


def is_composite(future: DurableFuture) -> bool:
    """True for all/race futures (used by the debugger's state view)."""
    return isinstance(future, CompositeFuture)
