"""Diagnostics: compute findings across the instances of a model.

Notification rules live in ``_notification_rules``; the shared indexes in
``_diagnosis_context``; the rules about children, code and messages here.

Each rule reads captured turns where the store has a journal (evidence
``captured``) and reconstructs from histories, child links and queues where it
has not (evidence ``inferred``).  Rules are small functions over a shared
``_Context`` so each can be read on its own.
"""

from __future__ import annotations

from collections.abc import Iterator

from durascope.history import (
    ConfigurationError,
    ContinueAsNew,
    OrchestrationFailed,
    StartOrchestration,
    SubOrchestrationFailed,
    display_message,
)
from durascope.replay._collector import collector_paused
from durascope.replay._diagnosis_context import (
    MISROUTE_TEXT,
    TERMINAL_COLLISION_TEXT,
    DiagnosisContext,
    Rule,
    make_finding,
)
from durascope.replay._findings import Finding, Ref
from durascope.replay._integrity_rules import malformed_histories
from durascope.replay._journal_checks import journal_flaw
from durascope.replay._model import ChildLink, Execution, Instance, Model
from durascope.replay._notification_rules import filtered_notifications, misrouted_notifications
from durascope.replay._state import fold

# Children.


def child_id_collisions(ctx: DiagnosisContext) -> Iterator[Finding]:
    """A child start hit an instance id already held by another parent or execution."""
    for child_id, links in ctx.links_by_child.items():
        owner = next((k for k in links if k.points_back), None)
        child = ctx.model.instances.get(child_id)
        for link in links:
            if link is owner or not link.child_exists:
                continue
            if (link.parent_instance, link.parent_execution) in ctx.damaged:
                continue  # the damage, not a second start, can make the link miss its child
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
            yield make_finding(
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


def _failed_fast(ctx: DiagnosisContext, link: ChildLink) -> bool:
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


def stuck_parents(ctx: DiagnosisContext) -> Iterator[Finding]:
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
            yield make_finding(
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
    ctx: DiagnosisContext, inst: Instance, ex: Execution, event_id: int, child_id: str
) -> str | None:
    link = ctx.links_by_schedule.get((inst.instance_id, ex.execution_id, event_id))
    child = ctx.model.instances.get(child_id)
    if child is None:
        if (child_id, "StartOrchestration") in ctx.pending_targets:
            return None
        return "was never started (no instance, no pending start)"
    if link is not None and not link.points_back:
        if (inst.instance_id, ex.execution_id) in ctx.damaged:
            return None  # the damage, not a discarded start, can make the link miss
        state = "finished" if child.is_terminal else "running"
        return f"belongs to another schedule ({state}); this start was discarded"
    if child.is_terminal and not ctx.delivered(inst.instance_id, ex.execution_id, event_id):
        kinds = {("SubOrchCompleted"), ("SubOrchFailed")}
        if any((inst.instance_id, k) in ctx.pending_targets for k in kinds):
            return None
        return f"is {child.status.lower()} but its completion never reached this execution"
    return None


# Code and messages.


def nondeterminism(ctx: DiagnosisContext) -> Iterator[Finding]:
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
                yield make_finding(
                    ctx,
                    kind="nondeterminism",
                    severity="error",
                    instance=inst.instance_id,
                    execution=ex.execution_id,
                    event_id=event.event_id,
                    message=f"{where}: {details.message}",
                    evidence=ctx.evidence(inst.instance_id),
                )


def orphan_messages(ctx: DiagnosisContext) -> Iterator[Finding]:
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
        yield make_finding(
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
            yield make_finding(
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


def undelivered_events(ctx: DiagnosisContext) -> Iterator[Finding]:
    """An external event in history that no wait received."""
    for inst in ctx.model.instances.values():
        for ex in inst.executions:
            if not any(e.type == "ExternalEvent" for e in ex.events):
                continue  # only an ExternalEvent can be undelivered: no need to fold
            state = fold(inst.instance_id, ex.execution_id, ex.events)
            by_id = {e.event_id: e for e in ex.events}
            for event_id in state.undelivered_events:
                name = getattr(by_id[event_id], "name", "?")
                yield make_finding(
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


def duplicate_notifications(ctx: DiagnosisContext) -> Iterator[Finding]:
    """A redelivered completion that was ignored (or, in a history, recorded twice)."""
    for inst in ctx.model.instances.values():
        tl = ctx.timeline(inst.instance_id)
        if tl.evidence == "captured":
            for turn in tl.turns:
                for verdict in turn.messages:
                    if verdict.verdict == "duplicate":
                        yield make_finding(
                            ctx,
                            kind="duplicate_notification",
                            severity="info",
                            instance=inst.instance_id,
                            execution=turn.execution_id,
                            message=f"{type(verdict.message).__name__} ignored: {verdict.reason}",
                            evidence="captured",
                            turn=turn.index + 1,
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
                    yield make_finding(
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


def never_dispatched(ctx: DiagnosisContext) -> Iterator[Finding]:
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
                yield make_finding(
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
                    turn=turn.index + 1,
                )


RULES: tuple[Rule, ...] = (
    malformed_histories,
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
    """Every finding in the model (or about one instance's tree), errors first.

    ``instance_id`` may also be an id that only messages name (queued for, or
    discarded as addressed to, an instance that does not exist): its findings
    are then those about the id itself.
    """
    with collector_paused():
        ctx = DiagnosisContext(model)
        findings = [f for rule in RULES for f in rule(ctx)]
        # Its timelines and indexes die here, before the collector resumes and
        # would otherwise scan them once on their way out.
        del ctx
    if instance_id is not None:
        from durascope.replay._bundle import select_tree

        tree = (
            {instance_id}
            if any(model.orphan_message_counts(instance_id))
            else set(select_tree(model, instance_id))
        )
        findings = [
            f for f in findings if f.instance in tree or any(r.instance in tree for r in f.related)
        ]
    unique = _without_shadowed(list(dict.fromkeys(findings)))
    return sorted(unique, key=Finding.sort_key)


def inferred_because(model: Model, finding: Finding) -> str | None:
    """Why a finding is ``inferred``, as a phrase (None when it is captured).

    A queued message no turn has taken is read off the queue whatever the input;
    everything else is inferred from history, because the input keeps no turn
    journal or because its journal does not cover the instance (the timeline
    then falls back to history).
    """
    if finding.evidence != "inferred":
        return None
    noun = "bundle" if model.origin.kind == "bundle" else "store"
    if finding.kind == "orphan_message":
        return f"inferred from the {noun}'s queue: no turn has taken this message"
    if not model.origin.has_turn_journal:
        return f"inferred from history: this {noun} has no turn journal"
    instance = model.instances.get(finding.instance)
    if instance is None:
        return (
            "inferred from history: the turn journal does not cover all of this instance's history"
        )
    if not instance.turns and not instance.undecodable_turns:
        return "inferred from history: the turn journal has no turns of this instance"
    flaw = journal_flaw(instance)
    if instance.undecodable_turns and (flaw is None or flaw.kind == "gap"):
        return "inferred from history: a turn record of this instance does not decode"
    if flaw is not None and flaw.kind != "gap":
        return "inferred from history: this instance's turn records are repeated or misnumbered"
    return "inferred from history: the turn journal does not cover all of this instance's history"


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
