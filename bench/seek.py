"""Time travel: seek to random turns of an instance with 10,000 turns.

Two instances, each with ``size`` captured turns:

- ``one execution``: a loop of ``size - 1`` steps in a single execution (an
  activity per step, a 1-second timer every tenth step), so the history has
  ``2 * size`` events and every seek folds into one long execution: the worst
  case for the checkpointed fold.  The durable runtime replays the whole
  history on every turn, so running 10,000 turns through it (or through
  :class:`~durascope.runtime.Simulation`) is quadratic and takes minutes;
  :func:`synthesize_loop` writes the events and turn records the simulation
  would write instead, field for field (``tests/test_bench.py`` checks it
  against a real :class:`Simulation` run), in milliseconds.
- ``continue-as-new``: the same loop through a real :class:`Simulation`, but
  continuing-as-new every 100 turns (an eternal orchestration): 100 executions.

For each, 1,000 random turn indexes (fixed seed) are visited:

- ``open``: a :class:`Stepper` on a fresh :class:`Timeline` (the same turns, no
  checkpoints, no cached states), once per seek: opening folds every execution
  once and keeps checkpoints, the cost paid when an instance is opened;
  ``Timeline.of`` itself (reading the turns) is timed once and shown in the note;
- ``first seek after opening``: the one seek made on each freshly opened stepper;
- ``warm``: all seeks through one :class:`Stepper` on one timeline (the
  per-turn state cache is cleared before each seek, so no seek is answered
  from a previous identical one);
- ``replay from start`` (the baseline): :func:`durascope.replay.fold` over the
  execution's events up to the turn, what a debugger without checkpoints does.

Run by hand: ``python -m bench.seek 10000``.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import Row, median, percentile, ratio

FULL_SIZE = 10_000
QUICK_SIZE = 2_000
SEEKS = 1_000
SEED = 8
CAN_EVERY = 100
START_MS = 1_700_000_000_000
TIMER_MS = 1_000


# ─── The instances ───────────────────────────────────────────────


def loop(ctx: Any, arg: Any) -> Any:
    """``arg`` steps (an activity each, a timer every tenth), then complete.

    With ``arg = [steps, turns]`` it runs at most ``steps`` steps and continues-as-new
    until it has taken ``turns`` turns in all (each execution: a start turn plus one
    turn per step).
    """
    steps, turns = (arg, None) if isinstance(arg, int) else (arg[0], arg[1])
    if turns is not None:
        steps = min(steps, turns - 1)
    acc = 0
    for i in range(steps):
        if i % 10 == 5:
            yield ctx.schedule_timer(TIMER_MS)
        else:
            acc += yield ctx.schedule_activity("A", i)
    if turns is not None and turns - steps - 1 > 0:
        return (yield ctx.continue_as_new([arg[0], turns - steps - 1]))
    return acc


def _registry() -> Any:
    from durascope.runtime import Registry

    registry = Registry()
    registry.add_orchestration("Loop", loop)
    registry.add_activity("A", lambda ctx, x: x + 1)
    return registry


def simulate(instance_id: str, arg: Any, max_turns: int) -> Any:
    """Run ``Loop(arg)`` through a real :class:`Simulation`; return its model."""
    from durascope.replay import model_from_simulation
    from durascope.runtime import Simulation

    sim = Simulation(_registry(), start_ms=START_MS)
    sim.start(instance_id, "Loop", arg)
    asyncio.run(sim.run(max_turns=max_turns))
    return model_from_simulation(sim, label=f"seek-{instance_id}")


def synthesize_loop(instance_id: str, turns: int) -> Any:
    """The model :func:`simulate` gives for ``Loop(turns - 1)``, written directly (linear time)."""
    from durascope.runtime import ENGINE_VERSION

    if turns < 2:
        raise ValueError("the loop has at least two turns")
    steps = turns - 1
    envelope = {"instance_id": instance_id, "execution_id": 1, "duroxide_version": ENGINE_VERSION}
    target = {"queue": "worker", "target_instance": instance_id, "target_execution": 1}
    here = {"instance": instance_id, "execution_id": 1}
    events: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    now = START_MS

    def event(kind: str, source: int | None, **fields: Any) -> int:
        eid = len(events) + 1
        events.append(
            {"event_id": eid, "source_event_id": source, **envelope, "timestamp_ms": now,
             "type": kind, **fields}
        )  # fmt: skip
        return eid

    def schedule(i: int) -> tuple[int, dict[str, Any]]:
        """Schedule step ``i``: its event id and the work item it sends."""
        if i % 10 == 5:
            fire = now + TIMER_MS
            eid = event("TimerCreated", None, fire_at_ms=fire)
            item = {"TimerFired": {**here, "id": eid, "fire_at_ms": fire}}
            return eid, {"item": item, **target, "queue": "orchestrator"}
        eid = event("ActivityScheduled", None, name="A", input=str(i))
        item = {"ActivityExecute": {**here, "id": eid, "name": "A", "input": str(i)}}
        return eid, {"item": item, **target}

    def record(message: dict[str, Any], reason: str, delta: list[int], sent: list[Any],
               result: str = "continue", output: str | None = None) -> None:  # fmt: skip
        records.append(
            turn_record(instance_id, len(records) + 1, now, message, reason, delta, sent,
                        result, output)
        )  # fmt: skip

    start = {"StartOrchestration": {"instance": instance_id, "orchestration": "Loop",
             "input": str(steps), "version": None, "parent_instance": None, "parent_id": None,
             "execution_id": 1}}  # fmt: skip
    first = event("OrchestrationStarted", None, name="Loop", version="1.0.0", input=str(steps),
                  parent_instance=None, parent_id=None)  # fmt: skip
    pending, sent = schedule(0)
    record(start, "started execution 1", [first, pending], [sent])
    acc = 0
    for i in range(steps):
        if i % 10 == 5:
            now += TIMER_MS
            done = event("TimerFired", pending, fire_at_ms=now)
            message = {"TimerFired": {**here, "id": pending, "fire_at_ms": now}}
        else:
            acc += i + 1
            done = event("ActivityCompleted", pending, result=str(i + 1))
            message = {"ActivityCompleted": {**here, "id": pending, "result": str(i + 1)}}
        reason = f"completion of schedule {pending}"
        if i + 1 < steps:
            pending, sent = schedule(i + 1)
            record(message, reason, [done, pending], [sent])
        else:
            end = event("OrchestrationCompleted", None, output=str(acc))
            record(message, reason, [done, end], [], "completed", str(acc))
    return completed_model(instance_id, "Loop", str(acc), events, records, f"seek-{instance_id}")


def turn_record(
    instance_id: str,
    turn: int,
    now: int,
    message: dict[str, Any],
    reason: str,
    delta: list[int],
    sent: list[Any],
    result: str = "continue",
    output: str | None = None,
) -> dict[str, Any]:
    """A journal TurnRecord (JSON shape) of execution 1 that applied one message."""
    return {
        "type": "TurnRecord", "instance": instance_id, "execution_id": 1, "turn": turn,
        "timestamp_ms": now, "policy": "fixed", "attempt": 1,
        "messages": [{"message": message, "verdict": "applied", "reason": reason,
                      "event_id": delta[0]}],
        "delta_event_ids": delta, "sent": sent, "cancelled_activities": [],
        "result": result, "output": output, "custom_status": None, "worker_id": None,
    }  # fmt: skip


def completed_model(
    instance_id: str,
    name: str,
    output: str,
    events: list[dict[str, Any]],
    records: list[dict[str, Any]],
    path: str,
) -> Any:
    """A one-instance, one-execution in-memory model of a completed orchestration.

    Args:
        instance_id: The instance.
        name: Its orchestration name (version ``1.0.0``).
        output: What it completed with.
        events: Its history, in duroxide's JSON shape.
        records: Its turn records, in the journal's JSON shape.
        path: The model origin's path (a label: nothing is read from it).
    """
    from durascope.history import event_from_dict, turn_record_from_json
    from durascope.replay import Execution, Instance, Model, Origin

    execution = Execution(
        instance_id, 1, "Completed", output, event_count=len(events),
        _events=tuple(event_from_dict(e) for e in events),
    )  # fmt: skip
    instance = Instance(
        instance_id, name, "1.0.0", 1, None, "Completed", output,
        executions=(execution,),
        _turns=tuple(turn_record_from_json(json.dumps(r)) for r in records),
    )  # fmt: skip
    return Model(origin=Origin(kind="memory", path=path), instances={instance_id: instance})


# ─── Measuring ───────────────────────────────────────────────────


def _clock(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(instance: Any, label: str, seeks: int = SEEKS) -> list[Row]:
    """Opening, first-seek, warm and replay-from-start times over one instance; four rows."""
    from durascope.replay import Stepper, Timeline, fold

    t0 = time.perf_counter()
    timeline = Timeline.of(instance)
    build = time.perf_counter() - t0
    n = len(timeline)
    targets = random.Random(SEED).choices(range(n), k=seeks)

    opening: list[float] = []
    first: list[float] = []
    for index in targets:
        # A new Timeline over the same turns: no checkpoints, no cached states.
        fresh = Timeline(instance, timeline.turns, timeline.evidence)
        t0 = time.perf_counter()
        stepper = Stepper(fresh)
        opening.append(time.perf_counter() - t0)
        first.append(_clock(lambda: stepper.seek(index)))  # noqa: B023

    stepper = Stepper(timeline)
    warm: list[float] = []
    for index in targets:
        timeline._states.clear()  # no seek answered from an earlier identical seek
        warm.append(_clock(lambda: stepper.seek(index)))  # noqa: B023

    replay: list[float] = []
    for index in targets:
        turn = timeline.turns[index]
        events = instance.execution(turn.execution_id).events

        def from_start(turn: Any = turn, events: Any = events) -> None:
            fold(instance.instance_id, turn.execution_id, events[: turn.events_after])

        replay.append(_clock(from_start))

    # Each seek must agree with the baseline (spot check, outside the clocks).
    for index in targets[:20]:
        turn = timeline.turns[index]
        events = instance.execution(turn.execution_id).events
        expected = fold(instance.instance_id, turn.execution_id, events[: turn.events_after])
        if stepper.seek(index).state != expected:
            raise AssertionError(f"seek({index}) disagrees with a fold from the start")

    base_median, base_p99 = median(replay), percentile(replay, 99)
    shape = (
        f"{n:,} turns, {len(instance.executions)} execution(s), "
        f"{sum(len(e.events) for e in instance.executions):,} events"
    )
    out: list[Row] = []
    for method, samples, note in (
        ("open (stepper on a fresh timeline)", opening,
         f"{shape}; folds every execution once; Timeline.of (reading the turns) "
         f"{build:.2f} s, not in the clock"),
        ("first seek after opening", first, "one seek per freshly opened stepper"),
        ("warm (one stepper)", warm, "per-turn cache cleared before each seek"),
        ("replay from start (baseline)", replay, "fold over events[:turn]"),
    ):  # fmt: skip
        med, p99 = median(samples), percentile(samples, 99)
        out.append(
            {
                "instance": label,
                "method": method,
                "seeks": len(samples),
                "median ms": med * 1000,
                "p99 ms": p99 * 1000,
                "max ms": max(samples) * 1000,
                "median speed-up vs replay": ratio(base_median, med),
                "p99 speed-up vs replay": ratio(base_p99, p99),
                "note": note,
            }
        )
    return out


def run(size: int = FULL_SIZE, *, seeks: int = SEEKS) -> list[Row]:
    """Both instances of ``size`` turns; four rows each (speed-ups: replay time / seek time)."""
    long = synthesize_loop("long", size).instance("long")
    per = min(CAN_EVERY, max(2, size // 10))
    can = simulate("eternal", [per - 1, size], max_turns=4 * size).instance("eternal")
    return measure(long, "one execution", seeks) + measure(can, "continue-as-new", seeks)


def main(argv: list[str]) -> None:
    from bench import markdown_table

    size = int(argv[0]) if argv else FULL_SIZE
    print(markdown_table(run(size)))


if __name__ == "__main__":
    main(sys.argv[1:])
