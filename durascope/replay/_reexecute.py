"""Re-execute user code against a recorded history, turn by turn.

Each recorded turn is run again through the runtime's own turn function
(``process_turn``) with the history before the turn and the turn's messages;
the events it produces are compared with the events the turn recorded.  The
first difference is the divergence: the history event and what the code does
instead, side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from durascope.history import (
    Event,
    OrchestrationStarted,
    SubOrchestrationPolicy,
    SubOrchestrationScheduled,
    event_to_dict,
)
from durascope.replay._findings import Finding
from durascope.replay._model import Instance, Model
from durascope.replay._text import event_summary
from durascope.replay._timeline import Timeline, Turn
from durascope.runtime import AUTO_SUFFIX, OrchestrationResolver, TurnInput, process_turn


@dataclass(frozen=True)
class Divergence:
    """The first turn where the code does something other than what history records."""

    instance_id: str
    execution_id: int
    turn: Turn
    recorded: tuple[Event, ...]
    produced: tuple[Event, ...]
    position: int
    """Index in the turn's delta of the first differing event."""
    error: str | None
    """The engine's own nondeterminism message, when replaying the code diverged."""

    @property
    def recorded_event(self) -> Event | None:
        """The history event at the divergence (None: the code emits more)."""
        return self.recorded[self.position] if self.position < len(self.recorded) else None

    @property
    def produced_event(self) -> Event | None:
        """What the code produced there (None: the code stops short)."""
        return self.produced[self.position] if self.position < len(self.produced) else None

    def describe(self, event: Event | None) -> str:
        """A one-line description of an event (or of its absence)."""
        if event is None:
            return "nothing"
        return f"{event.type} {event_summary(event, 80)}".strip()

    def finding(self, evidence: str, module: str) -> Finding:
        """The divergence as a nondeterminism finding."""
        anchor = self.recorded_event or self.produced_event
        produced = self.describe(self.produced_event)
        if self.error:
            produced = f"{produced} ({self.error})"
        return Finding(
            kind="nondeterminism",
            severity="error",
            instance=self.instance_id,
            execution=self.execution_id,
            event_id=anchor.event_id if anchor else None,
            message=(
                f"re-executing {module}: turn {self.turn.number} (execution {self.execution_id}) "
                f"diverges: history has {self.describe(self.recorded_event)}; the code "
                f"produces {produced}"
            ),
            evidence=evidence,  # type: ignore[arg-type]
            turn=self.turn.index,
        )


@dataclass(frozen=True)
class Reexecution:
    """The result of re-executing one instance."""

    instance_id: str
    turns_checked: int
    divergence: Divergence | None
    evidence: str


def _comparable(event: Event) -> dict[str, Any]:
    data = event_to_dict(event)
    data.pop("timestamp_ms", None)
    data.pop("duroxide_version", None)
    if isinstance(event, SubOrchestrationScheduled) and AUTO_SUFFIX.match(event.instance):
        # Replay binds a child's id from history (duroxide matches name and input only).
        data.pop("instance", None)
    details = data.get("details")
    if isinstance(details, dict) and "Application" in details:
        message = str(details["Application"].get("message", ""))
        # Failure messages carry tracebacks whose file paths differ between machines.
        lines = message.strip().splitlines()
        details["Application"]["message"] = lines[-1] if lines else ""
    return data


def _policy_of(instance: Instance) -> SubOrchestrationPolicy:
    """Legacy when a later execution scheduled auto ids without the execution qualifier."""
    for record in instance.turns:
        return record.policy
    for ex in instance.executions:
        if ex.execution_id < 2:
            continue
        for event in ex.events:
            if isinstance(event, SubOrchestrationScheduled):
                m = AUTO_SUFFIX.match(event.instance)
                if m and m.group(1) is None:
                    return "legacy"
    return "fixed"


def _turn_input(instance: Instance, turn: Turn, policy: SubOrchestrationPolicy) -> TurnInput:
    execution = instance.execution(turn.execution_id)
    first = min((e.event_id for e in turn.delta), default=None)
    starts_execution = any(isinstance(e, OrchestrationStarted) for e in turn.delta)
    if starts_execution and turn.execution_id > 1:
        previous = instance.execution(turn.execution_id - 1)
        history, current = previous.events, turn.execution_id - 1
    elif starts_execution:
        history, current = (), 0
    else:
        cut = first if first is not None else 10**12
        history = tuple(e for e in execution.events if e.event_id < cut)
        current = turn.execution_id
    messages = tuple(v.message for v in turn.messages)
    now = turn.delta[0].timestamp_ms if turn.delta else 0
    return TurnInput(
        instance=instance.instance_id,
        current_execution_id=current,
        history=tuple(history),
        messages=messages,  # type: ignore[arg-type]
        now_ms=now,
        policy=policy,
    )


def reexecute(model: Model, instance_id: str, code: OrchestrationResolver) -> Reexecution:
    """Re-run every recorded turn of an instance with ``code``; stop at the first divergence."""
    instance = model.instance(instance_id)
    timeline = Timeline.of(instance)
    policy = _policy_of(instance)
    checked = 0
    for turn in timeline.turns:
        if not turn.delta:
            continue
        outcome = process_turn(_turn_input(instance, turn, policy), code)
        checked += 1
        if outcome.abandon_delay_ms is not None:
            return Reexecution(
                instance_id,
                checked,
                Divergence(
                    instance_id, turn.execution_id, turn, turn.delta, (), 0, outcome.abandon_reason
                ),
                timeline.evidence,
            )
        recorded = [_comparable(e) for e in turn.delta]
        produced = [_comparable(e) for e in outcome.delta]
        if recorded != produced:
            position = next(
                (i for i, (a, b) in enumerate(zip(recorded, produced, strict=False)) if a != b),
                min(len(recorded), len(produced)),
            )
            return Reexecution(
                instance_id,
                checked,
                Divergence(
                    instance_id,
                    turn.execution_id,
                    turn,
                    turn.delta,
                    outcome.delta,
                    position,
                    outcome.error,
                ),
                timeline.evidence,
            )
    return Reexecution(instance_id, checked, None, timeline.evidence)


def side_by_side(divergence: Divergence, width: int = 60) -> str:
    """The divergent turn's recorded and produced events in two columns."""
    rows = max(len(divergence.recorded), len(divergence.produced))
    out = [f"{'history (recorded)':<{width}} | code (re-executed)", "-" * (2 * width + 3)]
    for i in range(rows):
        left = divergence.recorded[i] if i < len(divergence.recorded) else None
        right = divergence.produced[i] if i < len(divergence.produced) else None
        mark = ">>" if i == divergence.position else "  "
        lt = f"{left.event_id} {divergence.describe(left)}" if left else ""
        rt = f"{right.event_id} {divergence.describe(right)}" if right else ""
        out.append(f"{mark}{lt[: width - 2]:<{width - 2}} | {rt[:width]}")
    if divergence.error:
        out.append(f"engine: {json.dumps(divergence.error)[1:-1]}")
    return "\n".join(out)
