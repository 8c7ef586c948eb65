"""The built-in scenarios behind the less common findings, with their evidence.

Each runs on durascope's runtime (captured: the turn journal says what happened)
and is diagnosed again on a journal-free copy (inferred from history alone):

- ``early-event``: an approval raised before the wait, ``undelivered_event``;
- ``final-turn-child``: a child scheduled in the turn that ends its parent,
  ``never_dispatched`` (and the cancel of that never-started child is an orphan);
- ``redelivered-completion``: an activity's failure report delivered twice,
  ``duplicate_notification``.  durascope recognises the second one and drops it,
  which leaves no trace in history: a journal-free copy cannot see it (and says
  nothing false about it).  The same scenario on the real duroxide runtime records
  the failure twice, which is the inferred evidence;
- ``legacy-misrouted-relay``: a stale child's completion resolves another child's
  schedule, a ``misrouted_notification`` whose verdict was ``applied``;
- ``legacy-lost-completion``: a child's completion addressed to its parent's old
  execution is filtered, and the parent is a ``stuck_parent``;
- ``queued-orphan``: an event for a missing instance, still queued on a durascope store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from durascope.history import CancelInstance, ExternalRaised, SubOrchCompleted
from durascope.replay import Finding, Model, Timeline, diagnose, load_user_code, open_model
from durascope.replay import reexecute as reexecute_instance
from tests.replay.journal_free import without_journal

SCENARIO_CODE = """
from durascope.scenarios import SCENARIOS


def register(runtime):
    for scenario in SCENARIOS:
        scenario.register(runtime)
"""


@pytest.fixture(scope="module")
def findings(scenario_store: Path) -> Iterator[tuple[Model, list[Finding], list[Finding]]]:
    """The fresh scenario store, its findings, and the findings of a journal-free copy."""
    model = open_model(scenario_store)
    model.load_all()
    yield model, diagnose(model), diagnose(without_journal(model))
    model.close()


def about(findings: list[Finding], kind: str, instance: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind and f.instance == instance]


def test_an_event_raised_before_the_wait_is_undelivered(
    findings: tuple[Model, list[Finding], list[Finding]],
) -> None:
    model, captured, inferred = findings
    window = model.instance("early-window")
    assert window.status == "Completed"
    assert window.output == '"window closed without an approval"'
    events = window.execution(1).events
    raised = next(e for e in events if e.type == "ExternalEvent")
    subscribed = next(e for e in events if e.type == "ExternalSubscribed")
    assert raised.event_id < subscribed.event_id  # it came before anyone waited
    for found, evidence in ((captured, "captured"), (inferred, "inferred")):
        [f] = about(found, "undelivered_event", "early-window")
        assert (f.severity, f.execution, f.event_id, f.evidence) == (
            "warning",
            1,
            raised.event_id,
            evidence,
        )
        assert "'approve'" in f.message
        assert f.turn is not None


def test_a_child_scheduled_in_the_final_turn_is_never_dispatched(
    findings: tuple[Model, list[Finding], list[Finding]],
) -> None:
    model, captured, inferred = findings
    parent = model.instance("final-dispatch")
    assert parent.status == "Completed"
    scheduled = next(e for e in parent.execution(1).events if e.type == "SubOrchestrationScheduled")
    child = f"final-dispatch::{scheduled.instance}"  # type: ignore[union-attr]
    assert child not in model.instances
    final = Timeline.of(parent).turns[-1]
    assert final.result == "completed"
    assert scheduled in final.delta
    # The final turn started no child; it only cancelled the future it dropped.
    assert [s.item for s in final.sent] == [
        CancelInstance(instance=child, reason="parent dropped sub-orchestration future")
    ]
    for found, evidence in ((captured, "captured"), (inferred, "inferred")):
        [f] = about(found, "never_dispatched", "final-dispatch")
        assert (f.severity, f.execution, f.event_id, f.evidence) == (
            "warning",
            1,
            scheduled.event_id,
            evidence,
        )
        assert f.turn == final.index + 1
    # The dropped future's cancel went to a child that never existed: discarded, journaled.
    [orphan] = about(captured, "orphan_message", child)
    assert (orphan.severity, orphan.evidence) == ("info", "captured")


def test_a_redelivered_completion_is_a_captured_duplicate(
    findings: tuple[Model, list[Finding], list[Finding]],
) -> None:
    model, captured, inferred = findings
    books = model.instance("redelivery-books")
    assert books.status == "Completed"
    [f] = about(captured, "duplicate_notification", "redelivery-books")
    assert (f.severity, f.execution, f.evidence) == ("info", 1, "captured")
    assert f.turn is not None
    turn = Timeline.of(books).turns[f.turn - 1]
    assert [(type(v.message).__name__, v.verdict, v.reason) for v in turn.messages] == [
        ("ActivityFailedItem", "duplicate", "duplicate in history")
    ]
    assert turn.delta == ()
    # Without the journal the dropped redelivery has left no trace, and nothing false is said.
    assert [g for g in inferred if g.instance == "redelivery-books"] == []
    assert [g for g in captured if g.instance == "redelivery-books"] == [f]


def test_the_same_redelivery_on_duroxide_is_an_inferred_duplicate(tmp_path: Path) -> None:
    pytest.importorskip("duroxide", reason="the real duroxide package writes this store")
    from tests.replay.duroxide_redelivery import generate

    model = open_model(generate(tmp_path / "redelivery.db"))
    try:
        found = diagnose(model)
        [dup] = about(found, "duplicate_notification", "redelivery-books")
        events = model.instance("redelivery-books").execution(1).events
        twice = [e.event_id for e in events if e.type == "ActivityFailed"]
        assert len(twice) == 2
        assert (dup.severity, dup.execution, dup.event_id, dup.evidence) == (
            "warning",
            1,
            twice[1],
            "inferred",
        )
        # duroxide then failed the turn; re-executing says that is a redelivery, not code.
        code = tmp_path / "code.py"
        code.write_text(SCENARIO_CODE)
        divergence = reexecute_instance(model, "redelivery-books", load_user_code(code)).divergence
        assert divergence is not None and divergence.recorded_event is not None
        assert divergence.recorded_event.event_id == twice[1]
        assert "this is not a change of code" in divergence.summary()
    finally:
        model.close()


def test_a_misrouted_completion_applied_to_another_childs_schedule(
    findings: tuple[Model, list[Finding], list[Finding]],
) -> None:
    model, captured, _ = findings
    relay = model.instance("legacy-relay")
    assert relay.status == "Completed"
    # The first child's answer came back in place of the second child's.
    assert relay.output is not None and "from the first child" in relay.output
    [f] = about(captured, "misrouted_notification", "legacy-relay")
    assert (f.severity, f.execution, f.event_id, f.evidence) == ("error", 2, 2, "captured")
    assert ("sent by", "legacy-relay::sub::2") in {(r.role, r.instance) for r in f.related}
    assert f.turn is not None
    turn = Timeline.of(relay).turns[f.turn - 1]
    [verdict] = [v for v in turn.messages if isinstance(v.message, SubOrchCompleted)]
    assert verdict.verdict == "applied"
    assert verdict.message.parent_execution_id == 2
    assert "legacy-relay-second" in f.message


def test_the_misroute_is_inferred_from_the_result_and_not_called_filtered(
    findings: tuple[Model, list[Finding], list[Finding]],
) -> None:
    """From history alone: schedule 2 of execution 2 got the first child's output."""
    _, _, inferred = findings
    [f] = about(inferred, "misrouted_notification", "legacy-relay")
    assert (f.severity, f.execution, f.event_id, f.evidence) == ("error", 2, 2, "inferred")
    assert ("sent by", "legacy-relay::sub::2") in {(r.role, r.instance) for r in f.related}
    assert f.message == (
        "schedule 2 of execution 2 (child legacy-relay-second) received child "
        "legacy-relay::sub::2's result, not the one its child returned"
    )
    # The first child's completion was not dropped: it landed on the wrong schedule.
    assert about(inferred, "filtered_notification", "legacy-relay") == []


