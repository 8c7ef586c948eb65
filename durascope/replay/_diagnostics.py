"""Diagnostics: compute findings across the instances of a model.

Each rule reads captured turns where the store has a journal (evidence
``captured``) and reconstructs from histories, child links and queues where it
has not (evidence ``inferred``).  Rules are small functions over a shared
``_Context`` so each can be read on its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from functools import cached_property

from durascope.history import (
    ActivityCompletedItem,
    ActivityFailedItem,
    ConfigurationError,
    ContinueAsNew,
    OrchestrationFailed,
    StartOrchestration,
    SubOrchCompleted,
    SubOrchestrationFailed,
    SubOrchFailed,
    TimerFiredItem,
    display_message,
)
from durascope.replay._collector import collector_paused
from durascope.replay._findings import Finding, Ref
from durascope.replay._model import ChildLink, Execution, Instance, Model
from durascope.replay._state import fold
from durascope.replay._timeline import Timeline, Turn

TERMINAL_COLLISION_TEXT = "already exists and is terminal"
MISROUTE_TEXT = "no matching schedule for sub-orchestration id="


class _Context:
    """Indexes shared by the rules (built lazily, once per diagnosis)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._timelines: dict[str, Timeline] = {}

    def timeline(self, instance_id: str) -> Timeline:
        if instance_id not in self._timelines:
            self._timelines[instance_id] = Timeline.of(self.model.instances[instance_id])
        return self._timelines[instance_id]

    def evidence(self, instance_id: str) -> str:
        return self.timeline(instance_id).evidence

    def turn_index(self, instance_id: str, execution_id: int, event_id: int | None) -> int | None:
        if event_id is None or instance_id not in self.model.instances:
            return None
        turn = self.timeline(instance_id).turn_of_event(execution_id, event_id)
        return turn.index if turn else None

    @cached_property
    def links_by_schedule(self) -> dict[tuple[str, int, int], ChildLink]:
        return {
            (k.parent_instance, k.parent_execution, k.event_id): k for k in self.model.child_links
        }

    @cached_property
    def links_by_child(self) -> dict[str, list[ChildLink]]:
        out: dict[str, list[ChildLink]] = defaultdict(list)
        for link in self.model.child_links:
            out[link.child_instance].append(link)
        return out

    @cached_property
    def senders(self) -> dict[tuple[str, int, int], list[str]]:
        """Captured: which child sent a completion to (parent, execution, parent_id)."""
        out: dict[tuple[str, int, int], list[str]] = defaultdict(list)
        for inst in self.model.instances.values():
            for record in inst.turns:
                for sent in record.sent:
                    item = sent.item
                    if isinstance(item, SubOrchCompleted | SubOrchFailed):
                        key = (item.parent_instance, item.parent_execution_id, item.parent_id)
                        out[key].append(inst.instance_id)
        return out

    @cached_property
    def pending_targets(self) -> set[tuple[str, str]]:
        """(target instance, work item kind) of every queued orchestrator message."""
        return {
            (m.instance_id, type(m.item).__name__)
            for m in self.model.pending
            if m.queue == "orchestrator" and m.item is not None
        }

    def delivered(self, parent: str, execution_id: int, event_id: int) -> bool:
        """Whether the parent's execution recorded a completion for its schedule."""
        inst = self.model.instances.get(parent)
        if inst is None:
            return False
        try:
            events = inst.execution(execution_id).events
        except Exception:
            return False
        return any(
            e.source_event_id == event_id
            and e.type in ("SubOrchestrationCompleted", "SubOrchestrationFailed")
            for e in events
        )


Rule = Callable[[_Context], Iterator[Finding]]


def _finding(ctx: _Context, **kw: object) -> Finding:
    instance = str(kw["instance"])
    if "turn" not in kw:
        execution = kw.get("execution")
        event_id = kw.get("event_id")
        kw["turn"] = (
            ctx.turn_index(instance, execution, event_id)  # type: ignore[arg-type]
            if isinstance(execution, int)
            else None
        )
    return Finding.model_validate(kw)


