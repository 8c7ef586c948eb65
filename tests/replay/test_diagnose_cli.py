"""The ``durascope diagnose`` contract (DESIGN.md "Command line" and "Findings vocabulary").

``--json`` prints exactly one JSON object, ``{"findings": [...]}``, each finding with
the fields DESIGN.md lists; the exit code is 1 when any finding is an error and 0
otherwise (only warnings or info, or nothing at all); ``--instance`` keeps the
findings about that instance's tree; bad input is one line on stderr and exit 2.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from durascope.cli import main
from durascope.replay import Timeline, open_model, select_tree

FIXTURE_STORE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios.db"
FIXTURE_INSTANCES = 33  # the built-in scenarios, one store (python fixtures/generate.py)

KINDS = {
    "filtered_notification",
    "misrouted_notification",
    "child_id_collision",
    "stuck_parent",
    "nondeterminism",
    "orphan_message",
    "undelivered_event",
    "duplicate_notification",
    "never_dispatched",
}
DESIGN_FIELDS = {
    "kind",
    "severity",
    "instance",
    "execution",
    "event_id",
    "related",
    "message",
    "evidence",
}
EXTRA_FIELDS = {"type", "turn"}
"""Also present: the model's tag and the 1-based turn the finding shows at."""


def diagnose(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["diagnose", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def findings_of(stdout: str) -> list[dict[str, Any]]:
    assert stdout.endswith("\n") and stdout.count("\n") == 1  # one line, one object
    doc = json.loads(stdout)
    assert isinstance(doc, dict) and list(doc) == ["findings"]
    assert isinstance(doc["findings"], list)
    return doc["findings"]


def check_finding(f: dict[str, Any]) -> None:
    assert set(f) == DESIGN_FIELDS | EXTRA_FIELDS, set(f) ^ (DESIGN_FIELDS | EXTRA_FIELDS)
    assert f["kind"] in KINDS
    assert f["severity"] in ("error", "warning", "info")
    assert isinstance(f["instance"], str) and f["instance"]
    assert f["execution"] is None or (isinstance(f["execution"], int) and f["execution"] >= 1)
    assert f["event_id"] is None or isinstance(f["event_id"], int)
    assert isinstance(f["message"], str) and f["message"] and "\n" not in f["message"]
    assert f["evidence"] in ("captured", "inferred")
    assert f["turn"] is None or (isinstance(f["turn"], int) and f["turn"] >= 1)
    assert isinstance(f["related"], list)
    for ref in f["related"]:
        assert set(ref) == {"role", "instance", "execution", "event_id"}
        assert isinstance(ref["role"], str) and isinstance(ref["instance"], str)


def opened_line(store: Path, instances: int) -> str:
    """What every command says on stderr about its input, and nothing else."""
    return f"durascope: opened durascope store {store} ({instances} instances)\n"


def test_json_is_exactly_the_findings_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = diagnose([str(FIXTURE_STORE), "--json"], capsys)
    assert err == opened_line(FIXTURE_STORE, FIXTURE_INSTANCES)
    findings = findings_of(out)
    for f in findings:
        check_finding(f)
    assert {f["severity"] for f in findings} == {"error", "warning", "info"}
    assert code == 1  # the fixture store holds the seed bugs, which are errors
    expected = {
        ("child_id_collision", "legacy-loop", 2, 2),
        ("stuck_parent", "legacy-loop", 2, 2),
        ("misrouted_notification", "legacy-supervisor", 2, 2),
        ("filtered_notification", "fixed-supervisor", 1, 2),
        ("nondeterminism", "deploy-approval", 1, 5),
    }
    assert expected <= {(f["kind"], f["instance"], f["execution"], f["event_id"]) for f in findings}


def test_exit_1_on_any_error_and_0_with_only_warnings_or_info(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cases = {
        "legacy-loop": 1,  # errors
        "fixed-supervisor": 0,  # one warning
        "fixed-collision-report-tue": 0,  # one warning
        "healthy-loop": 0,  # nothing
    }
    for instance, expected in cases.items():
        for extra in (["--json"], []):
            code, out, err = diagnose([str(FIXTURE_STORE), "--instance", instance, *extra], capsys)
            assert (code, err) == (expected, opened_line(FIXTURE_STORE, FIXTURE_INSTANCES)), (
                instance,
                extra,
            )
            if extra:
                severities = {f["severity"] for f in findings_of(out)}
                assert ("error" in severities) == (expected == 1)
    code, out, _ = diagnose([str(FIXTURE_STORE), "--instance", "healthy-loop", "--json"], capsys)
    assert out == '{"findings": []}\n'
    code, out, _ = diagnose([str(FIXTURE_STORE), "--instance", "healthy-loop"], capsys)
    assert out.splitlines() == ["no findings"]  # what was opened goes to stderr


def test_instance_keeps_the_findings_about_its_tree(capsys: pytest.CaptureFixture[str]) -> None:
    _, everything, _ = diagnose([str(FIXTURE_STORE), "--json"], capsys)
    all_findings = findings_of(everything)
    model = open_model(FIXTURE_STORE)
    try:
        for instance in ("legacy-collision-report-tue", "legacy-supervisor", "deploy-approval"):
            tree = set(select_tree(model, instance))
            _, out, _ = diagnose([str(FIXTURE_STORE), "--json", "--instance", instance], capsys)
            kept = findings_of(out)
            assert kept, instance
            about_tree = [
                f
                for f in all_findings
                if f["instance"] in tree or any(r["instance"] in tree for r in f["related"])
            ]
            assert kept == about_tree, instance
            assert len(kept) < len(all_findings)
    finally:
        model.close()


def test_turn_is_the_one_the_text_the_journal_and_the_tui_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``turn`` is 1-based in the JSON too: the text's "(turn 3)" is the journal's turn 3."""
    _, out, _ = diagnose([str(FIXTURE_STORE), "--json", "--instance", "legacy-loop"], capsys)
    findings = findings_of(out)
    _, text, _ = diagnose([str(FIXTURE_STORE), "--instance", "legacy-loop"], capsys)
    model = open_model(FIXTURE_STORE)
    try:
        timeline = Timeline.of(model.instance("legacy-loop"))
    finally:
        model.close()
    assert findings and timeline.evidence == "captured"
    for f in findings:
        turn = timeline.turns[f["turn"] - 1]
        assert (turn.number, turn.execution_id) == (f["turn"], f["execution"])
        assert f["event_id"] in {e.event_id for e in turn.delta}
        assert f"#{f['execution']} event {f['event_id']} (turn {f['turn']})" in text


def test_a_healthy_store_exits_0_with_no_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from durascope.scenarios import run_scenarios

    store = tmp_path / "healthy.db"
    asyncio.run(run_scenarios(store, ["healthy-loop", "fanout-checkout"]))
    code, out, err = diagnose([str(store), "--json"], capsys)
    assert (code, err) == (0, opened_line(store, 4))
    # fanout-checkout fails on purpose (an activity raises): a failure is not a finding.
    assert findings_of(out) == []


def test_an_inferred_store_reports_inferred_evidence(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("duroxide", reason="the real duroxide package writes these stores")
    from tests.replay.duroxide_stores import generate

    stores = generate(tmp_path_factory.mktemp("duroxide"), ["healthy", "can_children"])
    code, out, _ = diagnose([str(stores["healthy"]), "--json"], capsys)
    assert (code, findings_of(out)) == (0, [])
    code, out, _ = diagnose([str(stores["pre_fix_shape"]), "--json"], capsys)
    findings = findings_of(out)
    assert code == 1
    assert {f["evidence"] for f in findings} == {"inferred"}
    assert "child_id_collision" in {f["kind"] for f in findings}
    for f in findings:
        check_finding(f)
    _, text, _ = diagnose([str(stores["pre_fix_shape"])], capsys)
    assert "(inferred from history: this store has no turn journal)" in text


def test_a_queued_orphan_is_inferred_from_the_queue_not_from_a_missing_journal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, text, _ = diagnose([str(FIXTURE_STORE)], capsys)
    assert code == 1
    ghost = text.split("orphan_message           queued-ghost\n", 1)[1].splitlines()[:2]
    assert ghost[1] == "        (inferred from the store's queue: no turn has taken this message)"
    assert "no turn journal" not in text  # this store has one


@pytest.mark.parametrize(
    ("instance", "severity"),
    [
        ("queued-ghost", "warning"),  # a message still queued for a missing instance
        ("orphan-does-not-exist", "info"),  # one a captured turn discarded
    ],
)
def test_instance_selects_the_findings_about_an_id_only_messages_name(
    instance: str, severity: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, everything, _ = diagnose([str(FIXTURE_STORE), "--json"], capsys)
    about_it = [f for f in findings_of(everything) if f["instance"] == instance]
    assert [(f["kind"], f["severity"]) for f in about_it] == [("orphan_message", severity)]
    code, out, err = diagnose([str(FIXTURE_STORE), "--json", "--instance", instance], capsys)
    assert (code, err) == (0, opened_line(FIXTURE_STORE, FIXTURE_INSTANCES))
    assert findings_of(out) == about_it
    code, text, _ = diagnose([str(FIXTURE_STORE), "--instance", instance], capsys)
    assert code == 0 and text.startswith(
        f"{severity.upper():<7} orphan_message           {instance}\n"
    )


@pytest.mark.parametrize(
    ("delete", "because"),
    [
        ("", "the turn journal has no turns of this instance"),
        ("AND turn = 3", "the turn journal does not cover all of this instance's history"),
    ],
)
def test_an_instance_the_journal_does_not_cover_says_so(
    delete: str, because: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "partial.db"
    shutil.copy(FIXTURE_STORE, store)
    with sqlite3.connect(store) as conn:
        conn.execute(f"DELETE FROM turns WHERE instance_id = 'legacy-loop' {delete}")
    conn.close()
    _, text, _ = diagnose([str(store), "--instance", "legacy-loop"], capsys)
    assert "child_id_collision" in text
    # Every finding is inferred, the journal's own warning about the gap included.
    headings = re.findall(r"^(?:ERROR|WARNING|INFO) ", text, re.MULTILINE)
    assert len(headings) >= 2
    assert text.count(f"        (inferred from history: {because})\n") == len(headings)


@pytest.mark.parametrize(
    "argv",
    [
        ["/nonexistent/store.db"],
        [str(FIXTURE_STORE), "--instance", "no-such-instance"],
        [str(FIXTURE_STORE), "--instance", "no-such-instance", "--json"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = diagnose(argv, capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("durascope: error: ")


def test_the_installed_command_keeps_the_contract() -> None:
    """The same through a real process: stdout is the JSON, the exit code gates CI."""
    proc = subprocess.run(
        [sys.executable, "-m", "durascope.cli", "diagnose", str(FIXTURE_STORE), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1 and proc.stderr == opened_line(FIXTURE_STORE, FIXTURE_INSTANCES)
    assert findings_of(proc.stdout)


@pytest.mark.parametrize(
    ("instance", "summary"),
    [
        ("deploy-approval", "1 error, 0 warnings, 0 info"),
        ("fixed-supervisor", "0 errors, 1 warning, 0 info"),
        ("legacy-shipper", "1 error, 1 warning, 0 info"),
        ("legacy-loop", "2 errors, 0 warnings, 0 info"),
        ("redelivery-books", "0 errors, 0 warnings, 1 info"),
    ],
)
def test_the_summary_line_counts_in_english(
    instance: str, summary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = diagnose([str(FIXTURE_STORE), "--instance", instance], capsys)
    assert out.splitlines()[-1] == summary
