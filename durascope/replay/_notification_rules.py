"""Diagnostic rules about notifications: filtered and misrouted child completions."""

from __future__ import annotations

from collections.abc import Iterator

from durascope.history import (
    ActivityCompletedItem,
    ActivityFailedItem,
    ConfigurationError,
    OrchestrationCompleted,
    OrchestrationFailed,
    SubOrchCompleted,
    SubOrchFailed,
    TimerFiredItem,
)
from durascope.replay._diagnosis_context import MISROUTE_TEXT, DiagnosisContext, make_finding
from durascope.replay._findings import Finding, Ref
from durascope.replay._model import Instance
from durascope.replay._timeline import Timeline, Turn


def filtered_notifications(ctx: DiagnosisContext) -> Iterator[Finding]:
    """A completion addressed to an execution that was no longer current was dropped."""
    for inst in ctx.model.instances.values():
        tl = ctx.timeline(inst.instance_id)
        if tl.evidence == "captured":
            yield from _captured_filtered(ctx, inst, tl)
    yield from _inferred_filtered(ctx)


def _captured_filtered(ctx: DiagnosisContext, inst: Instance, tl: Timeline) -> Iterator[Finding]:
    for turn in tl.turns:
        for verdict in turn.messages:
            if verdict.verdict != "filtered":
                continue
            msg = verdict.message
            if isinstance(msg, SubOrchCompleted | SubOrchFailed):
                key = (msg.parent_instance, msg.parent_execution_id, msg.parent_id)
                link = ctx.links_by_schedule.get(key)
                child = link.child_instance if link else (ctx.senders.get(key) or ["?"])[0]
                related = [
                    Ref(role="child", instance=child),
                    Ref(
                        role="current execution",
                        instance=inst.instance_id,
                        execution=turn.execution_id,
                    ),
                ]
                message = (
                    f"child {child} finished after execution {msg.parent_execution_id} "
                    f"continued as new; its result was dropped in execution {turn.execution_id}"
                )
                origin = ctx.model.scheduling_link(child)
                if origin is not None and (origin.parent_execution, origin.event_id) != (
                    msg.parent_execution_id,
                    msg.parent_id,
                ):
                    # Not late: addressed to an execution that never scheduled it (legacy).
                    related.append(
                        Ref(
                            role="scheduled by",
                            instance=origin.parent_instance,
                            execution=origin.parent_execution,
                            event_id=origin.event_id,
                        )
                    )
                    message = (
                        f"child {child}, scheduled by execution {origin.parent_execution} "
                        f"(event {origin.event_id}), sent its result to execution "
                        f"{msg.parent_execution_id}, which had continued as new; it was dropped "
                        f"in execution {turn.execution_id}"
                    )
                yield make_finding(
                    ctx,
                    kind="filtered_notification",
                    severity="warning",
                    instance=inst.instance_id,
                    execution=msg.parent_execution_id,
                    event_id=msg.parent_id,
                    related=tuple(related),
                    message=message,
                    evidence="captured",
                    turn=turn.index + 1,
                )
            elif isinstance(msg, ActivityCompletedItem | ActivityFailedItem | TimerFiredItem):
                what = "timer" if isinstance(msg, TimerFiredItem) else "activity"
                yield make_finding(
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
                    turn=turn.index + 1,
                )


def _inferred_filtered(ctx: DiagnosisContext) -> Iterator[Finding]:
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
        yield make_finding(
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


def misrouted_notifications(ctx: DiagnosisContext) -> Iterator[Finding]:
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
    ctx: DiagnosisContext,
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
            turn.index + 1,
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
            turn.index + 1,
            f"child {origin[0]}'s completion resolved schedule {msg.parent_id} of "
            f"execution {msg.parent_execution_id}, which is child {link.child_instance}",
        )


def _misroute(
    ctx: DiagnosisContext,
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
    return make_finding(
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


def _inferred_misroute(ctx: DiagnosisContext, inst: Instance) -> Iterator[Finding]:
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
                    ctx.turn_number(inst.instance_id, ex.execution_id, failed.event_id),
                    f"a child's completion was addressed to execution {ex.execution_id}, which "
                    f"has no schedule {event_id}: the execution failed with 'no matching schedule'",
                )
        if (inst.instance_id, ex.execution_id) in ctx.damaged:
            continue  # its links can disagree with its children for no reason but the damage
        for event in ex.events:
            if event.type != "SubOrchestrationCompleted" or event.source_event_id is None:
                continue
            link = ctx.links_by_schedule.get(
                (inst.instance_id, ex.execution_id, event.source_event_id)
            )
            target = ctx.model.instances.get(link.child_instance) if link else None
            if link is None:
                continue
            if link.points_back and target is not None and target.is_terminal:
                result = getattr(event, "result", None)
                returned = _returned(target)
                if returned is None or result == returned:
                    continue
                # The child returned something else: the result is another child's.
                sender = _child_returning(ctx, inst, link.child_instance, result)
                yield _misroute(
                    ctx,
                    inst,
                    ex.execution_id,
                    event.source_event_id,
                    sender or "another child",
                    "inferred",
                    ctx.turn_number(inst.instance_id, ex.execution_id, event.event_id),
                    f"schedule {event.source_event_id} of execution {ex.execution_id} (child "
                    f"{link.child_instance}) received "
                    f"{f'child {sender}' if sender else 'another child'}'s result, not "
                    "the one its child returned",
                )
                continue
            other = _child_scheduled_elsewhere(ctx, inst, ex.execution_id, event.source_event_id)
            yield _misroute(
                ctx,
                inst,
                ex.execution_id,
                event.source_event_id,
                other or "another child",
                "inferred",
                ctx.turn_number(inst.instance_id, ex.execution_id, event.event_id),
                f"schedule {event.source_event_id} of execution {ex.execution_id} (child "
                f"{link.child_instance}) received a completion its child never sent",
            )


def _child_scheduled_elsewhere(
    ctx: DiagnosisContext, inst: Instance, execution: int, event_id: int
) -> str | None:
    for link in ctx.model.children_of(inst.instance_id):
        if link.event_id == event_id and link.parent_execution != execution and link.points_back:
            return link.child_instance
    return None


def _child_returning(
    ctx: DiagnosisContext, inst: Instance, besides: str, result: object
) -> str | None:
    """Another child of ``inst`` that completed with exactly ``result``."""
    for link in ctx.model.children_of(inst.instance_id):
        child = ctx.model.instances.get(link.child_instance)
        if (
            link.points_back
            and link.child_instance != besides
            and child is not None
            and _returned(child) == result
        ):
            return link.child_instance
    return None


def _returned(child: Instance) -> str | None:
    """The output a completed child returned (its last execution's completion), if any."""
    if not child.executions:
        return None
    final = child.executions[-1]
    done = next((e for e in final.events if isinstance(e, OrchestrationCompleted)), None)
    return done.output if done is not None else None
