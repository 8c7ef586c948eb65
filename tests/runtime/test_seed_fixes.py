"""The seed bugs and their fixes, on the deterministic in-memory simulator.

Each program (``seed_programs``) runs under the default (fixed) policy and under
``legacy``; the legacy runs reproduce the hangs and misroutes the fix prevents.
The same programs on the SQLite runtime with real dispatchers, and with a second
runtime process, are in ``test_seed_fixes_sqlite``.
"""

from __future__ import annotations

from typing import Any

import pytest

from durascope.history import (
    OrchestrationStarted,
    StartOrchestration,
    SubOrchCompleted,
    SubOrchestrationScheduled,
    SubOrchFailed,
)
from durascope.runtime import ReservedInstanceIdError, Simulation
from tests.runtime.seed_programs import registry


def scheduled_children(sim: Simulation, instance: str) -> list[str]:
    state = sim.instances[instance]
    return [
        e.instance
        for ex in sorted(state.executions)
        for e in state.executions[ex]
        if isinstance(e, SubOrchestrationScheduled)
    ]


async def test_can_parent_completes_with_execution_qualified_child_ids() -> None:
    sim = Simulation(registry())
    sim.start("P", "CanParent", 1)
    await sim.run()
    parent = sim.instances["P"]
    assert parent.status == "Completed"
    assert parent.output == "3"
    assert parent.current_execution_id == 3
    assert scheduled_children(sim, "P") == ["sub::2", "sub::2_2", "sub::3_2"]
    for child, execution in [("P::sub::2", 1), ("P::sub::2_2", 2), ("P::sub::3_2", 3)]:
        started = sim.history(child)[0]
        assert isinstance(started, OrchestrationStarted)
        assert (started.parent_instance, started.parent_id) == ("P", 2)
        assert started.parent_execution_id == execution


async def test_legacy_can_parent_hangs_on_its_previous_child() -> None:
    sim = Simulation(registry(), policy="legacy")
    sim.start("P", "CanParent", 1)
    await sim.run()
    parent = sim.instances["P"]
    assert parent.status == "Running"
    assert parent.current_execution_id == 2
    assert scheduled_children(sim, "P") == ["sub::2", "sub::2"]
    # The second start hit the completed child and was acked without a trace.
    discarded = [
        v
        for t in sim.turns
        if t.instance == "P::sub::2"
        for v in t.messages
        if isinstance(v.message, StartOrchestration) and v.verdict == "discarded"
    ]
    assert len(discarded) == 1
    assert "terminal" in discarded[0].reason
    assert not any(isinstance(i, SubOrchFailed) for i in sim.pending())


async def test_child_outliving_execution_1_is_filtered_not_poisoning_execution_2() -> None:
    sim = Simulation(registry())
    sim.start("P", "OutlivingParent", 1)
    await sim.run(until_ms=sim.now_ms + 1000)
    assert sim.instances["P"].current_execution_id == 2
    sim.raise_event("P::sub::2", "release", "late")
    await sim.run(until_ms=sim.now_ms + 1000)
    filtered = [
        (t, v)
        for t in sim.turns
        if t.instance == "P"
        for v in t.messages
        if isinstance(v.message, SubOrchCompleted)
    ]
    assert len(filtered) == 1
    turn, verdict = filtered[0]
    assert verdict.verdict == "filtered"
    assert "addressed to execution 1, current is 2" in verdict.reason
    assert turn.execution_id == 2
    assert sim.instances["P"].status == "Running"
    sim.raise_event("P", "go", "ok")
    await sim.run(until_ms=sim.now_ms + 1000)
    parent = sim.instances["P"]
    assert parent.status == "Completed"
    assert parent.output == '{"index": 0, "value": "ok"}'


async def test_legacy_child_completion_lands_on_the_wrong_execution() -> None:
    sim = Simulation(registry(), policy="legacy")
    sim.start("P", "OutlivingParent", 1)
    await sim.run(until_ms=sim.now_ms + 1000)
    sim.raise_event("P::sub::2", "release", "late")
    await sim.run(until_ms=sim.now_ms + 1000)
    parent = sim.instances["P"]
    assert parent.status == "Failed"
    assert parent.output == "nondeterministic: no matching schedule for sub-orchestration id=2"


