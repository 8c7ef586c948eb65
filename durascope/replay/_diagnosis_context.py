"""What every diagnostic rule shares: indexes over the model and finding construction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from functools import cached_property

from durascope.history import (
    SubOrchCompleted,
    SubOrchFailed,
)
from durascope.replay._event_checks import EventDamage, event_damage
from durascope.replay._findings import Finding
from durascope.replay._model import ChildLink, Model
from durascope.replay._timeline import Timeline

TERMINAL_COLLISION_TEXT = "already exists and is terminal"
MISROUTE_TEXT = "no matching schedule for sub-orchestration id="


class DiagnosisContext:
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

    def turn_number(self, instance_id: str, execution_id: int, event_id: int | None) -> int | None:
        """The 1-based turn that appended the event, as ``Finding.turn`` counts."""
        if event_id is None or instance_id not in self.model.instances:
            return None
        turn = self.timeline(instance_id).turn_of_event(execution_id, event_id)
        return turn.index + 1 if turn else None

    @cached_property
    def damaged(self) -> dict[tuple[str, int], EventDamage]:
        """``(instance, execution) -> damage`` of every execution whose events are damaged."""
        out: dict[tuple[str, int], EventDamage] = {}
        for inst in self.model.instances.values():
            for ex in inst.executions:
                damage = event_damage(inst.instance_id, ex)
                if damage is not None:
                    out[(inst.instance_id, ex.execution_id)] = damage
        return out

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


Rule = Callable[[DiagnosisContext], Iterator[Finding]]


def make_finding(ctx: DiagnosisContext, **kw: object) -> Finding:
    instance = str(kw["instance"])
    if "turn" not in kw:
        execution = kw.get("execution")
        event_id = kw.get("event_id")
        kw["turn"] = (
            ctx.turn_number(instance, execution, event_id)  # type: ignore[arg-type]
            if isinstance(execution, int)
            else None
        )
    return Finding.model_validate(kw)