def test_a_parent_stuck_because_its_childs_completion_was_dropped(
    findings: tuple[Model, list[Finding], list[Finding]],
) -> None:
    model, captured, inferred = findings
    shipper = model.instance("legacy-shipper")
    assert (shipper.status, shipper.current_execution_id) == ("Running", 2)
    child = model.instance("legacy-shipper::sub::2")
    assert child.status == "Completed"
    # The journal shows the completion, addressed to execution 1, filtered in execution 2.
    verdicts = [
        v
        for t in Timeline.of(shipper).turns
        for v in t.messages
        if isinstance(v.message, SubOrchCompleted)
    ]
    assert [(v.verdict, v.message.parent_execution_id) for v in verdicts] == [("filtered", 1)]
    for found, evidence in ((captured, "captured"), (inferred, "inferred")):
        [f] = about(found, "stuck_parent", "legacy-shipper")
        assert (f.severity, f.execution, f.event_id, f.evidence) == ("error", 2, 2, evidence)
        assert ("waits on", "legacy-shipper::sub::2") in {(r.role, r.instance) for r in f.related}
    # The filtered completion is not a late one: execution 2 scheduled the child.
    [dropped] = about(captured, "filtered_notification", "legacy-shipper")
    assert (dropped.execution, dropped.event_id) == (1, 2)  # where it was addressed
    assert ("scheduled by", "legacy-shipper", 2, 2) in {
        (r.role, r.instance, r.execution, r.event_id) for r in dropped.related
    }
    assert dropped.message.startswith(
        "child legacy-shipper::sub::2, scheduled by execution 2 (event 2), sent its result to "
        "execution 1"
    )


def test_a_queued_orphan_on_a_durascope_store(
    findings: tuple[Model, list[Finding], list[Finding]],
) -> None:
    model, captured, _ = findings
    assert model.origin.kind == "durascope"
    assert "queued-ghost" not in model.instances
    [row] = [m for m in model.pending if m.instance_id == "queued-ghost"]
    assert isinstance(row.item, ExternalRaised) and row.queue == "orchestrator"
    [f] = about(captured, "orphan_message", "queued-ghost")
    # durascope discards an orphan when it reaches it: it does not block (a warning).
    assert (f.severity, f.execution) == ("warning", None)
    assert f"row {row.id}" in f.message and "blocks" not in f.message


def test_each_new_scenario_replays_with_its_own_code(
    findings: tuple[Model, list[Finding], list[Finding]], tmp_path: Path
) -> None:
    model, _, _ = findings
    code = tmp_path / "code.py"
    code.write_text(SCENARIO_CODE)
    registry = load_user_code(code)
    for instance in (
        "early-window",
        "final-dispatch",
        "redelivery-books",
        "legacy-relay",
        "legacy-relay-second",
        "legacy-shipper",
        "legacy-shipper::sub::2",
    ):
        result = reexecute_instance(model, instance, registry)
        assert result.divergence is None, (instance, result.divergence)
