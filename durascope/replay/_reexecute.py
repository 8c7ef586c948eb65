"""Re-execute user code against a recorded history, turn by turn.

Each recorded turn is run again through the runtime's own turn function
(``process_turn``) with the history before the turn and the turn's messages;
the events it produces are compared with the events the turn recorded.  The
first difference is the divergence: the history event and what the code does
instead, side by side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from durascope.history import (
    ConfigurationError,
    CustomStatusUpdated,
    Event,
    MessageVerdict,
    OrchestrationFailed,
    OrchestrationStarted,
    SubOrchestrationPolicy,
    SubOrchestrationScheduled,
    TimerCreated,
    display_message,
    event_to_dict,
)
from durascope.replay._findings import Finding
from durascope.replay._model import Instance, Model, SourceError
from durascope.replay._text import event_summary, safe_text
from durascope.replay._timeline import MESSAGE_EVENTS, Timeline, Turn
from durascope.runtime import (
    AUTO_SUFFIX,
    OrchestrationResolver,
    Registry,
    TurnInput,
    process_turn,
)


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
    verdicts: tuple[MessageVerdict, ...] = ()
    """The re-run turn's verdict on each of the turn's messages."""

    @property
    def recorded_event(self) -> Event | None:
        """The history event at the divergence (None: the code emits more)."""
        return self.recorded[self.position] if self.position < len(self.recorded) else None

    @property
    def produced_event(self) -> Event | None:
        """What the code produced there (None: the code stops short)."""
        return self.produced[self.position] if self.position < len(self.produced) else None

    @property
    def emitted_action(self) -> str | None:
        """The action the code emitted, as the engine names it (``CallActivity { ... }``).

        Set when the engine itself reported the mismatch while replaying history
        (``schedule mismatch: action=... vs event=...``).
        """
        match = _ACTION.search(self.error or "")
        return match.group(1) if match else None

    def describe(self, event: Event | None) -> str:
        """A one-line description of an event (or of its absence)."""
        if event is None:
            return "nothing"
        if isinstance(event, OrchestrationFailed):
            return f"event {event.event_id} OrchestrationFailed: {_failure_line(event)}"
        return f"event {event.event_id} {event.type} {event_summary(event, 80)}".strip()

    def summary(self) -> str:
        """One sentence: the turn, the history event, and what the code emits there."""
        recorded, produced = self.recorded_event, self.produced_event
        history = (
            f"history has {self.describe(recorded)}"
            if recorded is not None
            else "history has nothing more in this turn"
        )
        action = self.emitted_action
        if action is not None:
            code = f"the code emits {safe_text(action, 120)} (engine: {self.error_line})"
        elif produced is None:
            code = "the code emits nothing there"
        elif isinstance(produced, OrchestrationFailed) and not _is_nondeterminism(produced):
            code = f"the code fails instead: {_failure_line(produced)}"
        else:
            code = f"the code emits {self.describe(produced)}"
        text = (
            f"turn {self.turn.number} (execution {self.execution_id}) diverges at position "
            f"{self.position + 1} of its delta: {history}; {code}"
        )
        refused = [v for v in self.verdicts if v.verdict != "applied"]
        if recorded is not None and recorded.type in MESSAGE_EVENTS and refused:
            v = refused[0]
            text += f" (re-run, the turn's {type(v.message).__name__} was {v.verdict}: {v.reason}"
            if v.verdict == "duplicate":
                text += (
                    "; history records that completion twice: the recording runtime did not "
                    "recognise a redelivered message, this is not a change of code"
                )
            text += ")"
        if isinstance(recorded, OrchestrationFailed) and _is_nondeterminism(recorded):
            text += (
                " (the recorded failure is itself a nondeterminism error: the history before "
                "it was written by other code, which this code matches)"
            )
        return text

    @property
    def error_line(self) -> str:
        """The engine's message on one line (empty when there is none)."""
        lines = (self.error or "").strip().splitlines()
        return safe_text(lines[-1], 160) if lines else ""

    def finding(self, evidence: str, module: str) -> Finding:
        """The divergence as a nondeterminism finding."""
        anchor = self.recorded_event or self.produced_event
        return Finding(
            kind="nondeterminism",
            severity="error",
            instance=self.instance_id,
            execution=self.execution_id,
            event_id=anchor.event_id if anchor else None,
            message=f"re-executing {module}: {self.summary()}",
            evidence=evidence,  # type: ignore[arg-type]
            turn=self.turn.index + 1,
        )


_ACTION = re.compile(r"action=(.*?) vs event=")


def _failure_line(event: OrchestrationFailed) -> str:
    """The failure's message, last line only (tracebacks differ between machines)."""
    lines = display_message(event.details).strip().splitlines()
    return safe_text(lines[-1] if lines else "", 120)