# Notifications.


def filtered_notifications(ctx: _Context) -> Iterator[Finding]:
    """A completion addressed to an execution that was no longer current was dropped."""
    for inst in ctx.model.instances.values():
        tl = ctx.timeline(inst.instance_id)
        if tl.evidence == "captured":
            yield from _captured_filtered(ctx, inst, tl)
    yield from _inferred_filtered(ctx)


def _captured_filtered(ctx: _Context, inst: Instance, tl: Timeline) -> Iterator[Finding]:
    for turn in tl.turns:
        for verdict in turn.messages:
            if verdict.verdict != "filtered":
                continue
            msg = verdict.message
            if isinstance(msg, SubOrchCompleted | SubOrchFailed):
                key = (msg.parent_instance, msg.parent_execution_id, msg.parent_id)
                link = ctx.links_by_schedule.get(key)
                child = link.child_instance if link else (ctx.senders.get(key) or ["?"])[0]
                yield _finding(
                    ctx,
                    kind="filtered_notification",
                    severity="warning",
                    instance=inst.instance_id,
                    execution=msg.parent_execution_id,
                    event_id=msg.parent_id,
                    related=(
                        Ref(role="child", instance=child),
                        Ref(
                            role="current execution",
                            instance=inst.instance_id,
                            execution=turn.execution_id,
                        ),
                    ),
                    message=(
                        f"child {child} finished after execution {msg.parent_execution_id} "
                        f"continued as new; its result was dropped in execution {turn.execution_id}"
                    ),
                    evidence="captured",
                    turn=turn.index,
                )
            elif isinstance(msg, ActivityCompletedItem | ActivityFailedItem | TimerFiredItem):
                what = "timer" if isinstance(msg, TimerFiredItem) else "activity"
                yield _finding(
                    ctx,
                    kind="filtered_notification",
                    severity="info",
                    instance=inst.instance_id,
                    execution=msg.execution_id,
                    event_id=msg.id,
                    related=(
                        Ref(
                            role="current execution",
                            instance=inst.instance_id,
                            execution=turn.execution_id,
                        ),
                    ),
                    message=(
                        f"a {what} of execution {msg.execution_id} (schedule {msg.id}) completed "
                        f"after the execution ended; dropped in execution {turn.execution_id}"
                    ),
                    evidence="captured",
                    turn=turn.index,
                )


def _inferred_filtered(ctx: _Context) -> Iterator[Finding]:
    for link in ctx.model.child_links:
        parent = ctx.model.instances.get(link.parent_instance)
        child = ctx.model.instances.get(link.child_instance)
        if parent is None or child is None or not link.points_back:
            continue
        if ctx.evidence(parent.instance_id) == "captured" or not child.is_terminal:
            continue
        if ctx.delivered(parent.instance_id, link.parent_execution, link.event_id):
            continue
        scheduling = parent.execution(link.parent_execution)
        if scheduling.status != "ContinuedAsNew":
            continue
        yield _finding(
            ctx,
            kind="filtered_notification",
            severity="warning",
            instance=parent.instance_id,
            execution=link.parent_execution,
            event_id=link.event_id,
            related=(Ref(role="child", instance=child.instance_id),),
            message=(
                f"child {child.instance_id} is {child.status.lower()} but execution "
                f"{link.parent_execution} had continued as new: its result was dropped"
            ),
            evidence="inferred",
        )


def misrouted_notifications(ctx: _Context) -> Iterator[Finding]:
    """A completion applied to (or failing) an execution that did not schedule it."""
    for inst in ctx.model.instances.values():
        tl = ctx.timeline(inst.instance_id)
        for turn in tl.turns:
            for verdict in turn.messages:
                msg = verdict.message
                if not isinstance(msg, SubOrchCompleted | SubOrchFailed):
                    continue
                if tl.evidence == "captured":
                    yield from _captured_misroute(
                        ctx, inst, turn, msg, verdict.verdict, verdict.reason
                    )
        if tl.evidence == "inferred":
            yield from _inferred_misroute(ctx, inst)


