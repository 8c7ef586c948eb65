"""``export --redact``: no payload survives, in any position, from either store kind.

The stores hold ``s3cr3t-<position>`` in every payload position a run fills
(``secret_payloads``: inputs, results, outputs, custom status, key-value values,
event data, carried-forward events, continue-as-new input, queued messages,
captured turns, orphan turns), plus rows a reader meets in the wild: a
``KeyValueSet`` (durascope has no KV API), an event of an unknown type, a
history row that does not decode, an unknown work item and a queue row that
is not JSON.  Exported through the CLI, the decompressed bytes must not
contain the prefix; each placeholder gives the payload's size and hash.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from durascope.replay import diagnose, open_model, redaction_marker
from tests.reliability.hostile import check_clean, consolidate, run_cli
from tests.replay.duroxide_stores import SECRET
from tests.replay.stores import durascope_secrets

MARKER = re.compile(r"<redacted (\d+) bytes sha256:([0-9a-f]{16})>")

POSITIONS = [
    "stage-0",  # root input
    "stage-1",  # continue-as-new input, the next execution's input
    "activity-input",
    "activity-result",
    "child-input",
    "child-activity-input",
    "child-output",
    "status-",  # custom status
    "event-data-0",
    "carried-forward",
    "output",
    "waiter-status",
    "pending-event",
    "pending-start",
    "orphan-event",
    "kv-value",
    "unknown-field",
    "unknown-nested",
    "unknown-list",
    "undecodable",
    "unknown-item",
    "not-json",
]
"""Every position's label (``s3cr3t-<label>``); each must be in the unredacted export."""