def _is_nondeterminism(event: OrchestrationFailed) -> bool:
    details = event.details
    return isinstance(details, ConfigurationError) and details.kind == "Nondeterminism"


class UnregisteredOrchestration(SourceError):
    """The code does not register the orchestration (or version) an execution ran.

    Re-running a turn then only abandons it, as the runtime does while it waits
    for a node that has the code; that is a wrong ``--module``, not a divergence.

    Attributes:
        instance_id: The instance re-executed.
        execution_id: The execution whose ``OrchestrationStarted`` names the code.
        executions: How many executions the instance has.
        name: The orchestration's name.
        version: The version history records, when the name is registered but not it.
        registered: What the code has instead: its orchestration names (or, when
            only the version is missing, the versions of ``name``); empty when the
            code is not a :class:`~durascope.runtime.Registry`.
    """

    def __init__(
        self,
        instance_id: str,
        execution_id: int,
        executions: int,
        name: str,
        version: str | None,
        registered: tuple[str, ...],
    ) -> None:
        self.instance_id = instance_id
        self.execution_id = execution_id
        self.executions = executions
        self.name = name
        self.version = version
        self.registered = registered
        super().__init__(self.explain("the code"))

    def explain(self, code: str) -> str:
        """One line naming the instance, the orchestration (and version) and ``code``."""
        who = safe_text(self.instance_id)
        if self.executions > 1:
            who += f" execution {self.execution_id}"
        what = f"orchestration {safe_text(self.name)!r}"
        if self.version is not None:
            what = f"version {safe_text(self.version)} of {what}"
        text = f"{who} runs {what}, which {code} does not register"
        if self.registered:
            kind = "versions" if self.version is not None else "orchestrations"
            text += f" (its {kind}: {safe_text(', '.join(self.registered), 200)})"
        return text


def check_registered(instance: Instance, code: OrchestrationResolver) -> None:
    """Raise :class:`UnregisteredOrchestration` unless ``code`` has every execution's code."""
    for execution in instance.executions:
        started = execution.started
        if started is None or code.resolve(started.name, started.version) is not None:
            continue
        # With no version of that name at all, naming the recorded version says nothing.
        versions = tuple(code.versions(started.name)) if isinstance(code, Registry) else ()
        version = started.version if versions else None
        if versions:
            registered = versions
        elif isinstance(code, Registry):
            registered = tuple(code.orchestration_names())
        else:
            registered = ()
        raise UnregisteredOrchestration(
            instance.instance_id,
            execution.execution_id,
            len(instance.executions),
            started.name,
            version,
            registered,
        )


PolicyEvidence = Literal["captured", "inferred", "assumed"]


@dataclass(frozen=True)
class RecordedPolicy:
    """The sub-orchestration policy a history was recorded under, and how that is known.

    Attributes:
        policy: ``fixed`` or ``legacy``.
        evidence: ``captured`` (the turn journal says), ``inferred`` (from the shape
            of child ids and parent links in history) or ``assumed`` (nothing in
            history shows it: the default, ``fixed``).
        reason: What the conclusion rests on, one phrase.
    """

    policy: SubOrchestrationPolicy
    evidence: PolicyEvidence
    reason: str

    def phrase(self) -> str:
        """``legacy policy (inferred: ...)`` for reports."""
        if self.evidence == "captured":
            return f"{self.policy} policy (from the turn journal)"
        return f"{self.policy} policy ({self.evidence}: {self.reason})"


@dataclass(frozen=True)
class Reexecution:
    """The result of re-executing one instance."""

    instance_id: str
    turns_checked: int
    divergence: Divergence | None
    evidence: str
    policy: RecordedPolicy | None = None
    """The policy the turns were re-run under (see :func:`recorded_policy`)."""


def _comparable(event: Event) -> dict[str, Any]:
    data = event_to_dict(event)
    data.pop("timestamp_ms", None)
    data.pop("duroxide_version", None)
    if isinstance(event, TimerCreated | CustomStatusUpdated):
        # Replay matches timers by position and custom status by kind (duroxide and
        # the engine alike); a fire time also comes from a clock read of its own
        # (duroxide's can be a millisecond past every event's timestamp).
        data.pop("fire_at_ms", None)
        data.pop("status", None)
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