def _captured_misroute(
    ctx: _Context,
    inst: Instance,
    turn: Turn,
    msg: SubOrchCompleted | SubOrchFailed,
    verdict: str,
    reason: str,
) -> Iterator[Finding]:
    key = (msg.parent_instance, msg.parent_execution_id, msg.parent_id)
    senders = ctx.senders.get(key, [])
    link = ctx.links_by_schedule.get(key)
    origin = [
        c
        for c in senders
        if (lk := ctx.model.scheduling_link(c)) is not None
        and (lk.parent_execution, lk.event_id) != (msg.parent_execution_id, msg.parent_id)
    ]
    if verdict == "aborted" and MISROUTE_TEXT in reason:
        child = (origin or senders or ["an unknown child"])[0]
        yield _misroute(
            ctx,
            inst,
            msg.parent_execution_id,
            msg.parent_id,
            child,
            "captured",
            turn.index,
            f"child {child}'s completion was addressed to execution "
            f"{msg.parent_execution_id}, which has no schedule {msg.parent_id}: the "
            "execution failed with 'no matching schedule'",
        )
    elif verdict == "applied" and origin and link is not None and origin[0] != link.child_instance:
        yield _misroute(
            ctx,
            inst,
            msg.parent_execution_id,
            msg.parent_id,
            origin[0],
            "captured",
            turn.index,
            f"child {origin[0]}'s completion resolved schedule {msg.parent_id} of "
            f"execution {msg.parent_execution_id}, which is child {link.child_instance}",
        )


def _misroute(
    ctx: _Context,
    inst: Instance,
    execution: int,
    event_id: int,
    child: str,
    evidence: str,
    turn: int | None,
    message: str,
) -> Finding:
    related = [Ref(role="sent by", instance=child)]
    lk = ctx.model.scheduling_link(child)
    if lk is not None:
        related.append(
            Ref(
                role="scheduled by",
                instance=lk.parent_instance,
                execution=lk.parent_execution,
                event_id=lk.event_id,
            )
        )
    return _finding(
        ctx,
        kind="misrouted_notification",
        severity="error",
        instance=inst.instance_id,
        execution=execution,
        event_id=event_id,
        related=tuple(related),
        message=message,
        evidence=evidence,
        turn=turn,
    )


def _inferred_misroute(ctx: _Context, inst: Instance) -> Iterator[Finding]:
    for ex in inst.executions:
        failed = next((e for e in ex.events if isinstance(e, OrchestrationFailed)), None)
        if failed is not None and isinstance(failed.details, ConfigurationError):
            text = failed.details.message or ""
            if MISROUTE_TEXT in text:
                event_id = int(text.split(MISROUTE_TEXT, 1)[1].split()[0].strip(".,"))
                child = _child_scheduled_elsewhere(ctx, inst, ex.execution_id, event_id)
                yield _misroute(
                    ctx,
                    inst,
                    ex.execution_id,
                    event_id,
                    child or "an older execution's child",
                    "inferred",
                    ctx.turn_index(inst.instance_id, ex.execution_id, failed.event_id),
                    f"a child's completion was addressed to execution {ex.execution_id}, which "
                    f"has no schedule {event_id}: the execution failed with 'no matching schedule'",
                )
        for event in ex.events:
            if event.type != "SubOrchestrationCompleted" or event.source_event_id is None:
                continue
            link = ctx.links_by_schedule.get(
                (inst.instance_id, ex.execution_id, event.source_event_id)
            )
            target = ctx.model.instances.get(link.child_instance) if link else None
            if link is None or (link.points_back and target is not None and target.is_terminal):
                continue
            other = _child_scheduled_elsewhere(ctx, inst, ex.execution_id, event.source_event_id)
            yield _misroute(
                ctx,
                inst,
                ex.execution_id,
                event.source_event_id,
                other or "another child",
                "inferred",
                ctx.turn_index(inst.instance_id, ex.execution_id, event.event_id),
                f"schedule {event.source_event_id} of execution {ex.execution_id} (child "
                f"{link.child_instance}) received a completion its child never sent",
            )


