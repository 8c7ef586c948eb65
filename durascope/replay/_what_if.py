"""What-if: run a recorded scenario's code under both sub-orchestration policies.

The recorded tree's outside inputs (root starts, raised events, mailbox
messages, cancellations) are fed, at their recorded offsets from the first
start, into the deterministic simulator once per policy; the outcomes are
compared instance by instance.  Child ids differ between policies (``sub::2``
vs ``sub::2_2``), so inputs addressed to a child are re-addressed to the child
the same schedule has under the simulated policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from durascope.history import (
    CancelInstance,
    ExternalRaised,
    OrchestrationStarted,
    QueueMessage,
    StartOrchestration,
    SubOrchCompleted,
    SubOrchestrationPolicy,
    SubOrchFailed,
)
from durascope.replay._bundle import select_tree
from durascope.replay._model import Model
from durascope.runtime import AUTO_SUFFIX, Registry, Simulation, child_suffix


@dataclass(frozen=True)
class _Input:
    offset_ms: int
    order: int
    target: tuple[str, tuple[tuple[str, int, int], ...]]
    """(root instance, path of (parent, execution, event) schedules down to the target)."""
    item: Any


@dataclass(frozen=True)
class PolicyOutcome:
    """One instance's end state under one policy."""

    status: str
    output: str | None
    executions: int
    filtered: int
    misrouted: bool


@dataclass(frozen=True)
class WhatIf:
    """Outcomes per instance (by schedule path, so ids match across policies)."""

    recorded_policy: SubOrchestrationPolicy
    outcomes: dict[str, dict[str, PolicyOutcome]]
    """``label -> {"fixed": ..., "legacy": ...}``; the label is the fixed-policy id."""

    def differences(self) -> list[str]:
        """One line per instance whose outcome differs between the policies."""
        lines = []
        for label, by_policy in sorted(self.outcomes.items()):
            fixed, legacy = by_policy.get("fixed"), by_policy.get("legacy")
            if fixed is None or legacy is None:
                missing = "legacy" if fixed else "fixed"
                lines.append(f"{label}: never started under the {missing} policy")
                continue
            if (fixed.status, fixed.misrouted, fixed.filtered) != (
                legacy.status,
                legacy.misrouted,
                legacy.filtered,
            ):
                lines.append(f"{label}: legacy {describe(legacy)}; fixed {describe(fixed)}")
        return lines


def describe(outcome: PolicyOutcome) -> str:
    """A short phrase for an outcome (``hangs``, ``fails: ...``, ``completes``)."""
    if outcome.misrouted:
        return f"fails on a misrouted completion ({outcome.output})"
    if outcome.status == "Running":
        return "hangs (still running when nothing is left to do)"
    if outcome.status == "Failed":
        return f"fails: {outcome.output}"
    extra = f", {outcome.filtered} completion(s) filtered" if outcome.filtered else ""
    return f"completes{extra}"


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


def _collect_inputs(model: Model, root_id: str) -> list[_Input]:
    tree = select_tree(model, root_id)
    inputs: list[_Input] = []
    t0: int | None = None
    order = 0
    for iid in tree:
        inst = model.instances[iid]
        root, path = _path_of(model, iid)
        for ex in inst.executions:
            for event in ex.events:
                item: Any = None
                if (
                    isinstance(event, OrchestrationStarted)
                    and ex.execution_id == 1
                    and not event.parent_instance
                ):
                    item = StartOrchestration(
                        instance=iid, orchestration=event.name, input=event.input
                    )
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
                if item is None:
                    continue
                if t0 is None or event.timestamp_ms < t0:
                    t0 = event.timestamp_ms
                inputs.append(_Input(event.timestamp_ms, order, (root, path), item))
                order += 1
    base = t0 or 0
    return sorted(
        (_Input(i.offset_ms - base, i.order, i.target, i.item) for i in inputs),
        key=lambda i: (i.offset_ms, i.order),
    )


def _carried(events: Any, event_id: int) -> bool:
    """Mailbox events re-materialised at the start of an execution (carry-forward)."""
    for e in events:
        if e.event_id >= event_id:
            return True
        if e.type not in ("OrchestrationStarted", "ExternalEventPersistent"):
            return False
    return False


def _address(
    sim: Simulation,
    target: tuple[str, tuple[tuple[str, int, int], ...]],
    recorded_ids: dict[str, str],
) -> str | None:
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
    """Run the instance's tree under both policies and compare outcomes."""
    root, _ = _path_of(model, instance_id)
    inputs = _collect_inputs(model, root)
    recorded_policy: SubOrchestrationPolicy = "fixed"
    root_turns = model.instances[root].turns
    if root_turns:
        recorded_policy = root_turns[0].policy
    results: dict[str, dict[str, PolicyOutcome]] = {}
    labels: dict[str, dict[tuple[str, tuple[tuple[str, int, int], ...]], str]] = {}
    for policy in ("fixed", "legacy"):
        sim = Simulation(code, policy=policy)  # type: ignore[arg-type]
        start = sim.now_ms
        for item in inputs:
            sim_run_until(sim, start + item.offset_ms)
            if isinstance(item.item, StartOrchestration):
                sim.enqueue(item.item)
                continue
            target = _address(sim, item.target, {})
            if target is None:
                continue
            sim.enqueue(item.item.model_copy(update={"instance": target}))
        sim_run_until(sim, start + horizon_ms)
        labels[policy] = {}
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
            )
            label = _label(sim, iid)
            results.setdefault(label, {})[policy] = PolicyOutcome(
                status=state.status,
                output=state.output,
                executions=len(state.executions),
                filtered=filtered,
                misrouted=misrouted,
            )
    return WhatIf(recorded_policy=recorded_policy, outcomes=results)


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
    """Advance the simulator to ``when_ms`` (synchronously; activities are plain calls)."""
    import asyncio

    asyncio.run(sim.run(until_ms=when_ms)) if not _in_loop() else _run_in_thread(sim, when_ms)
    sim.now_ms = max(sim.now_ms, when_ms)


def _in_loop() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_in_thread(sim: Simulation, when_ms: int) -> None:
    from durascope.runtime import BackgroundLoop

    BackgroundLoop.shared().run(sim.run(until_ms=when_ms))
