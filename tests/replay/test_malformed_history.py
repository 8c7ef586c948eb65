"""Readable but damaged inputs are reported as ``malformed_history`` errors (diagnose exits 1)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from durascope.replay import Finding, Timeline, build_bundle, diagnose, open_model

ROOT = Path(__file__).resolve().parents[2]
TREE = "healthy-loop"
CHILD = "healthy-loop::sub::2"

Document = dict[str, Any]


@pytest.fixture(scope="module")
def tree_bundle(scenario_store: Path) -> Document:
    """The healthy loop's tree as a bundle document (no findings of its own)."""
    model = open_model(scenario_store)
    model.load_all()
    doc: Document = json.loads(build_bundle(model, instance_id=TREE).model_dump_json())
    model.close()
    return doc


def malformed(path: Path) -> list[Finding]:
    model = open_model(path)
    try:
        return [f for f in diagnose(model) if f.kind == "malformed_history"]
    finally:
        model.close()


def diagnose_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durascope.cli", "diagnose", str(path), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def write(tmp_path: Path, doc: Document, change: Callable[[Document], None]) -> Path:
    doc = json.loads(json.dumps(doc))
    change(doc)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(doc))
    return path


def events_of(doc: Document, instance: str, execution: int = 1) -> list[Document]:
    inst = next(i for i in doc["instances"] if i["instance_id"] == instance)
    ex = next(e for e in inst["executions"] if e["execution_id"] == execution)
    events: list[Document] = ex["events"]
    return events


def test_the_healthy_tree_is_not_malformed(tree_bundle: Document, tmp_path: Path) -> None:
    path = write(tmp_path, tree_bundle, lambda doc: None)
    assert malformed(path) == []
    proc = diagnose_cli(path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"findings": []}


def test_an_execution_without_its_start_is_an_error(tree_bundle: Document, tmp_path: Path) -> None:
    def drop_start(doc: Document) -> None:
        events = events_of(doc, CHILD)
        events[:] = [e for e in events if e["type"] != "OrchestrationStarted"]

    path = write(tmp_path, tree_bundle, drop_start)
    (finding,) = malformed(path)
    assert (finding.severity, finding.instance, finding.execution) == ("error", CHILD, 1)
    assert "has no OrchestrationStarted event" in finding.message
    proc = diagnose_cli(path)
    assert proc.returncode == 1, proc.stderr
    kinds = [f["kind"] for f in json.loads(proc.stdout)["findings"]]
    assert "malformed_history" in kinds


def test_an_unknown_event_type_is_an_error_naming_it(tree_bundle: Document, tmp_path: Path) -> None:
    def add_unknown(doc: Document) -> None:
        events = events_of(doc, TREE)
        last = events[-1]
        events.insert(
            len(events) - 1,
            {**{k: last[k] for k in ("instance_id", "execution_id", "timestamp_ms")},
             "event_id": last["event_id"], "source_event_id": None,
             "type": "FutureThing", "payload": "x"},
        )  # fmt: skip
        last["event_id"] += 1

    path = write(tmp_path, tree_bundle, add_unknown)
    (finding,) = malformed(path)
    assert (finding.instance, finding.execution, finding.severity) == (TREE, 1, "error")
    assert "'FutureThing'" in finding.message and finding.event_id is not None
    assert diagnose_cli(path).returncode == 1


def test_parent_links_that_loop_are_reported_once(tree_bundle: Document, tmp_path: Path) -> None:
    def loop(doc: Document) -> None:
        for inst in doc["instances"]:
            inst["parent_instance_id"] = CHILD if inst["instance_id"] == TREE else TREE

    path = write(tmp_path, tree_bundle, loop)
    findings = [f for f in malformed(path) if "loop" in f.message]
    assert len(findings) == 1
    (finding,) = findings
    assert finding.instance == TREE  # the smallest id of the loop
    assert [r.instance for r in finding.related] == [CHILD]
    assert finding.message == f"parent links form a loop: {TREE} -> {CHILD} -> {TREE}"
    assert diagnose_cli(path).returncode == 1


def test_a_deep_chain_is_walked_once_and_is_not_a_loop(
    tree_bundle: Document, tmp_path: Path
) -> None:
    def chain(doc: Document) -> None:
        template = next(i for i in doc["instances"] if i["instance_id"] == TREE)
        for n in range(3000):
            copy = json.loads(json.dumps(template))
            copy["instance_id"] = f"chain-{n:05d}"
            copy["parent_instance_id"] = f"chain-{n + 1:05d}" if n < 2999 else None
            for ex in copy["executions"]:
                for e in ex["events"]:
                    e["instance_id"] = copy["instance_id"]
            doc["instances"].append(copy)

    path = write(tmp_path, tree_bundle, chain)
    assert [f for f in malformed(path) if "loop" in f.message] == []