def _child_scheduled_elsewhere(
    ctx: _Context, inst: Instance, execution: int, event_id: int
) -> str | None:
    for link in ctx.model.children_of(inst.instance_id):
        if link.event_id == event_id and link.parent_execution != execution and link.points_back:
            return link.child_instance
    return None


# Children.


def child_id_collisions(ctx: _Context) -> Iterator[Finding]:
    """A child start hit an instance id already held by another parent or execution."""
    for child_id, links in ctx.links_by_child.items():
        owner = next((k for k in links if k.points_back), None)
        child = ctx.model.instances.get(child_id)
        for link in links:
            if link is owner or not link.child_exists:
                continue
            held = []
            if owner is not None:
                held.append(
                    Ref(
                        role="held by",
                        instance=owner.parent_instance,
                        execution=owner.parent_execution,
                        event_id=owner.event_id,
                    )
                )
            elif child is not None:
                recorded = link.child_parent
                held.append(
                    Ref(
                        role="held by",
                        instance=(recorded[0] if recorded and recorded[0] else child_id),
                    )
                )
            fast_failed = _failed_fast(ctx, link)
            severity = "warning" if fast_failed else "error"
            outcome = (
                "the parent was failed fast ('already exists and is terminal')"
                if fast_failed
                else "the start was discarded and the parent can wait forever"
            )
            yield _finding(
                ctx,
                kind="child_id_collision",
                severity=severity,
                instance=link.parent_instance,
                execution=link.parent_execution,
                event_id=link.event_id,
                related=(Ref(role="hit", instance=child_id), *held),
                message=f"child id {child_id} was already taken; {outcome}",
                evidence=ctx.evidence(link.parent_instance),
            )


def _failed_fast(ctx: _Context, link: ChildLink) -> bool:
    inst = ctx.model.instances.get(link.parent_instance)
    if inst is None:
        return False
    for event in inst.execution(link.parent_execution).events:
        if (
            isinstance(event, SubOrchestrationFailed)
            and event.source_event_id == link.event_id
            and TERMINAL_COLLISION_TEXT in display_message(event.details)
        ):
            return True
    return False


def stuck_parents(ctx: _Context) -> Iterator[Finding]:
    """A running execution waits on a child whose answer can never arrive."""
    for inst in ctx.model.instances.values():
        if inst.is_terminal or not inst.executions:
            continue
        ex = inst.execution()
        if ex.status != "Running":
            continue
        state = fold(inst.instance_id, ex.execution_id, ex.events)
        for sched in state.open_schedules:
            if sched.kind != "child":
                continue
            why = _why_never(ctx, inst, ex, sched.event_id, sched.detail)
            if why is None:
                continue
            yield _finding(
                ctx,
                kind="stuck_parent",
                severity="error",
                instance=inst.instance_id,
                execution=ex.execution_id,
                event_id=sched.event_id,
                related=(Ref(role="waits on", instance=sched.detail),),
                message=f"waits on child {sched.detail}, which {why}",
                evidence=ctx.evidence(inst.instance_id),
            )


def _why_never(
    ctx: _Context, inst: Instance, ex: Execution, event_id: int, child_id: str
) -> str | None:
    link = ctx.links_by_schedule.get((inst.instance_id, ex.execution_id, event_id))
    child = ctx.model.instances.get(child_id)
    if child is None:
        if (child_id, "StartOrchestration") in ctx.pending_targets:
            return None
        return "was never started (no instance, no pending start)"
    if link is not None and not link.points_back:
        state = "finished" if child.is_terminal else "running"
        return f"belongs to another schedule ({state}); this start was discarded"
    if child.is_terminal and not ctx.delivered(inst.instance_id, ex.execution_id, event_id):
        kinds = {("SubOrchCompleted"), ("SubOrchFailed")}
        if any((inst.instance_id, k) in ctx.pending_targets for k in kinds):
            return None
        return f"is {child.status.lower()} but its completion never reached this execution"
    return None


