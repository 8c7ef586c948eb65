"""What-if: run a recorded scenario's code under both sub-orchestration policies.

The recorded outside inputs (root starts, raised events, mailbox messages,
cancellations) of every tree involved are fed, at their recorded offsets from
the first start, into the deterministic simulator once per policy; the
outcomes are compared instance by instance.  A tree is involved when it shares
an instance id with the selected instance's tree: a parent elsewhere that holds
the id a schedule of the tree collides with, or that schedules an id of the
tree.  Child ids differ between policies (``sub::2`` vs ``sub::2_2``), so
inputs addressed to a child are re-addressed to the child the same schedule
has under the simulated policy.

Each outcome says what happened to the notifications addressed to the
instance (filtered, misrouted, dropped, a refused start that failed the parent
fast) and, for an instance that hangs, which child it waits on and why that
child will never answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from durascope.history import (
    CancelInstance,
    ExternalRaised,
    MessageVerdict,
    OrchestrationStarted,
    QueueMessage,
    StartOrchestration,
    SubOrchCompleted,
    SubOrchestrationPolicy,
    SubOrchestrationScheduled,
    SubOrchFailed,
    TurnRecord,
    WorkItem,
)
from durascope.replay._bundle import select_tree
from durascope.replay._model import Model
from durascope.replay._reexecute import (
    RecordedPolicy,
    check_registered,
    recorded_policy,
    refuse_redacted,
)
from durascope.replay._state import fold
from durascope.runtime import (
    AUTO_SUFFIX,
    BackgroundLoop,
    Registry,
    Simulation,
    child_suffix,
    full_child_id,
)

POLICIES: tuple[SubOrchestrationPolicy, ...] = ("fixed", "legacy")


@dataclass(frozen=True)
class _Input:
    offset_ms: int
    order: int
    target: tuple[str, tuple[tuple[str, int, int], ...]]
    """(root instance, path of (parent, execution, event) schedules down to the target)."""
    item: Any


@dataclass(frozen=True)
class PolicyOutcome:
    """One instance's end state under one policy.

    Attributes:
        status: The current execution's status when nothing was left to do.
        output: Its output (or failure message).
        executions: How many executions it ran.
        filtered: Child completions filtered (addressed to another execution).
        misrouted: A child's completion reached an execution that did not schedule it.
        failed_fast: A child start of this instance was refused because the id was
            already held, and the refusal reached this instance (the fix's fail-fast).
        waiting_on: For a running instance: what it waits for, and why no answer comes.
        notifications: What happened to notifications addressed to this instance
            (and to the starts of its children), one sentence each, in order.
    """

    status: str
    output: str | None
    executions: int
    filtered: int
    misrouted: bool
    failed_fast: bool = False
    waiting_on: tuple[str, ...] = ()
    notifications: tuple[str, ...] = ()

    def signature(self) -> tuple[object, ...]:
        """What the comparison between policies looks at."""
        return (self.status, self.misrouted, self.filtered, self.failed_fast, self.waiting_on != ())


@dataclass(frozen=True)
class WhatIf:
    """Outcomes per instance (by schedule path, so ids match across policies).

    Attributes:
        recorded_policy: The policy the history was recorded under.
        outcomes: ``label -> {"fixed": ..., "legacy": ...}``; the label is the
            fixed-policy id.
        policy: How ``recorded_policy`` is known (journal, inferred, assumed).
        roots: The root instances whose trees were simulated.
    """

    recorded_policy: SubOrchestrationPolicy
    outcomes: dict[str, dict[str, PolicyOutcome]]
    policy: RecordedPolicy | None = None
    roots: tuple[str, ...] = ()

    def differences(self) -> list[str]:
        """One line per instance whose outcome differs between the policies.

        Each is followed by indented lines (``  under legacy: ...``) naming the
        notifications behind the difference.
        """
        lines = []
        for label, by_policy in sorted(self.outcomes.items()):
            fixed, legacy = by_policy.get("fixed"), by_policy.get("legacy")
            if fixed is None or legacy is None:
                missing = "legacy" if fixed else "fixed"
                lines.append(f"{label}: never started under the {missing} policy")
                continue
            if fixed.signature() == legacy.signature():
                continue
            lines.append(f"{label}: legacy {describe(legacy)}; fixed {describe(fixed)}")
            for name, outcome in (("legacy", legacy), ("fixed", fixed)):
                lines.extend(f"  under {name}: {note}" for note in outcome.notifications)
        return lines


def describe(outcome: PolicyOutcome) -> str:
    """A short phrase for an outcome (``hangs: ...``, ``fails: ...``, ``completes``)."""
    if outcome.misrouted and outcome.status == "Completed":
        return f"completes with another child's result (a misrouted completion): {outcome.output}"
    if outcome.misrouted:
        return f"fails on a misrouted completion ({outcome.output})"
    if outcome.status == "Running":
        if outcome.waiting_on:
            return "hangs: " + "; ".join(outcome.waiting_on)
        return "hangs (still running when nothing is left to do)"
    ending = (
        f"fails: {outcome.output}"
        if outcome.status == "Failed"
        else f"completes with {outcome.output}"
        if outcome.failed_fast
        else "completes"
    )
    if outcome.failed_fast:
        return f"fails fast (a child start was refused: the id was taken), then {ending}"
    extra = f", {outcome.filtered} completion(s) filtered" if outcome.filtered else ""
    return f"{ending}{extra}"


def _path_of(model: Model, instance_id: str) -> tuple[str, tuple[tuple[str, int, int], ...]]:
    path: list[tuple[str, int, int]] = []
    current = instance_id
    seen = set()
    while current not in seen:
        seen.add(current)
        link = model.scheduling_link(current)
        if link is None or link.parent_instance not in model.instances:
            break
        path.append((link.parent_instance, link.parent_execution, link.event_id))
        current = link.parent_instance
    return current, tuple(reversed(path))


def involved_roots(model: Model, instance_id: str) -> list[str]:
    """The roots whose trees share an instance id with ``instance_id``'s tree.

    Starting from the instance's own root, add the root of every tree member
    (an id the tree schedules may belong to another tree) and of every instance
    that schedules an id of the tree, until nothing new comes in.
    """
    first, _ = _path_of(model, instance_id)
    roots = [first]
    members: set[str] = set()
    scheduled_by: dict[str, set[str]] = {}
    for link in model.child_links:
        scheduled_by.setdefault(link.child_instance, set()).add(link.parent_instance)
    i = 0
    while i < len(roots):
        tree = select_tree(model, roots[i])
        i += 1
        for member in tree:
            if member in members:
                continue
            members.add(member)
            others = {member} | scheduled_by.get(member, set())
            for other in sorted(others):
                if other not in model.instances:
                    continue
                root, _ = _path_of(model, other)
                if root not in roots:
                    roots.append(root)
    return roots


def _collect_inputs(model: Model, roots: list[str]) -> list[_Input]:
    seen: set[str] = set()
    inputs: list[_Input] = []
    t0: int | None = None
    order = 0
    for root_id in roots:
        for iid in select_tree(model, root_id):
            if iid in seen:
                continue
            seen.add(iid)
            root, path = _path_of(model, iid)
            for item, timestamp in _inputs_of(model, iid):
                if t0 is None or timestamp < t0:
                    t0 = timestamp
                inputs.append(_Input(timestamp, order, (root, path), item))
                order += 1
    base = t0 or 0
    return sorted(
        (_Input(i.offset_ms - base, i.order, i.target, i.item) for i in inputs),
        key=lambda i: (i.offset_ms, i.order),
    )


def _inputs_of(model: Model, iid: str) -> list[tuple[Any, int]]:
    """The outside inputs recorded in one instance's history, with their times."""
    out: list[tuple[Any, int]] = []
    for ex in model.instances[iid].executions:
        for event in ex.events:
            item: Any = None
            if (
                isinstance(event, OrchestrationStarted)
                and ex.execution_id == 1
                and not event.parent_instance
            ):
                item = StartOrchestration(instance=iid, orchestration=event.name, input=event.input)
            elif event.type == "ExternalEvent":
                item = ExternalRaised(instance=iid, name=event.name, data=event.data)  # type: ignore[union-attr]
            elif event.type == "ExternalEventPersistent" and not _carried(
                ex.events, event.event_id
            ):
                item = QueueMessage(instance=iid, name=event.name, data=event.data)  # type: ignore[union-attr]
            elif event.type == "OrchestrationCancelRequested" and event.reason not in (  # type: ignore[union-attr]
                "parent canceled",
                "parent dropped sub-orchestration future",
            ):
                item = CancelInstance(instance=iid, reason=event.reason)  # type: ignore[union-attr]
            if item is not None:
                out.append((item, event.timestamp_ms))
    return out


def _carried(events: Any, event_id: int) -> bool:
    """Mailbox events re-materialised at the start of an execution (carry-forward)."""
    for e in events:
        if e.event_id >= event_id:
            return True
        if e.type not in ("OrchestrationStarted", "ExternalEventPersistent"):
            return False
    return False


def _address(sim: Simulation, target: tuple[str, tuple[tuple[str, int, int], ...]]) -> str | None:
    """The id the simulated run gave the instance a recorded input was addressed to."""
    root, path = target
    current = root
    for _parent, execution, event_id in path:
        state = sim.instances.get(current)
        if state is None:
            return None
        scheduled = next(
            (
                e
                for e in state.executions.get(execution, [])
                if e.event_id == event_id and e.type == "SubOrchestrationScheduled"
            ),
            None,
        )
        if scheduled is None:
            return None
        inst = scheduled.instance  # type: ignore[union-attr]
        current = f"{current}::{inst}" if AUTO_SUFFIX.match(inst) else inst
    return current


def what_if(
    model: Model, instance_id: str, code: Registry, *, horizon_ms: int = 3_600_000
) -> WhatIf:
    """Run the trees involved with an instance under both policies and compare outcomes.

    Args:
        model: The recorded input.
        instance_id: Any instance of the tree of interest.
        code: The orchestrations and activities (activities run, in the simulator).
        horizon_ms: How far past the last recorded input virtual time runs.

    Returns:
        The outcome of every simulated instance under each policy.

    Raises:
        SourceError: No such instance, or the input is a redacted bundle (its
            recorded inputs are placeholders).
        UnregisteredOrchestration: ``code`` lacks an orchestration some instance of
            the involved trees runs.
    """
    model.instance(instance_id)
    refuse_redacted(model)
    roots = involved_roots(model, instance_id)
    inputs = _collect_inputs(model, roots)
    involved = [i for root in roots for i in select_tree(model, root)]
    for iid in involved:  # a child the code lacks would fail alike under both policies
        check_registered(model.instances[iid], code)
    policy = recorded_policy(model, involved)
    results: dict[str, dict[str, PolicyOutcome]] = {}
    for name in POLICIES:
        sim = Simulation(code, policy=name)
        start = sim.now_ms
        for item in inputs:
            sim_run_until(sim, start + item.offset_ms)
            if isinstance(item.item, StartOrchestration):
                sim.enqueue(item.item)
                continue
            target = _address(sim, item.target)
            if target is None:
                continue
            sim.enqueue(item.item.model_copy(update={"instance": target}))
        sim_run_until(sim, start + horizon_ms)
        notes = _notifications(sim)
        for iid, state in sim.instances.items():
            filtered = sum(
                1
                for t in sim.turns
                if t.instance == iid
                for v in t.messages
                if v.verdict == "filtered"
                and isinstance(v.message, SubOrchCompleted | SubOrchFailed)
            )
            misrouted = any(
                "no matching schedule for sub-orchestration" in (state.outputs.get(ex) or "")
                for ex in state.executions
            ) or any(n.misrouted for n in notes.get(iid, ()))
            results.setdefault(_label(sim, iid), {})[name] = PolicyOutcome(
                status=state.status,
                output=state.output,
                executions=len(state.executions),
                filtered=filtered,
                misrouted=misrouted,
                failed_fast=any(n.failed_fast for n in notes.get(iid, ())),
                waiting_on=_waiting_on(sim, iid) if state.status == "Running" else (),
                notifications=tuple(n.text for n in notes.get(iid, ())),
            )
    return WhatIf(
        recorded_policy=policy.policy, outcomes=results, policy=policy, roots=tuple(roots)
    )


@dataclass(frozen=True)
class _Note:
    text: str
    misrouted: bool = False
    failed_fast: bool = False


def _notifications(sim: Simulation) -> dict[str, list[_Note]]:
    """Per instance, what happened to the child notifications and starts it is party to.

    Completions are noted on the parent they were addressed to; a child start that
    was discarded or absorbed is noted on the parent that scheduled it.
    """
    # Child notifications sent, by the schedule they answer, in the order they were sent.
    senders: dict[tuple[str, int], list[tuple[int, str, WorkItem]]] = {}
    for index, record in enumerate(sim.turns):
        for sent in record.sent:
            if isinstance(sent.item, SubOrchCompleted | SubOrchFailed):
                key = (sent.item.parent_instance, sent.item.parent_id)
                senders.setdefault(key, []).append((index, record.instance, sent.item))

    def sender_of(index: int, item: SubOrchCompleted | SubOrchFailed) -> str | None:
        candidates = senders.get((item.parent_instance, item.parent_id), [])
        for position, (sent_at, instance, sent) in enumerate(candidates):
            if sent_at < index and sent == item:
                del candidates[position]  # each sent item answers one delivery
                return instance
        return None

    notes: dict[str, list[_Note]] = {}
    for index, record in enumerate(sim.turns):
        for verdict in record.messages:
            message = verdict.message
            if isinstance(message, SubOrchCompleted | SubOrchFailed):
                child = sender_of(index, message) or "a child"
                note = _completion_note(sim, record, verdict, message, child)
                if note is not None:
                    notes.setdefault(message.parent_instance, []).append(note)
            elif (
                isinstance(message, StartOrchestration)
                and message.parent_instance is not None
                and verdict.verdict == "discarded"
            ):
                note = _start_note(sim, record, verdict, message)
                if note is not None:
                    notes.setdefault(message.parent_instance, []).append(note)
    return notes


def _schedule_at(sim: Simulation, instance: str, execution: int, event_id: int) -> str | None:
    """The full child id a parent's schedule names, if that event is a child schedule."""
    state = sim.instances.get(instance)
    for e in state.executions.get(execution, []) if state else []:
        if e.event_id == event_id and isinstance(e, SubOrchestrationScheduled):
            return full_child_id(instance, e.instance)
    return None


def _completion_note(
    sim: Simulation,
    record: TurnRecord,
    verdict: MessageVerdict,
    message: SubOrchCompleted | SubOrchFailed,
    child: str,
) -> _Note | None:
    parent, addressed, k = message.parent_instance, message.parent_execution_id, message.parent_id
    what = "completion" if isinstance(message, SubOrchCompleted) else "failure"
    if verdict.verdict == "filtered":
        return _Note(
            f"child {child}'s {what}, addressed to {parent} execution {addressed}, was filtered: "
            f"execution {record.execution_id} was current, so it was dropped"
        )
    if verdict.verdict == "discarded":
        return _Note(f"child {child}'s {what} was dropped: {parent} had already ended")
    if verdict.verdict == "aborted":
        return _Note(
            f"child {child}'s {what} was addressed to {parent} execution {addressed}, which has "
            f"no child schedule {k}: the execution failed ({verdict.reason})",
            misrouted=True,
        )
    if verdict.verdict == "applied":
        named = _schedule_at(sim, parent, record.execution_id, k)
        if named is not None and named != child and child != "a child":
            return _Note(
                f"child {child}'s {what} was applied to {parent} execution "
                f"{record.execution_id}'s schedule {k}, which is child {named}",
                misrouted=True,
            )
    return None


def _start_note(
    sim: Simulation, record: TurnRecord, verdict: MessageVerdict, message: StartOrchestration
) -> _Note | None:
    child, parent = message.instance, message.parent_instance
    if "redelivered" in verdict.reason:
        return None
    refused = any(
        isinstance(s.item, SubOrchFailed)
        and s.item.parent_instance == parent
        and s.item.parent_id == message.parent_id
        for s in record.sent
    )
    owner = _owner(sim, child)
    held = f" (it belongs to {owner})" if owner else ""
    if refused:
        return _Note(
            f"the start of child {child} (schedule {message.parent_id}) was refused: the id was "
            f"already taken{held}, and {parent} was failed fast",
            failed_fast=True,
        )
    if "already running" in verdict.reason:
        return _Note(
            f"the start of child {child} (schedule {message.parent_id}) was absorbed by the "
            f"running instance of that id{held}; {parent} is never told"
        )
    return _Note(
        f"the start of child {child} (schedule {message.parent_id}) was discarded: that id "
        f"had already ended{held}; {parent} is never told"
    )


def _owner(sim: Simulation, child: str) -> str | None:
    """``parent#execution`` that started a child, if it has a parent.

    Without a recorded parent execution (legacy), the execution is the latest one
    whose schedule of that id was made before the child started.
    """
    state = sim.instances.get(child)
    first = state.executions.get(1, []) if state else []
    started = first[0] if first else None
    if not isinstance(started, OrchestrationStarted) or started.parent_instance is None:
        return None
    parent, execution = started.parent_instance, started.parent_execution_id
    if execution is None and started.parent_id is not None:
        began = _turn_of(sim, child, 1, 1)
        pstate = sim.instances.get(parent)
        for ex in sorted(pstate.executions) if pstate else []:
            scheduled = _turn_of(sim, parent, ex, started.parent_id)
            if (
                _schedule_at(sim, parent, ex, started.parent_id) == child
                and scheduled is not None
                and (began is None or scheduled < began)
            ):
                execution = ex
    return f"{parent}#{execution}" if execution is not None else parent


def _turn_of(sim: Simulation, instance: str, execution: int, event_id: int) -> int | None:
    """The index in ``sim.turns`` of the turn that appended an event."""
    for index, record in enumerate(sim.turns):
        if (
            record.instance == instance
            and record.execution_id == execution
            and event_id in record.delta_event_ids
        ):
            return index
    return None


def _answers_to(sim: Simulation, child: str, parent: str, execution: int, event_id: int) -> bool:
    """Whether a child was started by this very schedule (not by an earlier one of that id).

    Without a recorded parent execution (legacy), a child that started before the
    schedule was made belongs to an earlier schedule with the same event id.
    """
    state = sim.instances.get(child)
    first = state.executions.get(1, []) if state else []
    started = first[0] if first else None
    if not isinstance(started, OrchestrationStarted):
        return False
    if (started.parent_instance, started.parent_id) != (parent, event_id):
        return False
    if started.parent_execution_id is not None:
        return started.parent_execution_id == execution
    began, scheduled = _turn_of(sim, child, 1, 1), _turn_of(sim, parent, execution, event_id)
    return began is None or scheduled is None or began > scheduled


def _waiting_on(sim: Simulation, instance: str) -> tuple[str, ...]:
    """What a running instance's current execution waits for, and why nothing comes."""
    state = sim.instances[instance]
    execution = state.current_execution_id
    events = state.executions.get(execution, [])
    waits = []
    for schedule in fold(instance, execution, tuple(events)).open_schedules:
        where = f"execution {execution} waits on"
        if schedule.kind != "child":
            label = schedule.name or schedule.detail
            waits.append(f"{where} {schedule.kind} {label} (schedule {schedule.event_id})")
            continue
        child = schedule.detail
        cstate = sim.instances.get(child)
        if cstate is None:
            why = "which never started"
        elif not _answers_to(sim, child, instance, execution, schedule.event_id):
            why = f"which belongs to {_owner(sim, child) or 'no parent'}; this start was discarded"
        elif cstate.status == "Running":
            why = "which is still running"
        else:
            why = f"which ended {cstate.status.lower()}, but its notification never arrived"
        waits.append(f"{where} child {child} (schedule {schedule.event_id}), {why}")
    return tuple(waits)


def _label(sim: Simulation, instance_id: str) -> str:
    """A policy-independent name: the id with auto suffixes rewritten to the fixed form."""
    state = sim.instances[instance_id]
    parent = state.parent_instance_id
    if parent is None or parent not in sim.instances:
        return instance_id
    pstate = sim.instances[parent]
    for execution, events in pstate.executions.items():
        for e in events:
            if e.type != "SubOrchestrationScheduled":
                continue
            inst = e.instance  # type: ignore[union-attr]
            m = AUTO_SUFFIX.match(inst)
            full = f"{parent}::{inst}" if m else inst
            first = state.executions.get(1, [])
            started = first[0] if first else None
            if (
                full == instance_id
                and isinstance(started, OrchestrationStarted)
                and started.parent_id == e.event_id
            ):
                if m:
                    return f"{_label(sim, parent)}::{child_suffix('fixed', execution, e.event_id)}"
                return instance_id
    return instance_id


def sim_run_until(sim: Simulation, when_ms: int) -> None:
    """Advance the simulator to ``when_ms``, from sync code or inside a running loop.

    The simulation runs on durascope's background loop, so this works the same in a
    script and in a notebook (whose loop is already running).
    """
    BackgroundLoop.shared().run(sim.run(until_ms=when_ms))
    sim.now_ms = max(sim.now_ms, when_ms)