def test_an_undecodable_store_row_is_an_error(scenario_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    shutil.copy(scenario_store, db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE history SET event_data = '{not json' "
            "WHERE instance_id = ? AND execution_id = 1 AND event_id = 2",
            (TREE,),
        )
    conn.close()
    found = [f for f in malformed(db) if f.instance == TREE]
    assert [(f.execution, f.event_id, f.severity) for f in found] == [(1, 2, "error")]
    assert "does not decode" in found[0].message
    proc = diagnose_cli(db)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def store_copy(scenario_store: Path, tmp_path: Path, sql: str, *params: object) -> Path:
    """A copy of the scenario store with one statement applied."""
    db = tmp_path / "store.db"
    shutil.copy(scenario_store, db)
    conn = sqlite3.connect(db)
    with conn:
        assert conn.execute(sql, params).rowcount >= 1
    conn.close()
    return db


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durascope.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_a_current_execution_id_naming_no_execution_is_reported_on_that_instance_only(
    scenario_store: Path, tmp_path: Path
) -> None:
    db = store_copy(
        scenario_store,
        tmp_path,
        "UPDATE instances SET current_execution_id = 9 WHERE instance_id = 'fixed-supervisor'",
    )
    (finding,) = [f for f in malformed(db) if f.instance == "fixed-supervisor"]
    assert (finding.severity, finding.execution) == ("error", None)
    assert finding.message == (
        "the current execution id 9 names no execution (it has 1, 2); "
        "the highest, 2, is treated as current"
    )
    model = open_model(db)
    inst = model.instance("fixed-supervisor")
    assert (inst.current_execution_id, inst.status) == (2, "Completed")
    damaged = [f.model_dump() for f in diagnose(model, "legacy-loop")]
    model.close()
    healthy = open_model(scenario_store)
    assert damaged == [f.model_dump() for f in diagnose(healthy, "legacy-loop")]
    healthy.close()
    for args in (
        ("diagnose", db, "--instance", "legacy-loop"),
        ("render", db, "--instance", "legacy-loop", "-o", tmp_path / "loop.dot"),
        ("render", db, "--instance", "fixed-supervisor", "-o", tmp_path / "fixed.dot"),
        ("history", db, "--instance", "fixed-supervisor"),
    ):
        proc = cli(*args)
        assert proc.returncode in (0, 1) and "error:" not in proc.stderr, (args, proc.stderr)
    # An export carries the id as stated, so the bundle says the same.
    assert cli("export", db, "-o", tmp_path / "out.json").returncode == 0
    (again,) = [f for f in malformed(tmp_path / "out.json") if f.instance == "fixed-supervisor"]
    assert again.message == finding.message


def test_a_current_execution_id_naming_no_execution_in_a_duroxide_store(tmp_path: Path) -> None:
    pytest.importorskip("duroxide", reason="the real duroxide package writes duroxide stores")
    from tests.replay.duroxide_stores import generate

    made = generate(tmp_path / "raw", ["can_children"])["can_children"]
    db = tmp_path / "dx.db"
    source = sqlite3.connect(f"file:{made}?mode=ro", uri=True)
    target = sqlite3.connect(db)
    source.backup(target)
    source.close()
    with target:
        target.execute("PRAGMA journal_mode=DELETE")
        target.execute(
            "UPDATE instances SET current_execution_id = 9 WHERE instance_id = 'can-job'"
        )
    target.close()
    (finding,) = malformed(db)
    assert finding.instance == "can-job" and "current execution id 9 names no execution" in (
        finding.message
    )
    proc = cli("render", db, "--instance", "can-job", "-o", tmp_path / "job.dot")
    assert proc.returncode == 0, proc.stderr


def test_an_execution_held_twice_is_reported_and_its_copy_ignored(
    tree_bundle: Document, tmp_path: Path
) -> None:
    def repeat(doc: Document) -> None:
        inst = next(i for i in doc["instances"] if i["instance_id"] == TREE)
        inst["executions"].insert(1, json.loads(json.dumps(inst["executions"][0])))

    path = write(tmp_path, tree_bundle, repeat)
    model = open_model(path)
    assert [ex.execution_id for ex in model.instance(TREE).executions] == [1, 2, 3]
    findings = diagnose(model)
    model.close()
    (finding,) = findings  # in particular, no schedule colliding with itself
    assert (finding.kind, finding.instance, finding.execution) == ("malformed_history", TREE, 1)
    assert finding.message == (
        "execution 1 appears 2 times; the first copy is used and the others are ignored"
    )


def test_an_instance_held_twice_is_reported_and_its_copy_ignored(
    tree_bundle: Document, tmp_path: Path
) -> None:
    def repeat(doc: Document) -> None:
        index, inst = next(
            (n, i) for n, i in enumerate(doc["instances"]) if i["instance_id"] == TREE
        )
        copy = json.loads(json.dumps(inst))
        copy["status"] = "Failed"  # a later copy that says otherwise is not what is shown
        doc["instances"].insert(index + 1, copy)

    path = write(tmp_path, tree_bundle, repeat)
    model = open_model(path)
    assert model.instance(TREE).status != "Failed"
    findings = diagnose(model)
    model.close()
    (finding,) = findings
    assert (finding.kind, finding.instance, finding.execution) == ("malformed_history", TREE, None)
    assert finding.message == (
        "the instance appears 2 times; the first copy is used and the others are ignored"
    )


def test_events_naming_another_execution_are_reported_and_not_a_collision(
    tree_bundle: Document, tmp_path: Path
) -> None:
    def renumber(doc: Document) -> None:
        inst = next(i for i in doc["instances"] if i["instance_id"] == TREE)
        inst["executions"][0]["execution_id"] = 7  # its events still say execution 1

    path = write(tmp_path, tree_bundle, renumber)
    model = open_model(path)
    findings = diagnose(model)
    model.close()
    assert [f.kind for f in findings if f.kind != "malformed_history"] == []
    (finding,) = [f for f in findings if f.execution == 7]
    assert (finding.severity, finding.instance, finding.event_id) == ("error", TREE, 1)
    assert finding.message.startswith(
        f"4 of 4 events say they belong to {TREE}#1, not to {TREE}#7 that holds them"
    )
    assert "turns were inferred from history" in finding.message  # the journal says #1


def test_events_naming_another_instance_are_reported(tree_bundle: Document, tmp_path: Path) -> None:
    def move(doc: Document) -> None:
        events_of(doc, CHILD)[-1]["instance_id"] = "someone-else"

    path = write(tmp_path, tree_bundle, move)
    (finding,) = malformed(path)
    assert (finding.instance, finding.execution) == (CHILD, 1)
    assert finding.message.startswith("1 of ")
    assert "belong to someone-else#1, not to healthy-loop::sub::2#1" in finding.message


def _append_copy_of_first(events: list[Document]) -> None:
    events.append(json.loads(json.dumps(events[0])))


def _negative_id(events: list[Document]) -> None:
    events[2]["event_id"] = -5


def _swap(events: list[Document]) -> None:
    events[1], events[2] = events[2], events[1]


def _repeat_schedule(events: list[Document]) -> None:
    events.append(json.loads(json.dumps(events[1])))  # SubOrchestrationScheduled, id 2


@pytest.mark.parametrize(
    ("change", "event_id", "detail", "journal_lost"),
    [
        (_append_copy_of_first, 1, "(1 appears 2 times)", False),
        (_negative_id, -5, "(-5 is not a valid id, 3 is missing)", True),
        (_swap, None, "(they are out of order)", False),
        (_repeat_schedule, 2, "(2 appears 2 times)", False),
    ],
)
def test_event_ids_that_are_not_one_to_n_once_each_are_reported(
    tree_bundle: Document,
    tmp_path: Path,
    change: Callable[[list[Document]], None],
    event_id: int | None,
    detail: str,
    journal_lost: bool,
) -> None:
    path = write(tmp_path, tree_bundle, lambda doc: change(events_of(doc, TREE)))
    model = open_model(path)
    findings = diagnose(model)
    model.close()
    # A repeated schedule does not collide with itself: the damage is the whole story.
    assert [f.kind for f in findings] == ["malformed_history"]
    (finding,) = findings
    assert (finding.severity, finding.instance, finding.execution) == ("error", TREE, 1)
    assert finding.event_id == event_id
    count = len(events_of(tree_bundle, TREE)) + (
        change in (_append_copy_of_first, _repeat_schedule)
    )
    assert finding.message.startswith(
        f"event ids of execution 1 do not run 1..{count} in order, once each {detail}; "
    )
    assert ("turns were inferred from history" in finding.message) is journal_lost
    assert finding.evidence == ("inferred" if journal_lost else "captured")


def test_an_undecodable_turn_record_is_a_warning_naming_it(
    scenario_store: Path, tmp_path: Path
) -> None:
    db = store_copy(
        scenario_store,
        tmp_path,
        "UPDATE turns SET record = 'garbage' WHERE instance_id = 'legacy-relay' AND turn = 2",
    )
    (finding,) = [f for f in malformed(db) if f.instance == "legacy-relay"]
    assert (finding.severity, finding.execution, finding.evidence) == (
        "warning",
        None,
        "inferred",
    )
    assert finding.message == (
        "turn record 2 does not decode, so this instance's turns were inferred from history instead"
    )
    proc = cli("diagnose", db, "--instance", "legacy-relay")
    assert proc.returncode == 1 and "turn record 2 does not decode" in proc.stdout
    # The store has a journal: the note on inferred findings does not deny it.
    assert "no turn journal" not in proc.stdout
    assert "(inferred from history: a turn record of this instance does not decode)" in proc.stdout


def test_a_journal_missing_a_turn_is_a_warning_naming_what_it_leaves_out(
    scenario_store: Path, tmp_path: Path
) -> None:
    db = store_copy(
        scenario_store, tmp_path, "DELETE FROM turns WHERE instance_id = ? AND turn = 2", TREE
    )
    (finding,) = [f for f in malformed(db) if f.instance == TREE]
    assert finding.severity == "warning" and finding.evidence == "inferred"
    assert finding.message.startswith("the captured turns leave out execution 1 event ")
    assert finding.message.endswith(", so this instance's turns were inferred from history instead")


def _turns_of(doc: Document) -> list[Document]:
    inst = next(i for i in doc["instances"] if i["instance_id"] == TREE)
    turns: list[Document] = inst["turns"]
    return turns


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (
            lambda turns: turns.append(json.loads(json.dumps(turns[0]))),
            "execution 1 event 1, execution 1 event 2 are in the delta of more than one turn",
        ),
        (
            lambda turns: [t.update(turn=t["turn"] + 5) for t in turns],
            "not numbered 1..6 once each (1, 2, 3 and 2 more are missing, "
            "7, 8, 9 and 2 more are outside 1..6)",
        ),
        (
            lambda turns: turns[0].update(turn=0),
            "not numbered 1..6 once each (1 is missing, 0 is outside 1..6)",
        ),
        (
            lambda turns: turns.insert(0, turns.pop(1)),
            "not numbered 1..6 once each (they are out of order)",
        ),
    ],
    ids=["repeated", "renumbered", "turn-zero", "out-of-order"],
)
def test_repeated_or_misnumbered_turn_records_are_a_warning_and_turns_are_inferred(
    tree_bundle: Document,
    tmp_path: Path,
    change: Callable[[list[Document]], object],
    detail: str,
) -> None:
    assert [t["turn"] for t in _turns_of(tree_bundle)] == [1, 2, 3, 4, 5, 6]
    path = write(tmp_path, tree_bundle, lambda doc: change(_turns_of(doc)))
    (finding,) = [f for f in malformed(path) if f.instance == TREE]
    assert (finding.severity, finding.evidence) == ("warning", "inferred")
    assert detail in finding.message
    assert finding.message.endswith("so this instance's turns were inferred from history instead")
    model = open_model(path)
    timeline = Timeline.of(model.instance(TREE))
    model.close()
    # The inferred turns are numbered as Finding.turn counts them, 1..n.
    assert [t.number for t in timeline.turns] == list(range(1, len(timeline.turns) + 1))
    proc = cli("diagnose", path, "--instance", TREE)
    assert "(inferred from history: this instance's turn records are repeated or misnumbered)" in (
        proc.stdout
    )


def test_a_huge_event_id_is_one_gap_not_a_list_of_every_id_below_it(
    tree_bundle: Document, tmp_path: Path
) -> None:
    def huge_id(doc: Document) -> None:
        events_of(doc, TREE)[-1]["event_id"] = 10**12

    path = write(tmp_path, tree_bundle, huge_id)
    proc = diagnose_cli(path)  # listing every missing id ran out of memory (exit 3)
    assert proc.returncode == 1, proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    assert (finding["kind"], finding["instance"]) == ("malformed_history", TREE)
    last = len(events_of(tree_bundle, TREE))
    more = 10**12 - last - 3
    assert f"({last}, {last + 1}, {last + 2} and {more} more are missing)" in finding["message"]