# Code and messages.


def nondeterminism(ctx: _Context) -> Iterator[Finding]:
    """Replay diverged from history (the execution failed with a nondeterminism error)."""
    for inst in ctx.model.instances.values():
        for ex in inst.executions:
            for event in ex.events:
                if not isinstance(event, OrchestrationFailed):
                    continue
                details = event.details
                if not isinstance(details, ConfigurationError) or MISROUTE_TEXT in (
                    details.message or ""
                ):
                    continue
                propagated = any(
                    isinstance(e, SubOrchestrationFailed) and e.details == details
                    for e in ex.events
                )
                where = (
                    "a child diverged and the error propagated" if propagated else "replay diverged"
                )
                yield _finding(
                    ctx,
                    kind="nondeterminism",
                    severity="error",
                    instance=inst.instance_id,
                    execution=ex.execution_id,
                    event_id=event.event_id,
                    message=f"{where}: {details.message}",
                    evidence=ctx.evidence(inst.instance_id),
                )


def orphan_messages(ctx: _Context) -> Iterator[Finding]:
    """A message for an instance that does not exist."""
    queue = [m for m in ctx.model.pending if m.queue == "orchestrator"]
    for m in queue:
        if m.instance_id in ctx.model.instances:
            continue
        if isinstance(m.item, StartOrchestration | ContinueAsNew):
            continue
        # duroxide fetches the lowest-id visible row first and rolls back a batch for a
        # missing instance: once visible, such a row is at the head unless an older row
        # is visible no later than it.
        ahead = any(o.id < m.id and (o.visible_at_ms or 0) <= (m.visible_at_ms or 0) for o in queue)
        blocking = ctx.model.origin.kind == "duroxide" and not ahead
        kind = type(m.item).__name__ if m.item is not None else "undecodable message"
        yield _finding(
            ctx,
            kind="orphan_message",
            severity="error" if blocking else "warning",
            instance=m.instance_id,
            execution=None,
            message=(
                f"queued {kind} (row {m.id}) targets an instance that does not exist"
                + ("; at the queue head it blocks every later instance" if blocking else "")
            ),
            evidence="inferred",
        )
    for record in ctx.model.orphan_turns:
        for verdict in record.messages:
            yield _finding(
                ctx,
                kind="orphan_message",
                severity="info",
                instance=record.instance,
                execution=None,
                message=(
                    f"{type(verdict.message).__name__} for an instance that does not exist was "
                    "discarded (it did not block the queue)"
                ),
                evidence="captured",
                turn=None,
            )


def undelivered_events(ctx: _Context) -> Iterator[Finding]:
    """An external event in history that no wait received."""
    for inst in ctx.model.instances.values():
        for ex in inst.executions:
            state = fold(inst.instance_id, ex.execution_id, ex.events)
            by_id = {e.event_id: e for e in ex.events}
            for event_id in state.undelivered_events:
                name = getattr(by_id[event_id], "name", "?")
                yield _finding(
                    ctx,
                    kind="undelivered_event",
                    severity="warning",
                    instance=inst.instance_id,
                    execution=ex.execution_id,
                    event_id=event_id,
                    message=(
                        f"external event {name!r} arrived when no wait_for_event({name!r}) was "
                        "pending; positional events raised early are never delivered"
                    ),
                    evidence=ctx.evidence(inst.instance_id),
                )