async def test_foreign_terminal_instance_fails_the_parent_fast() -> None:
    sim = Simulation(registry())
    sim.start("pA", "ExplicitParent")
    await sim.run()
    assert sim.instances["pA"].output == '"pA"'
    sim.start("pB", "ExplicitParent")
    await sim.run()
    assert sim.instances["pB"].status == "Completed"
    assert sim.instances["pB"].output == (
        "\"failed: sub-orchestration instance id 'shared-child' already exists and is terminal\""
    )


async def test_legacy_foreign_terminal_instance_hangs_the_parent() -> None:
    sim = Simulation(registry(), policy="legacy")
    sim.start("pA", "ExplicitParent")
    await sim.run()
    sim.start("pB", "ExplicitParent")
    await sim.run()
    assert sim.instances["pB"].status == "Running"


async def test_redelivered_start_of_a_completed_child_leaves_the_parent_alone() -> None:
    sim = Simulation(registry())
    sim.start("P", "CanParent", 3)
    await sim.run()
    assert sim.instances["P"].status == "Completed"
    parent_events = len(sim.history("P"))
    started = sim.history("P::sub::2")[0]
    assert isinstance(started, OrchestrationStarted)
    sim.enqueue(
        StartOrchestration(
            instance="P::sub::2",
            orchestration="Child",
            input=started.input,
            parent_instance="P",
            parent_id=2,
            parent_execution_id=1,
        )
    )
    await sim.run()
    assert sim.pending() == []
    assert len(sim.history("P")) == parent_events
    last = sim.turns[-1]
    assert last.instance == "P::sub::2"
    assert last.result == "discarded"
    assert last.sent == ()
    assert "redelivered" in last.messages[0].reason


@pytest.mark.parametrize(("policy", "status"), [("fixed", "Completed"), ("legacy", "Running")])
async def test_fresh_process_routes_the_child_completion(policy: Any, status: str) -> None:
    """The child completes in a "process" that never ran the parent (empty map)."""
    sim = Simulation(registry(), policy=policy)
    sim.start("P", "SecondExecutionWaiter", 1)
    await sim.run(until_ms=sim.now_ms + 100)
    assert sim.instances["P"].current_execution_id == 2
    sim.known_executions.clear()  # a fresh process knows nothing of P
    child = "P::sub::2_2" if policy == "fixed" else "P::sub::2"
    assert f"P::{scheduled_children(sim, 'P')[-1]}" == child
    sim.raise_event(child, "release", "done")
    await sim.run(until_ms=sim.now_ms + 100)
    assert sim.instances["P"].status == status
    verdicts = [
        v.verdict
        for t in sim.turns
        if t.instance == "P"
        for v in t.messages
        if isinstance(v.message, SubOrchCompleted)
    ]
    assert verdicts == (["applied"] if policy == "fixed" else ["filtered"])


@pytest.mark.parametrize("bad", ["sub::9", "tenant::sub::99", "x::sub::"])
def test_client_rejects_reserved_root_ids(bad: str) -> None:
    sim = Simulation(registry())
    with pytest.raises(ReservedInstanceIdError, match="reserved sub-orchestration marker"):
        sim.start(bad, "CanParent", 1)


def test_plain_double_colon_is_a_valid_root_id() -> None:
    sim = Simulation(registry())
    sim.start("tenant::job-1", "CanParent", 3)
    assert len(sim.pending()) == 1


async def test_parent_cancel_cascades_to_children() -> None:
    reg = registry()

    def waiting_parent(ctx: Any, _: Any) -> Any:
        result = yield ctx.schedule_sub_orchestration("SlowChild", 1)
        return result

    reg.add_orchestration("WaitingParent", waiting_parent)
    sim = Simulation(reg)
    sim.start("W", "WaitingParent")
    await sim.run()
    sim.cancel("W", "stop")
    await sim.run()
    assert sim.instances["W"].status == "Failed"
    assert sim.instances["W"].output == "canceled: stop"
    assert sim.instances["W::sub::2"].output == "canceled: parent canceled"
    # The child's failure reached a terminal parent and was discarded.
    last_parent_turn = [t for t in sim.turns if t.instance == "W"][-1]
    assert last_parent_turn.result == "discarded"
    assert isinstance(last_parent_turn.messages[0].message, SubOrchFailed)
