"""Opening durascope stores and bundles: read-only, live, round trips, bad input."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from durascope.history import event_to_dict
from durascope.replay import (
    Model,
    SourceError,
    build_bundle,
    open_model,
    write_bundle,
)
from tests.replay.redaction_checks import bundle_haystack, finding_keys, leaked, source_files

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def digest(path: Path) -> dict[str, str]:
    """Hashes of the store file and of any -wal/-shm beside it (absent ones too)."""
    out = {}
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{path}{suffix}")
        out[suffix or "db"] = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "absent"
    return out


def snapshot(model: Model) -> dict[str, object]:
    """Everything the view model says, in comparable form."""
    return {
        iid: {
            "name": inst.orchestration_name,
            "status": inst.status,
            "output": inst.output,
            "parent": inst.parent_instance_id,
            "current": inst.current_execution_id,
            "executions": [
                (ex.execution_id, ex.status, ex.output, [event_to_dict(e) for e in ex.events])
                for ex in inst.executions
            ],
            "turns": [t.model_dump() for t in inst.turns],
        }
        for iid, inst in model.instances.items()
    }


def test_opening_says_what_it_opened(scenario_store: Path, tmp_path: Path) -> None:
    model = open_model(scenario_store)
    assert model.origin.kind == "durascope"
    assert model.origin.has_turn_journal
    assert model.origin.runtime_version and "durascope" in model.origin.runtime_version
    out = tmp_path / "b.json"
    write_bundle(build_bundle(model), out)
    model.close()
    bundle = open_model(out)
    assert bundle.origin.kind == "bundle"
    assert bundle.origin.source_kind == "durascope"


def test_opening_and_reading_never_changes_the_store(scenario_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(scenario_store, copy)
    before = digest(copy)
    model = open_model(copy)
    model.load_all()
    from durascope.replay import diagnose

    diagnose(model)
    model.close()
    assert digest(copy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.db"]


def test_export_then_import_gives_back_the_same_model(scenario_store: Path, tmp_path: Path) -> None:
    model = open_model(scenario_store)
    model.load_all()
    for name in ("all.json", "all.json.gz"):
        write_bundle(build_bundle(model), tmp_path / name)
        again = open_model(tmp_path / name)
        assert snapshot(again) == snapshot(model)
    tree = build_bundle(model, instance_id="legacy-loop::sub::2")
    assert [i.instance_id for i in tree.instances] == ["legacy-loop", "legacy-loop::sub::2"]
    model.close()


def test_redacted_bundle_keeps_shape_and_drops_payloads(
    scenario_store: Path, tmp_path: Path
) -> None:
    model = open_model(scenario_store)
    out = tmp_path / "r.json.gz"
    write_bundle(build_bundle(model, redact=True), out)
    text = gzip.decompress(out.read_bytes()).decode()
    assert '"charged"' not in text  # the activity results are gone
    # No payload survives anywhere, not even quoted by an error message, a failed
    # output or a traceback, and no traceback names a file of this repository.
    assert leaked(model, text) == []
    assert [f for f in source_files(model) if f.startswith(str(ROOT))]
    assert str(ROOT) not in bundle_haystack(text)
    redacted = open_model(out)
    assert redacted.origin.redacted
    started = redacted.instance("deploy-approval").execution(1).events[0]
    assert started.input.startswith("<redacted ")  # type: ignore[union-attr]
    # Diagnosis finds the same things in the same places (its wording may differ).
    assert finding_keys(redacted) == finding_keys(model)
    model.close()


def test_committed_fixtures_still_load(tmp_path: Path) -> None:
    for name in ("scenarios.db", "scenarios.bundle.json.gz", "scenarios.redacted.bundle.json.gz"):
        model = open_model(FIXTURES / name)
        assert "healthy-loop" in model.instances
        model.close()


def test_live_store_is_followed_while_a_runtime_writes(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runner = subprocess.Popen(
        [sys.executable, "-m", "tests.programs.mixed_workload", "run", str(db)],
        cwd=ROOT,
        env=env,
    )
    try:
        subprocess.run(
            [sys.executable, "-m", "tests.programs.mixed_workload", "start", str(db), "5", "a"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        deadline = time.monotonic() + 90  # generous: CI machines can be loaded
        model = open_model(db)
        while len(model.instances) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
            if model.changed():
                model.close()
                model = open_model(db)
        seen = len(model.instances)
        subprocess.run(
            [sys.executable, "-m", "tests.programs.mixed_workload", "start", str(db), "5", "b"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        while not model.changed() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert model.changed()
        model.close()
        model = open_model(db)
        while not any(i.startswith("b") for i in model.instances) and time.monotonic() < deadline:
            time.sleep(0.1)
            model.close()
            model = open_model(db)
        assert seen >= 5
        assert any(i.startswith("b") for i in model.instances)
        model.close()
        # The runtime kept working while we read: everything completes.  (Stopping it
        # earlier could catch an instance between two executions: ContinuedAsNew.)
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            final = open_model(db)
            statuses = {
                i.instance_id: i.status
                for i in final
                if i.instance_id[0] in "ab" and "::" not in i.instance_id  # the roots
            }
            final.close()
            if len(statuses) == 10 and set(statuses.values()) == {"Completed"}:
                break
            time.sleep(0.1)
    finally:
        runner.terminate()
        runner.wait(timeout=30)
    assert statuses == {f"{p}{k}": "Completed" for p in "ab" for k in range(5)}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "neither a SQLite store nor a JSON bundle"),
        (b"{not json", "neither a SQLite store nor a JSON bundle"),
        (b'{"format": "other"}', "not a durascope bundle"),
        (
            b'{"format": "durascope-bundle", "schema_version": 99}',
            "schema_version 99 is not supported",
        ),
        (
            b'{"format": "durascope-bundle", "schema_version": 1, "origin": {}, "instances": []}',
            "malformed bundle",
        ),
        (b"SQLite format 3\x00" + os.urandom(5000), "not a readable SQLite database"),
        (gzip.compress(b"{")[:10], "does not decompress"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "input"
    path.write_bytes(content)
    with pytest.raises(SourceError) as info:
        open_model(path)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_store_and_foreign_sqlite(scenario_store: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(scenario_store.read_bytes()[:8192])
    with pytest.raises(SourceError):
        model = open_model(truncated)
        model.load_all()
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(SourceError, match="neither a durascope nor a duroxide store"):
        open_model(other)
    with pytest.raises(SourceError, match="no such file"):
        open_model(tmp_path / "missing.db")


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("999", "store schema version 999 is newer than this durascope supports (1)"),
        ("one", "unreadable store schema_version 'one'"),
    ],
)
def test_a_store_schema_this_version_cannot_read_is_refused_without_writing(
    scenario_store: Path, tmp_path: Path, stamp: str, expected: str
) -> None:
    import sqlite3

    copy = tmp_path / "newer.db"
    shutil.copy(scenario_store, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE durascope_meta SET value = ? WHERE key = 'schema_version'", (stamp,))
    conn.close()
    before = digest(copy)
    with pytest.raises(SourceError, match=re.escape(expected)):
        open_model(copy)
    proc = subprocess.run(
        [sys.executable, "-m", "durascope.cli", "diagnose", str(copy)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"durascope: error: {copy}: {expected}")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert digest(copy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.db"]


def test_unknown_event_types_and_bad_rows_load(scenario_store: Path, tmp_path: Path) -> None:
    model = open_model(scenario_store)
    model.load_all()
    bundle = json.loads(build_bundle(model, instance_id="healthy-loop").model_dump_json())
    model.close()
    events = bundle["instances"][0]["executions"][0]["events"]
    events.append({**events[-1], "event_id": 99, "type": "FromTheFuture", "novel": [1, 2]})
    path = tmp_path / "future.json"
    path.write_text(json.dumps(bundle))
    loaded = open_model(path)
    last = loaded.instance("healthy-loop").execution(1).events[-1]
    assert last.type == "FromTheFuture"
    assert last.novel == [1, 2]  # type: ignore[union-attr]


def test_cyclic_parent_links_do_not_loop(scenario_store: Path, tmp_path: Path) -> None:
    model = open_model(scenario_store)
    model.load_all()
    bundle = json.loads(build_bundle(model, instance_id="healthy-loop").model_dump_json())
    acyclic_links = [k for k in model.child_links if k.parent_instance == "healthy-loop"]
    from durascope.replay import diagnose, select_tree

    acyclic_findings = [f.model_dump() for f in diagnose(model, "healthy-loop")]
    model.close()
    members = [inst["instance_id"] for inst in bundle["instances"]]
    assert members == ["healthy-loop"] + [f"healthy-loop::sub::{s}" for s in ("2", "2_2", "3_2")]
    for inst in bundle["instances"]:
        inst["parent_instance_id"] = (
            "healthy-loop::sub::2" if inst["instance_id"] == "healthy-loop" else "healthy-loop"
        )
    path = tmp_path / "cycle.json"
    path.write_text(json.dumps(bundle))
    cyclic = open_model(path)
    # The climb to the root stops where the cycle closes; the tree is every member once.
    assert select_tree(cyclic, "healthy-loop") == [
        "healthy-loop::sub::2",
        "healthy-loop",
        "healthy-loop::sub::2_2",
        "healthy-loop::sub::3_2",
    ]
    for member in members:
        assert sorted(select_tree(cyclic, member)) == sorted(members)
    assert cyclic.roots() == []  # every instance row names a parent
    # The links come from the histories, which the instance rows do not change.
    assert list(cyclic.child_links) == acyclic_links
    assert [(k.parent_execution, k.child_instance, k.points_back) for k in cyclic.child_links] == [
        (1, "healthy-loop::sub::2", True),
        (2, "healthy-loop::sub::2_2", True),
        (3, "healthy-loop::sub::3_2", True),
    ]
    assert cyclic.scheduling_link("healthy-loop") is None  # its history names no parent
    link = cyclic.scheduling_link("healthy-loop::sub::2")
    assert link is not None and (link.parent_instance, link.event_id) == ("healthy-loop", 2)
    # Diagnosis finishes: what it said without the cycle, and the loop, once.
    findings = diagnose(cyclic, "healthy-loop")
    loops = [f for f in findings if f.kind == "malformed_history"]
    assert [f.model_dump() for f in findings if f not in loops] == acyclic_findings
    assert [(f.severity, f.instance, [r.instance for r in f.related]) for f in loops] == [
        ("error", "healthy-loop", ["healthy-loop::sub::2"])
    ]
    assert "loop" in loops[0].message
    # Export finishes too, with every member once.
    again = build_bundle(cyclic, instance_id="healthy-loop::sub::3_2")
    assert sorted(i.instance_id for i in again.instances) == sorted(members)
    cyclic.close()