def duplicate_notifications(ctx: _Context) -> Iterator[Finding]:
    """A redelivered completion that was ignored (or, in a history, recorded twice)."""
    for inst in ctx.model.instances.values():
        tl = ctx.timeline(inst.instance_id)
        if tl.evidence == "captured":
            for turn in tl.turns:
                for verdict in turn.messages:
                    if verdict.verdict == "duplicate":
                        yield _finding(
                            ctx,
                            kind="duplicate_notification",
                            severity="info",
                            instance=inst.instance_id,
                            execution=turn.execution_id,
                            message=f"{type(verdict.message).__name__} ignored: {verdict.reason}",
                            evidence="captured",
                            turn=turn.index,
                        )
            continue
        for ex in inst.executions:
            seen: set[tuple[str, int]] = set()
            for event in ex.events:
                if event.source_event_id is None or event.type not in (
                    "ActivityCompleted",
                    "ActivityFailed",
                    "TimerFired",
                    "SubOrchestrationCompleted",
                    "SubOrchestrationFailed",
                ):
                    continue
                key = (event.type, event.source_event_id)
                if key in seen:
                    yield _finding(
                        ctx,
                        kind="duplicate_notification",
                        severity="warning",
                        instance=inst.instance_id,
                        execution=ex.execution_id,
                        event_id=event.event_id,
                        message=f"{event.type} for schedule {event.source_event_id} recorded twice",
                        evidence="inferred",
                    )
                seen.add(key)


def never_dispatched(ctx: _Context) -> Iterator[Finding]:
    """A schedule recorded in an execution's final turn, whose work was never sent."""
    for inst in ctx.model.instances.values():
        tl = ctx.timeline(inst.instance_id)
        for turn in tl.turns:
            if turn.result in ("continue", "discarded"):
                continue
            for event in turn.delta:
                if event.type not in (
                    "ActivityScheduled",
                    "TimerCreated",
                    "SubOrchestrationScheduled",
                ):
                    continue
                if event.type == "TimerCreated":
                    continue  # a timer that never fires harms nothing once the execution ended
                what = getattr(event, "name", "")
                child = event.type == "SubOrchestrationScheduled"
                yield _finding(
                    ctx,
                    kind="never_dispatched",
                    severity="warning" if child else "info",
                    instance=inst.instance_id,
                    execution=turn.execution_id,
                    event_id=event.event_id,
                    message=(
                        f"{'child' if child else 'activity'} {what!r} was scheduled in the "
                        f"turn that ended the execution ({turn.result}), so it was never "
                        f"{'started' if child else 'run'}"
                    ),
                    evidence=tl.evidence,
                    turn=turn.index,
                )


RULES: tuple[Rule, ...] = (
    filtered_notifications,
    misrouted_notifications,
    child_id_collisions,
    stuck_parents,
    nondeterminism,
    orphan_messages,
    undelivered_events,
    duplicate_notifications,
    never_dispatched,
)


def diagnose(model: Model, instance_id: str | None = None) -> list[Finding]:
    """Every finding in the model (or about one instance's tree), errors first."""
    ctx = _Context(model)
    with collector_paused():
        findings = [f for rule in RULES for f in rule(ctx)]
    if instance_id is not None:
        from durascope.replay._bundle import select_tree

        tree = set(select_tree(model, instance_id))
        findings = [
            f for f in findings if f.instance in tree or any(r.instance in tree for r in f.related)
        ]
    unique = _without_shadowed(list(dict.fromkeys(findings)))
    return sorted(unique, key=Finding.sort_key)


def _without_shadowed(findings: list[Finding]) -> list[Finding]:
    """Drop inferred "filtered" findings for a child whose completion was misrouted.

    From history alone, a completion that landed on the wrong execution also looks
    missing from the right one; the misroute is the whole story.
    """
    misrouted = {
        (f.instance, r.instance)
        for f in findings
        if f.kind == "misrouted_notification"
        for r in f.related
        if r.role == "sent by"
    }
    return [
        f
        for f in findings
        if not (
            f.kind == "filtered_notification"
            and f.evidence == "inferred"
            and any((f.instance, r.instance) in misrouted for r in f.related if r.role == "child")
        )
    ]
