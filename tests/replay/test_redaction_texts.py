"""``export --redact`` and free texts: error messages, failed outputs, reasons, tracebacks.

User code and the runtime quote payloads in text (a nondeterminism message renders
the diverging action with its input, a failure carries its traceback with absolute
source paths, a poison error the whole work item).  Redaction replaces those texts
and keeps what diagnosis reads: error variants and kinds, the runtime's own texts
of ids, names and ids everywhere.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from durascope.history import (
    OrchestrationFailed,
    PoisonError,
    PoisonFailedDeserialization,
    PoisonOrchestration,
    TurnRecord,
    display_message,
    nondeterminism_error,
)
from durascope.replay import Model, build_bundle, open_model, write_bundle
from durascope.replay._redact import Redactor
from tests.reliability.hostile import check_clean, run_cli
from tests.replay.redaction_checks import (
    RUNTIME_TEXT,
    bundle_haystack,
    finding_keys,
    leaked,
    payload_strings,
    source_files,
)
from tests.replay.test_redaction import MARKER

ROOT = Path(__file__).resolve().parents[2]


def export_text(path: Path, out: Path, *extra: str) -> str:
    args = ["export", str(path), "-o", str(out), *extra]
    code, stdout, stderr = run_cli(args)
    check_clean(args, code, stdout, stderr)
    assert code == 0, stderr
    return gzip.decompress(out.read_bytes()).decode()


def check_redacted(source: Path, tmp_path: Path, *extra: str) -> dict[str, Any]:
    """No payload of ``source`` in its redacted export, and diagnosis finds the same."""
    out = tmp_path / "redacted.json.gz"
    text = export_text(source, out, "--redact", *extra)
    model = open_model(source)
    redacted = open_model(out)
    try:
        assert payload_strings(model)  # the check has something to look for
        assert leaked(model, text) == []
        haystack = bundle_haystack(text)
        assert "Traceback (most recent call last)" not in haystack
        assert not [f for f in source_files(model) if f in haystack]
        assert str(ROOT) not in haystack and str(source.parent) not in haystack
        if not extra:
            assert finding_keys(redacted) == finding_keys(model)
    finally:
        model.close()
        redacted.close()
    doc: dict[str, Any] = json.loads(text)
    return doc


def test_no_payload_survives_in_error_texts_of_the_scenarios(
    scenario_store: Path, tmp_path: Path
) -> None:
    model = open_model(scenario_store)
    try:
        assert [f for f in source_files(model) if f.startswith(str(ROOT))]  # tracebacks there
        plain = build_bundle(model).model_dump_json()
        assert "order-17" in plain and "awaiting approval" in plain
    finally:
        model.close()
    doc = check_redacted(scenario_store, tmp_path)
    assert doc["origin"]["source_path"] == scenario_store.name


@pytest.mark.parametrize("instance", ["deploy-approval", "fanout-checkout", "cancel-pipeline"])
def test_a_redacted_tree_leaks_nothing_either(
    scenario_store: Path, tmp_path: Path, instance: str
) -> None:
    check_redacted(scenario_store, tmp_path, f"--instance={instance}")


@pytest.fixture(scope="module")
def duroxide_failures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("duroxide", reason="the real duroxide package writes these stores")
    from tests.replay.duroxide_stores import generate

    names = ["nondeterminism", "explicit_collision", "cancelled_tree"]
    return generate(tmp_path_factory.mktemp("duroxide-failures"), names)


@pytest.mark.parametrize("name", ["nondeterminism", "explicit_collision", "cancelled_tree"])
def test_no_payload_survives_in_error_texts_of_duroxide_stores(
    duroxide_failures: dict[str, Path], name: str, tmp_path: Path
) -> None:
    check_redacted(duroxide_failures[name], tmp_path)


def _failures(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (inst["instance_id"], e["details"])
        for inst in doc["instances"]
        for x in inst["executions"]
        for e in x["events"]
        if "details" in e
    ]


def _shape(details: dict[str, Any]) -> tuple[str, Any]:
    """An error's variant and kind (a cancellation's kind without its reason)."""
    ((variant, inner),) = details.items()
    kind = inner.get("kind")
    return variant, sorted(kind) if isinstance(kind, dict) else kind


def test_errors_keep_their_kind_and_lose_their_message(tmp_path: Path) -> None:
    """The committed bundle: every error keeps its variant and kind, not its text."""
    from tests.reliability.hostile import FIXTURE

    plain = json.loads(export_text(FIXTURE, tmp_path / "p.json.gz"))
    red = json.loads(export_text(FIXTURE, tmp_path / "r.json.gz", "--redact"))
    pairs = list(zip(_failures(plain), _failures(red), strict=True))
    assert len(pairs) >= 8
    kept = 0
    for (_, before), (_, after) in pairs:
        assert _shape(after) == _shape(before)
        ((_, b),) = before.items()
        ((_, a),) = after.items()
        message = b.get("message")
        if message and RUNTIME_TEXT.fullmatch(message):
            assert a["message"] == message  # ids only, and diagnosis parses it
            kept += 1
        elif message:
            assert MARKER.fullmatch(a["message"])
    assert kept >= 2  # a misrouted completion and a failed-fast child start
    reasons = {
        e["reason"]: r["reason"]
        for pi, ri in zip(plain["instances"], red["instances"], strict=True)
        for px, rx in zip(pi["executions"], ri["executions"], strict=True)
        for e, r in zip(px["events"], rx["events"], strict=True)
        if "reason" in e
    }
    assert reasons["dropped_future"] == "dropped_future"
    assert reasons["parent canceled"] == "parent canceled"
    assert MARKER.fullmatch(reasons["operator aborted the run"])  # a client's own words


def test_failed_outputs_are_the_redacted_errors_display_text(
    scenario_store: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.json.gz"
    model = open_model(scenario_store)
    try:
        write_bundle(build_bundle(model, redact=True), out)
    finally:
        model.close()
    redacted = open_model(out)
    try:
        inst = redacted.instance("deploy-approval")
        ex = inst.execution(1)
        failed = next(e for e in ex.events if isinstance(e, OrchestrationFailed))
        assert inst.output == ex.output == display_message(failed.details)
        assert ex.output is not None and ex.output.startswith("nondeterministic: <redacted ")
        (turn,) = [t for t in inst.turns if t.result == "failed"]
        assert turn.output == ex.output
        cancelled = redacted.instance("cancel-pipeline").execution(1).output
        assert cancelled is not None and cancelled.startswith("canceled: <redacted ")
        checkout = redacted.instance("fanout-checkout").output
        assert checkout is not None and MARKER.fullmatch(checkout)  # a traceback, all text
    finally:
        redacted.close()


def test_every_verdict_reason_of_the_scenarios_is_runtime_vocabulary(
    scenario_model: Model,
) -> None:
    """The reasons the engine writes survive; a reason it starts writing later is caught here."""
    redactor = Redactor(frozenset(scenario_model.instances))
    for inst in scenario_model.instances.values():
        for turn in inst.turns:
            again = redactor.turn(turn, inst.execution(turn.execution_id).events)
            assert [v.reason for v in again.messages] == [v.reason for v in turn.messages]


def _turn(reason: str, output: str | None = None) -> TurnRecord:
    return TurnRecord.model_validate(
        {
            "instance": "i",
            "execution_id": 1,
            "turn": 1,
            "timestamp_ms": 0,
            "messages": [
                {
                    "message": {"CancelInstance": {"instance": "i", "reason": "r"}},
                    "verdict": "aborted",
                    "reason": reason,
                }
            ],
            "result": "failed" if output else "continue",
            "output": output,
        }
    )


def test_verdict_reasons_quoting_a_text_keep_only_their_prefix() -> None:
    redactor = Redactor(frozenset({"i"}))
    decode = "history could not be decoded: expected value at line 1: s3cr3t"
    (verdict,) = redactor.turn(_turn(decode), ()).messages
    prefix, rest = verdict.reason.split(": ", 1)
    assert prefix == "history could not be decoded" and MARKER.fullmatch(rest)
    diverged = "nondeterminism: custom status mismatch: s3cr3t"
    (verdict,) = redactor.turn(_turn(diverged), ()).messages
    assert verdict.reason.startswith("nondeterminism: <redacted ")
    (verdict,) = redactor.turn(_turn("someday a new reason"), ()).messages
    assert MARKER.fullmatch(verdict.reason)
    misroute = "nondeterminism: no matching schedule for sub-orchestration id=2"
    assert redactor.turn(_turn(misroute), ()).messages[0].reason == misroute
    # A failed turn whose output is no failure of its events: a marker, not kept.
    assert MARKER.fullmatch(redactor.turn(_turn(misroute, "s3cr3t"), ()).output or "")


def test_poison_errors_keep_counts_and_ids_and_lose_the_work_items() -> None:
    batch = '[{"ExternalRaised":{"instance":"i","name":"go","data":"s3cr3t-data"}}]'
    events = [
        OrchestrationFailed(
            event_id=3,
            instance_id="i",
            details=PoisonError(
                attempt_count=4,
                max_attempts=3,
                message_type=PoisonOrchestration(instance="i", execution_id=1),
                message=batch,
            ),
        ),
        OrchestrationFailed(
            event_id=99999,
            instance_id="i",
            details=PoisonError(
                attempt_count=4,
                max_attempts=3,
                message_type=PoisonFailedDeserialization(
                    instance="i", execution_id=1, error="bad row s3cr3t-row"
                ),
                message="bad row s3cr3t-row",
            ),
        ),
        OrchestrationFailed(
            event_id=4, instance_id="i", details=nondeterminism_error("input: s3cr3t-input")
        ),
    ]
    redacted = Redactor(frozenset({"i"})).events(events)
    text = json.dumps([e.model_dump(mode="json") for e in redacted])
    assert "s3cr3t" not in text
    first, second, third = (e.details for e in redacted)  # type: ignore[attr-defined]
    assert (first.attempt_count, first.max_attempts, first.message_type) == (
        4,
        3,
        PoisonOrchestration(instance="i", execution_id=1),
    )
    assert display_message(first) == "poison: orchestration i exceeded 4 attempts (max 3)"
    assert MARKER.fullmatch(first.message) and MARKER.fullmatch(second.message_type.error)
    assert (third.kind, third.resource) == ("Nondeterminism", "")


def test_a_collision_message_is_kept_only_for_an_instance_of_the_store() -> None:
    text = "sub-orchestration instance id '{}' already exists and is terminal"
    details = nondeterminism_error(text.format("card 4111-1111"))
    event = OrchestrationFailed(event_id=2, instance_id="i", details=details)
    (kept,) = Redactor(frozenset({"card 4111-1111"})).events([event])
    (gone,) = Redactor(frozenset({"i"})).events([event])
    assert kept.details.message == details.message  # type: ignore[union-attr]
    assert MARKER.fullmatch(gone.details.message or "")  # type: ignore[union-attr]


def test_redacting_a_redacted_scenario_bundle_changes_nothing(
    scenario_store: Path, tmp_path: Path
) -> None:
    once = tmp_path / "once.json.gz"
    first = json.loads(export_text(scenario_store, once, "--redact"))
    again = json.loads(export_text(once, tmp_path / "twice.json.gz", "--redact"))
    assert again["instances"] == first["instances"]
    assert again["pending"] == first["pending"]
    assert again["orphan_turns"] == first["orphan_turns"]