def recorded_policy(model: Model, instance_ids: Iterable[str]) -> RecordedPolicy:
    """The policy the given instances were recorded under: one inference for everything.

    The journal's policy when any instance has captured turns; otherwise the shape
    history leaves.  The fix stamps ``parent_execution_id`` on every child's
    ``OrchestrationStarted`` and qualifies auto ids of later executions
    (``sub::2_2``); pre-fix duroxide and the ``legacy`` policy do neither.  Any
    pre-fix mark wins (a fixed runtime never writes one).
    """
    ids = [i for i in dict.fromkeys(instance_ids) if i in model.instances]
    for iid in ids:
        for record in model.instances[iid].turns:
            return RecordedPolicy(record.policy, "captured", "the turn journal")
    legacy: str | None = None
    fixed: str | None = None
    for iid in ids:
        for ex in model.instances[iid].executions:
            for event in ex.events:
                if isinstance(event, OrchestrationStarted) and event.parent_instance is not None:
                    if event.parent_execution_id is None:
                        legacy = legacy or (f"child {iid} records no parent execution in its start")
                    else:
                        fixed = fixed or f"child {iid} records its parent's execution"
                elif isinstance(event, SubOrchestrationScheduled) and ex.execution_id > 1:
                    m = AUTO_SUFFIX.match(event.instance)
                    if m and m.group(1) is None:
                        legacy = legacy or (
                            f"{iid} execution {ex.execution_id} schedules {event.instance} "
                            "without the execution qualifier"
                        )
                    elif m:
                        fixed = fixed or (
                            f"{iid} execution {ex.execution_id} schedules {event.instance}"
                        )
    if legacy is not None:
        return RecordedPolicy("legacy", "inferred", legacy)
    if fixed is not None:
        return RecordedPolicy("fixed", "inferred", fixed)
    return RecordedPolicy("fixed", "assumed", "no child or continue-as-new shows it; the default")


def refuse_redacted(model: Model) -> None:
    """Refuse to re-run code against a redacted bundle.

    Its inputs, results and event data are placeholders (size and hash), so the
    code would see other values than it saw when it ran, and every difference
    would look like nondeterminism.

    Raises:
        SourceError: The input is a redacted bundle.
    """
    if model.origin.redacted:
        raise SourceError(
            f"{model.origin.path} is a redacted bundle: its payloads are placeholders, so "
            "re-executing code against it cannot tell a change of code from redaction; "
            "replay the store, or a bundle exported without --redact"
        )


def _neighbourhood(model: Model, instance: Instance) -> list[str]:
    """The instance, its parent and its children: where a policy leaves its marks."""
    ids = [instance.instance_id]
    if instance.parent_instance_id:
        ids.append(instance.parent_instance_id)
    ids.extend(link.child_instance for link in model.links_from(instance.instance_id))
    return ids


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
    """Re-run every recorded turn of an instance with ``code``; stop at the first divergence.

    Args:
        model: The recorded input.
        instance_id: The instance to re-execute (all its executions).
        code: The user's orchestrations (see :func:`~durascope.replay.load_user_code`).

    Returns:
        How many turns were re-run and the first divergence, if any.

    Raises:
        SourceError: No such instance, or the input is a redacted bundle.
        UnregisteredOrchestration: ``code`` lacks the orchestration (or the
            version) an execution of the instance ran.
    """
    instance = model.instance(instance_id)
    refuse_redacted(model)
    check_registered(instance, code)
    timeline = Timeline.of(instance)
    inferred = recorded_policy(model, _neighbourhood(model, instance))
    policy = inferred.policy
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
                inferred,
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
                    outcome.verdicts,
                ),
                timeline.evidence,
                inferred,
            )
    return Reexecution(instance_id, checked, None, timeline.evidence, inferred)


def side_by_side(divergence: Divergence, width: int = 60) -> str:
    """The divergent turn's recorded and produced events in two columns.

    The first line names the turn; ``>>`` marks the first differing row.
    """
    rows = max(len(divergence.recorded), len(divergence.produced))
    turn = divergence.turn
    out = [
        f"turn {turn.number} of {divergence.instance_id}, execution {divergence.execution_id} "
        f"({turn.evidence})",
        f"{'history (recorded)':<{width}} | code (re-executed)",
        "-" * (2 * width + 3),
    ]
    for i in range(rows):
        left = divergence.recorded[i] if i < len(divergence.recorded) else None
        right = divergence.produced[i] if i < len(divergence.produced) else None
        mark = ">>" if i == divergence.position else "  "
        lt = divergence.describe(left).removeprefix("event ") if left else ""
        rt = divergence.describe(right).removeprefix("event ") if right else ""
        out.append(f"{mark}{lt[: width - 2]:<{width - 2}} | {rt[:width]}")
    action = divergence.emitted_action
    if action is not None:
        out.append(f"emitted action: {action}")
    if divergence.error:
        out.append(f"engine: {json.dumps(divergence.error)[1:-1]}")
    return "\n".join(out)
