"""Diagnostic rule about the data itself: histories and parent links that are readable but wrong.

A store or bundle can load and still be damaged: an execution without its
``OrchestrationStarted``, an event this version cannot interpret (an unknown
type, or a row that does not decode), an instance with no execution at all,
an instance whose current execution id names none of its executions, an
execution a bundle holds twice, or parent links that loop.  The other rules
would draw conclusions from such data; this one says what is wrong with it, as
``malformed_history`` errors, so ``diagnose`` exits non-zero on a damaged input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from durascope.history import OrchestrationStarted, UnknownEvent
from durascope.replay._diagnosis_context import DiagnosisContext, make_finding
from durascope.replay._findings import Finding, Ref
from durascope.replay._model import Instance
from durascope.replay._text import safe_text

UNDECODABLE = "Undecodable"
"""The ``type`` a source gives an event row that does not decode."""


def malformed_histories(ctx: DiagnosisContext) -> Iterator[Finding]:
    """Executions, events and parent links the debugger cannot trust."""
    for inst in ctx.model.instances.values():
        yield from _malformed_instance(ctx, inst)
    yield from _parent_cycles(ctx)


def _malformed_instance(ctx: DiagnosisContext, inst: Instance) -> Iterator[Finding]:
    evidence = ctx.evidence(inst.instance_id)
    if not inst.executions:
        yield make_finding(
            ctx,
            kind="malformed_history",
            severity="error",
            instance=inst.instance_id,
            execution=None,
            message=f"instance {inst.instance_id} ({inst.status.lower()}) has no execution",
            evidence=evidence,
            turn=None,
        )
    stated = inst.stated_current_execution_id
    if stated is not None:
        have = ", ".join(str(ex.execution_id) for ex in inst.executions)
        yield make_finding(
            ctx,
            kind="malformed_history",
            severity="error",
            instance=inst.instance_id,
            execution=None,
            message=(
                f"the current execution id {stated} names no execution (it has {have}); "
                f"the highest, {inst.current_execution_id}, is treated as current"
            ),
            evidence=evidence,
            turn=None,
        )
    for execution_id, extra in sorted(Counter(inst.repeated_executions).items()):
        yield make_finding(
            ctx,
            kind="malformed_history",
            severity="error",
            instance=inst.instance_id,
            execution=execution_id,
            message=(
                f"execution {execution_id} appears {extra + 1} times; the first copy is "
                "used and the others are ignored"
            ),
            evidence=evidence,
            turn=None,
        )
    for ex in inst.executions:
        events = ex.events
        if not any(isinstance(e, OrchestrationStarted) for e in events):
            yield make_finding(
                ctx,
                kind="malformed_history",
                severity="error",
                instance=inst.instance_id,
                execution=ex.execution_id,
                message=(
                    f"execution {ex.execution_id} has no OrchestrationStarted event "
                    f"({len(events)} events): its input, version and parent are unknown"
                ),
                evidence=evidence,
                turn=None,
            )
        for event in events:
            if not isinstance(event, UnknownEvent):
                continue
            if event.type == UNDECODABLE:
                why = safe_text(getattr(event, "error", ""), 120)
                message = f"event {event.event_id} does not decode ({why}); it is shown raw"
            else:
                message = (
                    f"event {event.event_id} has type {safe_text(event.type, 60)!r}, which "
                    "this version does not know; it is shown raw and ignored by replay"
                )
            yield make_finding(
                ctx,
                kind="malformed_history",
                severity="error",
                instance=inst.instance_id,
                execution=ex.execution_id,
                event_id=event.event_id,
                message=message,
                evidence=evidence,
            )


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
