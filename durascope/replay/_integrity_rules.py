"""Diagnostic rule about the data itself: histories and parent links that are readable but wrong.

A store or bundle can load and still be damaged: an execution without its
``OrchestrationStarted``, an event this version cannot interpret (an unknown
type, or a row that does not decode), events whose envelope names another
execution or whose ids do not run 1..n (see ``_event_checks``), an instance
with no execution at all, one whose current execution id names none of its
executions, an execution a bundle holds twice, or parent links that loop.  The
other rules would draw conclusions from such data; this one says what is wrong
with it, as ``malformed_history`` errors, so ``diagnose`` exits non-zero on a
damaged input.  A turn journal that does not decode or does not cover the
history is a warning: history stays the authority, and the turns are inferred.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from durascope.history import OrchestrationStarted, UnknownEvent
from durascope.replay._diagnosis_context import DiagnosisContext, make_finding
from durascope.replay._event_checks import EventDamage
from durascope.replay._findings import Finding, Ref
from durascope.replay._journal_checks import journal_flaw
from durascope.replay._model import Instance
from durascope.replay._text import safe_text

UNDECODABLE = "Undecodable"
"""The ``type`` a source gives an event row that does not decode."""

_NOT_CHECKED = "its children are not checked for collisions, misroutes or lost starts"
"""What the child rules do with a damaged execution (see ``_event_checks``)."""


def malformed_histories(ctx: DiagnosisContext) -> Iterator[Finding]:
    """Executions, events and parent links the debugger cannot trust."""
    for inst in ctx.model.instances.values():
        yield from _malformed_instance(ctx, inst)
    yield from _parent_cycles(ctx)


def _malformed_instance(ctx: DiagnosisContext, inst: Instance) -> Iterator[Finding]:
    found = list(_damaged_instance(ctx, inst))
    yield from found
    yield from _journal_gaps(ctx, inst, explained=bool(found))


def _damaged_instance(ctx: DiagnosisContext, inst: Instance) -> Iterator[Finding]:
    evidence = ctx.evidence(inst.instance_id)

    def error(message: str, execution: int | None = None, event_id: int | None = None) -> Finding:
        # Damage is about data, not a turn: only an event in a known turn names one.
        turn = {} if event_id is not None else {"turn": None}
        return make_finding(
            ctx,
            kind="malformed_history",
            severity="error",
            instance=inst.instance_id,
            execution=execution,
            event_id=event_id,
            message=message,
            evidence=evidence,
            **turn,
        )

    if not inst.executions:
        yield error(f"instance {inst.instance_id} ({inst.status.lower()}) has no execution")
    stated = inst.stated_current_execution_id
    if stated is not None:
        have = _few([str(ex.execution_id) for ex in inst.executions], shown=5)
        yield error(
            f"the current execution id {stated} names no execution (it has {have}); "
            f"the highest, {inst.current_execution_id}, is treated as current"
        )
    if inst.repeated_copies:
        yield error(
            f"the instance appears {inst.repeated_copies + 1} times; the first copy is "
            "used and the others are ignored"
        )
    repeats = Counter(inst.repeated_executions) if inst.repeated_executions else {}
    for execution_id, extra in sorted(repeats.items()):
        yield error(
            f"execution {execution_id} appears {extra + 1} times; the first copy is "
            "used and the others are ignored",
            execution_id,
        )
    for ex in inst.executions:
        events = ex.events
        # This runs over every event of every store: the start is normally event 1.
        unknown = [e for e in events if isinstance(e, UnknownEvent)]
        if not (events and isinstance(events[0], OrchestrationStarted)) and not any(
            isinstance(e, OrchestrationStarted) for e in events
        ):
            yield error(
                f"execution {ex.execution_id} has no OrchestrationStarted event "
                f"({len(events)} events): its input, version and parent are unknown",
                ex.execution_id,
            )
        damage = ctx.damaged.get((inst.instance_id, ex.execution_id))
        if damage is not None:
            yield from _damage_findings(ctx, inst, ex.execution_id, len(events), damage)
        for event in unknown:
            if event.type == UNDECODABLE:
                why = safe_text(getattr(event, "error", ""), 120)
                message = f"event {event.event_id} does not decode ({why}); it is shown raw"
            else:
                message = (
                    f"event {event.event_id} has type {safe_text(event.type, 60)!r}, which "
                    "this version does not know; it is shown raw and ignored by replay"
                )
            yield error(message, ex.execution_id, event.event_id)


def _journal_gaps(ctx: DiagnosisContext, inst: Instance, *, explained: bool) -> Iterator[Finding]:
    """A turn journal with records that do not decode, or that cannot stand for history.

    Either way history stays the authority and the timeline falls back to
    inferred turns; a warning says so, because the fall-back changes what every
    other finding about the instance can claim.  A journal that merely misses
    events of a history already reported as damaged (``explained``) adds nothing.
    """
    undecodable = inst.undecodable_turns
    if not undecodable and not inst.turns:
        return
    inferred = ctx.evidence(inst.instance_id) == "inferred"
    if undecodable:
        one = len(undecodable) == 1
        outcome = (
            "so this instance's turns were inferred from history instead"
            if inferred
            else f"and {'is' if one else 'are'} missing from the captured turns"
        )
        message = (
            f"turn record{'' if one else 's'} {_few([str(t) for t in undecodable])} "
            f"{'does' if one else 'do'} not decode, {outcome}"
        )
    elif inferred and (flaw := journal_flaw(inst)) is not None:
        if explained and flaw.kind == "gap":
            return
        message = f"{flaw.detail}, so this instance's turns were inferred from history instead"
    else:
        return
    yield make_finding(
        ctx,
        kind="malformed_history",
        severity="warning",
        instance=inst.instance_id,
        execution=None,
        message=message,
        evidence=ctx.evidence(inst.instance_id),
        turn=None,
    )


def _damage_findings(
    ctx: DiagnosisContext, inst: Instance, execution_id: int, count: int, damage: EventDamage
) -> Iterator[Finding]:
    """Envelopes naming another execution, and event ids that are not ``1..n``."""
    evidence = ctx.evidence(inst.instance_id)
    here = f"{inst.instance_id}#{execution_id}"
    # The journal names events by execution and id, so damage to either can leave
    # the captured turns matching nothing; say so where it happened.
    fallback = (
        "; the captured turns do not match it, so this instance's turns were inferred from history"
        if inst.turns and evidence == "inferred"
        else ""
    )
    if damage.foreign:
        claims = sorted({f"{e.instance_id}#{e.execution_id}" for e in damage.foreign})
        yield make_finding(
            ctx,
            kind="malformed_history",
            severity="error",
            instance=inst.instance_id,
            execution=execution_id,
            event_id=damage.foreign[0].event_id,
            message=(
                f"{len(damage.foreign)} of {count} events say they belong to "
                f"{_few([safe_text(c, 60) for c in claims])}, not to {safe_text(here, 60)} "
                f"that holds them; {_NOT_CHECKED}{fallback}"
            ),
            evidence=evidence,
        )
    if not damage.bad_ids:
        return
    parts = [f"{i} appears {n} times" for i, n in damage.repeated[:3]]
    if len(damage.repeated) > 3:
        parts.append(f"{len(damage.repeated) - 3} more ids repeat")
    if damage.invalid:
        verb = "is not a valid id" if len(damage.invalid) == 1 else "are not valid ids"
        parts.append(f"{_few([str(i) for i in damage.invalid])} {verb}")
    if damage.missing_count:
        verb = "is" if damage.missing_count == 1 else "are"
        few = _few([str(i) for i in damage.missing], total=damage.missing_count)
        parts.append(f"{few} {verb} missing")
    if damage.out_of_order:
        parts.append("they are out of order")
    first = damage.repeated[0][0] if damage.repeated else next(iter(damage.invalid), None)
    yield make_finding(
        ctx,
        kind="malformed_history",
        severity="error",
        instance=inst.instance_id,
        execution=execution_id,
        event_id=first,
        message=(
            f"event ids of execution {execution_id} do not run 1..{count} in order, once each "
            f"({', '.join(parts)}); turns, completions and child links name events by id, "
            f"so they may point at the wrong event; {_NOT_CHECKED}{fallback}"
        ),
        evidence=evidence,
    )


def _few(items: list[str], shown: int = 3, total: int | None = None) -> str:
    """``a, b, c and 4 more``: a list that stays one short line.

    ``total`` counts the items when ``items`` holds only the first of them.
    """
    head = ", ".join(items[:shown])
    total = len(items) if total is None else total
    return head if total <= shown else f"{head} and {total - shown} more"


def _parent_cycles(ctx: DiagnosisContext) -> Iterator[Finding]:
    """Each loop of parent links once, reported on its smallest instance id.

    Walks every chain once (instances already known to reach a root or a loop
    are not walked again), so a 10,000-level chain costs linear time.
    """
    instances = ctx.model.instances
    settled: set[str] = set()
    for start in instances:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node in instances and node not in settled:
            if node in on_path:
                loop = path[on_path[node] :]
                anchor = min(loop)
                at = loop.index(anchor)
                ordered = loop[at:] + loop[:at]
                yield make_finding(
                    ctx,
                    kind="malformed_history",
                    severity="error",
                    instance=anchor,
                    execution=None,
                    related=tuple(Ref(role="parent", instance=i) for i in ordered[1:]),
                    message=(
                        "parent links form a loop: "
                        + " -> ".join(safe_text(i, 40) for i in [*ordered, anchor])
                    ),
                    evidence=ctx.evidence(anchor),
                    turn=None,
                )
                break
            on_path[node] = len(path)
            path.append(node)
            node = instances[node].parent_instance_id
        settled.update(path)