def add_rows_from_the_wild(db: Path, kind: str) -> None:
    """The rows no runtime writes today but a store may hold, each with a secret."""
    conn = sqlite3.connect(db)
    try:
        (execution, last) = conn.execute(
            "SELECT execution_id, max(event_id) FROM history WHERE instance_id = 'secret-parent' "
            "GROUP BY execution_id ORDER BY execution_id DESC LIMIT 1"
        ).fetchone()
        envelope = {
            "source_event_id": None,
            "instance_id": "secret-parent",
            "execution_id": execution,
            "timestamp_ms": 1_700_000_000_000,
            "duroxide_version": "0.1.99",
        }
        rows: list[tuple[str, str]] = [
            (
                "FromTheFuture",
                json.dumps(
                    {
                        **envelope,
                        "event_id": last + 1,
                        "type": "FromTheFuture",
                        "payload": "s3cr3t-unknown-field",
                        "nested": {"deep": "s3cr3t-unknown-nested", "n": 7},
                        "list": ["s3cr3t-unknown-list"],
                    }
                ),
            ),
            (
                "ActivityCompleted",
                '{"type": "ActivityCompleted", "event_id": 99, "result": ["s3cr3t-undecodable"]}',
            ),
        ]
        if kind == "durascope":
            kv = {
                **envelope,
                "event_id": last + 3,
                "type": "KeyValueSet",
                "key": "k",
                "value": "s3cr3t-kv-value-injected",
                "last_updated_at_ms": 1,
            }
            rows.append(("KeyValueSet", json.dumps(kv)))
        for offset, (event_type, data) in enumerate(rows, start=1):
            conn.execute(
                "INSERT INTO history (instance_id, execution_id, event_id, event_type, event_data) "
                "VALUES ('secret-parent', ?, ?, ?, ?)",
                (execution, last + offset, event_type, data),
            )
        columns = {r[1] for r in conn.execute("PRAGMA table_info(orchestrator_queue)")}
        visible = "visible_at_ms" if "visible_at_ms" in columns else "visible_at"
        extra = ", created_at_ms" if "created_at_ms" in columns else ""
        for raw in (
            '{"FromTheFuture": {"instance": "secret-parent", "blob": "s3cr3t-unknown-item"}}',
            "s3cr3t-not-json {",
        ):
            conn.execute(
                f"INSERT INTO orchestrator_queue (instance_id, work_item, {visible}{extra}) "
                f"VALUES ('secret-parent', ?, 0{', 0' if extra else ''})",
                (raw,),
            )
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def secret_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A durascope and a duroxide store full of secrets, each in one file."""
    directory = tmp_path_factory.mktemp("secrets")
    raw = directory / "durascope-raw.db"
    durascope_secrets(raw)
    stores = {"durascope": directory / "durascope.db"}
    consolidate(raw, stores["durascope"])
    if _has_duroxide():
        from tests.replay.duroxide_stores import generate

        made = generate(directory / "duroxide-raw", ["secrets"])
        stores["duroxide"] = directory / "duroxide.db"
        consolidate(made["secrets"], stores["duroxide"])
    for kind, path in stores.items():
        add_rows_from_the_wild(path, kind)
    return stores


def _has_duroxide() -> bool:
    try:
        import duroxide  # noqa: F401
    except ImportError:
        return False
    return True


def store(secret_stores: dict[str, Path], kind: str) -> Path:
    if kind not in secret_stores:
        pytest.skip("the real duroxide package is needed to write a duroxide store")
    return secret_stores[kind]


def export_bytes(path: Path, out: Path, *extra: str) -> str:
    args = ["export", str(path), "-o", str(out), *extra]
    code, stdout, stderr = run_cli(args)
    check_clean(args, code, stdout, stderr)
    assert code == 0, stderr
    return gzip.decompress(out.read_bytes()).decode()


KINDS = ["durascope", "duroxide"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_position_holds_a_secret_before_redaction(
    secret_stores: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    text = export_bytes(store(secret_stores, kind), tmp_path / "plain.json.gz")
    doc = json.loads(text)
    expected = [p for p in POSITIONS if not (kind == "duroxide" and p == "orphan-event")]
    missing = [p for p in expected if f"{SECRET}-{p}" not in text]
    assert missing == []
    if kind == "durascope":
        assert SECRET in json.dumps([i["turns"] for i in doc["instances"]])  # captured turns
        assert SECRET in json.dumps(doc["orphan_turns"])  # the ghost's discarded event
        started = doc["instances"][0]["executions"][1]["events"][0]
        assert started["carry_forward_events"] == [["mailbox", '"s3cr3t-carried-forward"']]
        assert started["initial_custom_status"].startswith(SECRET)
    else:
        assert "s3cr3t-orphan-event" in json.dumps(doc["pending"])  # parked at the queue head
    assert SECRET in json.dumps(doc["pending"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scope", ["store", "tree"])
def test_no_secret_survives_redaction(
    secret_stores: dict[str, Path], kind: str, scope: str, tmp_path: Path
) -> None:
    path = store(secret_stores, kind)
    extra = ["--instance=secret-parent"] if scope == "tree" else []
    text = export_bytes(path, tmp_path / "r.json.gz", "--redact", *extra)
    assert SECRET not in text
    assert SECRET.encode().hex() not in text  # not smuggled as hex either
    doc = json.loads(text)
    assert doc["redacted"] is True
    ids = [i["instance_id"] for i in doc["instances"]]
    assert "secret-parent" in ids and any("::sub::" in i for i in ids)
    # The structure stays: names, ids, types, the key of the key-value pair.
    parent = next(i for i in doc["instances"] if i["instance_id"] == "secret-parent")
    types = [e["type"] for x in parent["executions"] for e in x["events"]]
    assert {"KeyValueSet", "FromTheFuture", "Undecodable", "ExternalEvent"} <= set(types)
    kv = next(e for x in parent["executions"] for e in x["events"] if e["type"] == "KeyValueSet")
    assert kv["key"] == "k" and MARKER.fullmatch(kv["value"])
    unknown = next(
        e for x in parent["executions"] for e in x["events"] if e["type"] == "FromTheFuture"
    )
    assert all(MARKER.fullmatch(unknown[f]) for f in ("payload", "nested", "list"))
    assert unknown["event_id"] > 1 and unknown["instance_id"] == "secret-parent"
    undecodable = next(
        e for x in parent["executions"] for e in x["events"] if e["type"] == "Undecodable"
    )
    assert MARKER.fullmatch(undecodable["raw"]) and MARKER.fullmatch(undecodable["error"])
    pending = {p["instance_id"] for p in doc["pending"]}
    assert "secret-parent" in pending  # the unknown item and the row that is not JSON
    raws = [p["raw"] for p in doc["pending"] if p["instance_id"] == "secret-parent"]
    assert any(MARKER.fullmatch(r) for r in raws)  # not JSON: one marker
    assert any(r.startswith('{"FromTheFuture":{"instance":"secret-parent"') for r in raws)
    # The redacted bundle still opens, and diagnosis still runs on it.
    out = tmp_path / "r.json.gz"
    model = open_model(out)
    try:
        assert model.origin.redacted
        diagnose(model)
    finally:
        model.close()


def _marker_of(payload: str) -> str:
    raw = payload.encode()
    return f"<redacted {len(raw)} bytes sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


@pytest.mark.parametrize("kind", KINDS)
def test_placeholders_give_size_and_a_stable_distinct_hash(
    secret_stores: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    path = store(secret_stores, kind)
    plain = json.loads(export_bytes(path, tmp_path / "p.json.gz"))
    first = json.loads(export_bytes(path, tmp_path / "a.json.gz", "--redact"))
    second = json.loads(export_bytes(path, tmp_path / "b.json.gz", "--redact"))
    for doc in (first, second):
        doc["origin"].pop("exported_at_ms")
    assert first == second  # the same payloads give the same placeholders
    # Each placeholder is the size and hash of the payload it replaced.
    plain_parent = next(i for i in plain["instances"] if i["instance_id"] == "secret-parent")
    red_parent = next(i for i in first["instances"] if i["instance_id"] == "secret-parent")
    pairs: list[tuple[Any, Any]] = []
    for px, rx in zip(plain_parent["executions"], red_parent["executions"], strict=True):
        for pe, re_ in zip(px["events"], rx["events"], strict=True):
            for field in ("input", "result", "data", "value", "status", "output"):
                if isinstance(pe.get(field), str) and SECRET in pe[field]:
                    pairs.append((pe[field], re_[field]))
    assert len(pairs) >= 12
    for payload, marker in pairs:
        assert marker == _marker_of(payload) == redaction_marker(payload)
        assert int(MARKER.fullmatch(marker).group(1)) == len(payload.encode())  # type: ignore[union-attr]
    # Different payloads, different hashes.
    by_payload = dict(pairs)
    assert len(set(by_payload.values())) == len(by_payload)
    inputs = [m for p, m in pairs if "activity-input" in p and "|" not in p]
    assert len(inputs) == 2 and inputs[0] != inputs[1]  # stage 0 and stage 1
    assert red_parent["custom_status"] == _marker_of(plain_parent["custom_status"])
    assert red_parent["output"] == _marker_of(plain_parent["output"])


def test_redacting_a_redacted_bundle_keeps_its_placeholders(
    secret_stores: dict[str, Path], tmp_path: Path
) -> None:
    once = tmp_path / "once.json.gz"
    first = json.loads(export_bytes(secret_stores["durascope"], once, "--redact"))
    again = json.loads(export_bytes(once, tmp_path / "twice.json.gz", "--redact"))
    for doc in (first, again):
        doc["origin"].pop("exported_at_ms")
        doc["origin"].pop("source_path")
    assert again == first


def test_help_says_what_redaction_keeps(capsys: pytest.CaptureFixture[str]) -> None:
    from durascope.cli import main

    with pytest.raises(SystemExit) as info:
        main(["export", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "key-value values" in text and "unknown or undecodable events" in text
    assert "error messages and tracebacks, failed outputs, cancel reasons given by a client" in (
        text
    )
    assert "error kinds and the runtime's own reasons are kept" in text
