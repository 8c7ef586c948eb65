"""Reading real duroxide SQLite stores: agreement with duroxide's own client, child links
in both id shapes, pending messages, read-only opening (also under a live writer), bad input.

The stores are written once per session by running the real ``duroxide`` package
(``tests.replay.duroxide_stores``), each scenario in its own subprocess.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from durascope.history import (
    KNOWN_EVENT_CLASSES,
    ActivityExecute,
    CancelInstance,
    OrchestrationStarted,
    StartOrchestration,
    SubOrchestrationFailed,
    TimerFiredItem,
    UnknownEvent,
)
from durascope.replay import Model, SourceError, open_model
from durascope.replay._duroxide_source import _to_ms
from tests.replay.duroxide_stores import generate, start_live_writer

dx = pytest.importorskip(
    "duroxide", reason="the real duroxide package is needed to write duroxide stores"
)

STORES = (
    "healthy",
    "can_children",
    "explicit_collision",
    "pending_and_orphan",
    "cancelled_tree",
    "nondeterminism",
    "pre_fix_shape",
    "secrets",
)


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every scenario's store, written by the real duroxide runtime."""
    return generate(tmp_path_factory.mktemp("duroxide-stores"))


def snapshot(src: Path, dst: Path) -> Path:
    """A self-contained copy of a store (WAL folded in), read through ``mode=ro``."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(str(dst))
    source.backup(target)
    target.execute("PRAGMA journal_mode=DELETE")
    source.close()
    target.close()
    return dst


def _tag(kind: str) -> str:
    """The serde ``type`` tag of an event kind as duroxide's Client names it.

    The Client reports the Rust variant name, which for the mailbox events differs
    from the tag in the stored JSON (``QueueEventDelivered`` is written as
    ``ExternalEventPersistent``); durascope's classes carry the variant names.
    """
    tags = {cls.__name__: cls.model_fields["type"].default for cls in KNOWN_EVENT_CLASSES}
    return str(tags.get(kind, kind))


def oracle(path: Path, workdir: Path) -> dict[str, Any]:
    """What duroxide's own Client says about a store (run on a copy: the provider writes)."""
    copy = snapshot(path, workdir / f"oracle-{path.name}")
    client = dx.Client(dx.SqliteProvider.open(str(copy)))
    result: dict[str, Any] = {}
    for instance_id in client.list_all_instances():
        info = client.get_instance_info(instance_id)
        executions = {}
        for execution_id in client.list_executions(instance_id):
            history = client.read_execution_history(instance_id, execution_id)
            executions[execution_id] = [(e.event_id, _tag(e.kind)) for e in history]
        result[instance_id] = {
            "status": info.status,
            "output": info.output or None,
            "name": info.orchestration_name,
            "version": info.orchestration_version,
            "parent": info.parent_instance_id,
            "current": info.current_execution_id,
            "executions": executions,
        }
    return result


@pytest.fixture
def model(request: pytest.FixtureRequest, stores: dict[str, Path]) -> Iterator[Model]:
    m = open_model(stores[request.param])
    yield m
    m.close()


def file_hashes(path: Path) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for suffix in ("", "-wal"):
        p = Path(f"{path}{suffix}")
        out[suffix] = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None
    return out


# ─── agreement with duroxide ───────────────────────────────────────


@pytest.mark.parametrize("name", STORES)
def test_model_agrees_with_duroxide_client(
    name: str, stores: dict[str, Path], tmp_path: Path
) -> None:
    expected = oracle(stores[name], tmp_path)
    assert expected, "duroxide lists no instance"
    model = open_model(stores[name])
    try:
        assert model.origin.kind == "duroxide"
        assert model.origin.path == str(stores[name])
        assert set(expected) <= set(model.instances)
        for instance_id, want in expected.items():
            got = model.instance(instance_id)
            assert got.status == want["status"], instance_id
            assert got.output == want["output"], instance_id
            assert got.orchestration_name == want["name"]
            assert got.orchestration_version == want["version"]
            assert got.parent_instance_id == want["parent"]
            assert got.current_execution_id == want["current"]
            assert [x.execution_id for x in got.executions] == sorted(want["executions"])
            for execution in got.executions:
                events = [(e.event_id, e.type) for e in execution.events]
                assert events == want["executions"][execution.execution_id]
                assert execution.event_count == len(events)
                assert all(not isinstance(e, UnknownEvent) for e in execution.events)
                if execution.completed_at_ms is not None:
                    # started_at is UTC text with second precision; completed_at is ms
                    assert execution.started_at_ms is not None
                    assert abs(execution.completed_at_ms - execution.started_at_ms) < 60_000
        newest = max(
            (e for i in model for x in i.executions for e in x.events),
            key=lambda e: e.timestamp_ms,
        )
        assert model.origin.runtime_version == newest.duroxide_version != ""
    finally:
        model.close()


# ─── scenarios ──────────────────────────────────────────────────────


@pytest.mark.parametrize("model", ["healthy"], indirect=True)
def test_healthy(model: Model) -> None:
    parent = model.instance("healthy")
    assert parent.status == "Completed"
    assert parent.custom_status == "done"
    assert json.loads(parent.output or "") == {"a": 2, "b": 3, "go": {"ok": True}}
    types = {e.type for e in parent.execution().events}
    assert {"ActivityCompleted", "TimerFired", "ExternalEvent", "CustomStatusUpdated"} <= types
    (link,) = model.children_of("healthy")
    assert link.scheduled_as.startswith("sub::")
    assert link.child_instance == f"healthy::{link.scheduled_as}"
    assert link.child_exists and link.points_back
    assert model.scheduling_link(link.child_instance) == link
    assert model.instance(link.child_instance).parent_instance_id == "healthy"
    assert not model.pending


@pytest.mark.parametrize("model", ["can_children"], indirect=True)
def test_can_children_links_in_the_fixed_shape(model: Model) -> None:
    parent = model.instance("can-job")
    assert [x.status for x in parent.executions] == ["ContinuedAsNew"] * 3 + ["Completed"]
    for execution in parent.executions:
        n = execution.execution_id
        (link,) = model.children_of("can-job", n)
        child = "can-job::sub::2" if n == 1 else f"can-job::sub::{n}_2"
        assert (link.scheduled_as, link.child_instance) == (child[len("can-job::") :], child)
        assert link.points_back and link.child_parent == ("can-job", 2, n)
        assert model.scheduling_link(child) == link
        started = model.instance(child).execution(1).started
        assert isinstance(started, OrchestrationStarted)
        assert started.parent_execution_id == n


@pytest.mark.parametrize("model", ["pre_fix_shape"], indirect=True)
def test_pre_fix_shape_links(model: Model) -> None:
    """Pre-fix, execution 2 reuses ``sub::2``, its start is discarded, and it waits forever."""
    parent = model.instance("can-job")
    assert (parent.status, parent.current_execution_id) == ("Running", 2)
    assert [x.status for x in parent.executions] == ["ContinuedAsNew", "Running"]
    assert [e.type for e in parent.execution(2).events] == [
        "OrchestrationStarted",
        "SubOrchestrationScheduled",
    ]
    assert set(model.instances) == {"can-job", "can-job::sub::2"}
    assert not model.pending
    links = model.children_of("can-job")
    assert [k.parent_execution for k in links] == [1, 2]
    assert {k.scheduled_as for k in links} == {"sub::2"}
    assert {k.child_instance for k in links} == {"can-job::sub::2"}
    assert [k.points_back for k in links] == [True, False]
    assert links[0].child_parent == ("can-job", 2, None)
    link = model.scheduling_link("can-job::sub::2")
    assert link is not None and link.parent_execution == 1
    started = model.instance("can-job::sub::2").execution(1).started
    assert isinstance(started, OrchestrationStarted) and started.parent_execution_id is None


@pytest.mark.parametrize("model", ["explicit_collision"], indirect=True)
def test_explicit_collision(model: Model) -> None:
    pb = model.instance("pB")
    assert pb.status == "Failed"
    assert "sub-orchestration instance id 'shared-child' already exists and is terminal" in (
        pb.output or ""
    )
    assert any(isinstance(e, SubOrchestrationFailed) for e in pb.execution().events)
    (hit,) = model.children_of("pB")
    assert hit.child_instance == "shared-child" and not hit.points_back
    assert hit.child_parent == ("pA", 2, 1)
    link = model.scheduling_link("shared-child")
    assert link is not None and link.parent_instance == "pA"


@pytest.mark.parametrize("model", ["pending_and_orphan"], indirect=True)
def test_pending_messages(model: Model) -> None:
    orchestrator = [p for p in model.pending if p.queue == "orchestrator"]
    worker = [p for p in model.pending if p.queue == "worker"]
    assert [p.id for p in orchestrator] == sorted(p.id for p in orchestrator)  # queue order
    orphan = next(p for p in orchestrator if isinstance(p.item, CancelInstance))
    assert isinstance(orphan.item, CancelInstance)
    assert orphan.instance_id == "does-not-exist" and orphan.item.reason == "orphan"
    start = next(p for p in orchestrator if isinstance(p.item, StartOrchestration))
    assert start.instance_id == "never-ran" and start.id > orphan.id
    assert "never-ran" not in model.instances and "does-not-exist" not in model.instances
    timer = next(p for p in orchestrator if isinstance(p.item, TimerFiredItem))
    assert isinstance(timer.item, TimerFiredItem)
    assert timer.instance_id == "sleeper" and timer.visible_at_ms == timer.item.fire_at_ms
    assert not any(p.locked for p in orchestrator)
    (activity,) = worker
    assert isinstance(activity.item, ActivityExecute) and activity.item.name == "Slow"
    assert activity.instance_id == "slow" and activity.locked and activity.attempt_count == 1
    assert model.instance("slow").status == "Running"
    assert model.instance("slow").custom_status == "scheduled"
    assert all(p.raw.startswith("{") for p in model.pending)


@pytest.mark.parametrize("model", ["cancelled_tree"], indirect=True)
def test_cancelled_tree(model: Model) -> None:
    assert model.instance("tree").output == "canceled: user asked"
    child = model.instance("tree::sub::2")
    assert (child.status, child.output) == ("Failed", "canceled: parent canceled")
    link = model.scheduling_link("tree::sub::2")
    assert link is not None and link.parent_instance == "tree"


@pytest.mark.parametrize("model", ["nondeterminism"], indirect=True)
def test_nondeterminism(model: Model) -> None:
    flow = model.instance("flow")
    assert flow.status == "Failed"
    assert (flow.output or "").startswith("nondeterministic:")
    assert flow.execution().events[-1].type == "OrchestrationFailed"


# ─── read-only ──────────────────────────────────────────────────────


@pytest.mark.parametrize("name", STORES)
def test_opening_never_changes_the_files(name: str, stores: dict[str, Path]) -> None:
    before = file_hashes(stores[name])
    model = open_model(stores[name])
    assert model.load_all() > 0
    assert model.child_links is not None
    assert not model.changed()
    model.close()
    assert file_hashes(stores[name]) == before


def test_reading_while_duroxide_writes(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    out = tmp_path / "live.json"
    proc = start_live_writer(db, 2.0, out)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        reads = 0
        while proc.poll() is None:
            model = open_model(db)
            model.load_all()
            assert model.origin.kind == "duroxide"
            assert "live-0" in model.instances
            model.close()
            reads += 1
            time.sleep(0.05)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert reads >= 3
    report = json.loads(out.read_text())
    assert len(report["ids"]) > 10
    assert set(report["statuses"].values()) == {"Completed"}
    model = open_model(db)
    assert {model.instance(i).status for i in report["ids"]} == {"Completed"}
    model.close()


# ─── schema variants and odd states ─────────────────────────────────

CREATE_SCHEMA = """
CREATE TABLE instances (instance_id TEXT PRIMARY KEY, orchestration_name TEXT NOT NULL,
  orchestration_version TEXT, current_execution_id INTEGER NOT NULL DEFAULT 1,
  custom_status TEXT, custom_status_version INTEGER NOT NULL DEFAULT 0,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  parent_instance_id TEXT REFERENCES instances(instance_id));
CREATE TABLE executions (instance_id TEXT NOT NULL, execution_id INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'Running', output TEXT, duroxide_version_major INTEGER,
  duroxide_version_minor INTEGER, duroxide_version_patch INTEGER,
  started_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, completed_at TIMESTAMP,
  PRIMARY KEY (instance_id, execution_id));
CREATE TABLE history (instance_id TEXT NOT NULL, execution_id INTEGER NOT NULL,
  event_id INTEGER NOT NULL, event_type TEXT NOT NULL, event_data TEXT NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (instance_id, execution_id, event_id));
CREATE TABLE orchestrator_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL,
  work_item TEXT NOT NULL, visible_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, lock_token TEXT,
  locked_until TIMESTAMP, attempt_count INTEGER NOT NULL DEFAULT 0,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE worker_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, work_item TEXT NOT NULL,
  visible_at INTEGER NOT NULL DEFAULT 0, lock_token TEXT, locked_until TIMESTAMP,
  attempt_count INTEGER NOT NULL DEFAULT 0, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  instance_id TEXT, execution_id TEXT, activity_id INTEGER, session_id TEXT, tag TEXT);
CREATE TABLE instance_locks (instance_id TEXT PRIMARY KEY, lock_token TEXT NOT NULL,
  locked_until INTEGER NOT NULL, locked_at INTEGER NOT NULL);
"""
"""duroxide's in-memory ``create_schema`` (src/providers/sqlite.rs), tables this reader uses."""

MINIMAL_SCHEMA = """
CREATE TABLE instances (instance_id TEXT PRIMARY KEY, orchestration_name TEXT NOT NULL,
  current_execution_id INTEGER NOT NULL DEFAULT 1);
CREATE TABLE executions (instance_id TEXT NOT NULL, execution_id INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'Running', PRIMARY KEY (instance_id, execution_id));
CREATE TABLE history (instance_id TEXT NOT NULL, execution_id INTEGER NOT NULL,
  event_id INTEGER NOT NULL, event_type TEXT NOT NULL, event_data TEXT NOT NULL,
  PRIMARY KEY (instance_id, execution_id, event_id));
CREATE TABLE orchestrator_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL,
  work_item TEXT NOT NULL);
CREATE TABLE worker_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, work_item TEXT NOT NULL);
"""
"""An old, sparse schema: optional columns and ``instance_locks`` missing."""


def rebuild(src: Path, dst: Path, ddl: str) -> Path:
    """``dst`` with schema ``ddl``, holding the rows of ``src`` (shared columns only)."""
    conn = sqlite3.connect(str(dst), uri=True)
    conn.executescript(ddl)
    conn.execute("ATTACH DATABASE ? AS src", (f"file:{src}?mode=ro",))
    tables = [r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type='table'")]
    for table in tables:
        if table == "sqlite_sequence":
            continue
        mine = {r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")}
        theirs = [r[1] for r in conn.execute(f"PRAGMA src.table_info({table})")]
        cols = ", ".join(c for c in theirs if c in mine)
        conn.execute(f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM src.{table}")
    conn.commit()
    conn.close()
    return dst


@pytest.mark.parametrize("ddl", [CREATE_SCHEMA, MINIMAL_SCHEMA], ids=["create_schema", "minimal"])
def test_schema_variants(ddl: str, stores: dict[str, Path], tmp_path: Path) -> None:
    full = open_model(stores["pending_and_orphan"])
    variant = open_model(rebuild(stores["pending_and_orphan"], tmp_path / "v.db", ddl))
    assert variant.origin.kind == "duroxide"
    assert list(variant.instances) == list(full.instances)
    for a, b in zip(full, variant, strict=True):
        assert (a.status, a.current_execution_id) == (b.status, b.current_execution_id)
        assert [e.type for e in a.execution().events] == [e.type for e in b.execution().events]
    assert [(p.queue, p.id, p.instance_id, p.item) for p in full.pending] == [
        (p.queue, p.id, p.instance_id, p.item) for p in variant.pending
    ]
    if ddl is MINIMAL_SCHEMA:
        assert variant.instance("slow").custom_status is None
        assert not any(p.locked for p in variant.pending)
    full.close()
    variant.close()


def test_instances_known_only_from_history(stores: dict[str, Path], tmp_path: Path) -> None:
    db = snapshot(stores["can_children"], tmp_path / "odd.db")
    conn = sqlite3.connect(str(db))
    conn.execute("DELETE FROM instances WHERE instance_id = 'can-job::sub::3_2'")
    conn.execute("DELETE FROM executions WHERE instance_id = 'can-job::sub::3_2'")
    conn.execute("DELETE FROM executions WHERE instance_id = 'can-job' AND execution_id = 4")
    conn.execute(
        "UPDATE history SET event_data = 'not json' "
        "WHERE instance_id = 'can-job::sub::2' AND event_id = 2"
    )
    conn.execute(
        "INSERT INTO orchestrator_queue (instance_id, work_item, visible_at, attempt_count) "
        "VALUES ('x', '{\"Bogus\":{}}', 0, 0)"
    )
    conn.commit()
    conn.close()
    model = open_model(db)
    child = model.instance("can-job::sub::3_2")
    assert (child.orchestration_name, child.parent_instance_id) == ("Child", "can-job")
    assert (child.status, child.output) == ("Completed", "3")
    assert model.scheduling_link("can-job::sub::3_2") is not None
    last = model.instance("can-job").execution(4)
    assert (last.status, last.output, last.event_count) == ("Completed", "4", 4)
    bad = model.instance("can-job::sub::2").execution().events[1]
    assert isinstance(bad, UnknownEvent) and bad.type == "Undecodable"
    (bogus,) = [p for p in model.pending if p.instance_id == "x"]
    assert bogus.item is None and bogus.raw == '{"Bogus":{}}'
    model.close()


def test_an_instance_lock_claims_its_orchestrator_rows(
    stores: dict[str, Path], tmp_path: Path
) -> None:
    """A stale ``instance_locks`` row (expired long ago) still counts: see the module doc."""
    db = snapshot(stores["pending_and_orphan"], tmp_path / "locked.db")
    conn = sqlite3.connect(str(db))
    conn.execute("INSERT INTO instance_locks VALUES ('sleeper', 'lock_x', 1, 1)")
    conn.commit()
    conn.close()
    model = open_model(db)
    claimed = {(p.queue, p.instance_id) for p in model.pending if p.locked}
    assert claimed == {("orchestrator", "sleeper"), ("worker", "slow")}
    model.close()


def test_timestamps_are_read_as_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert _to_ms("2026-01-01 00:00:00") == 1_767_225_600_000  # CURRENT_TIMESTAMP text
        assert _to_ms("2026-01-01T05:30:00+05:30") == 1_767_225_600_000
        assert _to_ms(1_767_225_600_123) == 1_767_225_600_123  # integer ms
        assert _to_ms("1767225600123") == 1_767_225_600_123
        assert _to_ms("yesterday") is None and _to_ms(None) is None
    finally:
        monkeypatch.undo()
        time.tzset()


# ─── bad input ──────────────────────────────────────────────────────


def _bad_inputs(stores: dict[str, Path], tmp: Path) -> dict[str, Path]:
    whole = snapshot(stores["healthy"], tmp / "whole.db")
    truncated = tmp / "truncated.db"
    truncated.write_bytes(whole.read_bytes()[:4096])
    noise = tmp / "noise.db"
    noise.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    empty = tmp / "empty.db"
    conn = sqlite3.connect(str(empty))
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    zero = tmp / "zero.db"
    zero.write_bytes(b"")
    header_only = tmp / "header-only.db"
    header_only.write_bytes(b"SQLite format 3\x00")
    return {
        "truncated": truncated,
        "noise": noise,
        "empty": empty,
        "zero-bytes": zero,
        "header-only": header_only,
        "missing": tmp / "does-not-exist.db",
        "directory": tmp,
    }


@pytest.mark.parametrize(
    "kind", ["truncated", "noise", "empty", "zero-bytes", "header-only", "missing", "directory"]
)
def test_bad_input_is_a_one_line_source_error(
    kind: str, stores: dict[str, Path], tmp_path: Path
) -> None:
    path = _bad_inputs(stores, tmp_path)[kind]
    with pytest.raises(SourceError) as info:
        model = open_model(path)
        model.load_all()  # a truncated file may open and fail only on reading
    message = str(info.value)
    assert message and "\n" not in message
    if kind != "directory":
        assert str(path) in message


def test_truncated_store_copy_with_a_wal(stores: dict[str, Path], tmp_path: Path) -> None:
    """A WAL store copied without its ``-wal`` shows only what was checkpointed."""
    live = snapshot(stores["healthy"], tmp_path / "live.db")  # everything checkpointed
    writer = sqlite3.connect(live)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("UPDATE instances SET custom_status = 'only-in-the-wal'")
        writer.execute("DELETE FROM history WHERE instance_id = 'healthy' AND execution_id = 1")
        writer.commit()
        copy = tmp_path / "nowal.db"
        shutil.copyfile(live, copy)  # the main file alone, while the commit is in the -wal
    finally:
        writer.close()
    assert not Path(f"{copy}-wal").exists()
    model = open_model(copy)
    try:
        healthy = model.instance("healthy")
        assert healthy.custom_status == "done"  # the checkpointed value, not the WAL's
        assert healthy.execution(1).event_count == len(healthy.execution(1).events) > 0
        assert model.load_all() > 0
    finally:
        model.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.db", "nowal.db"]


def test_store_copy_without_a_wal_that_was_never_checkpointed(
    stores: dict[str, Path], tmp_path: Path
) -> None:
    """Every table lives in the ``-wal``: the main file alone has none, and the error says so."""
    live = tmp_path / "live.db"
    writer = sqlite3.connect(live)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.executescript(CREATE_SCHEMA)
        writer.execute("ATTACH DATABASE ? AS src", (f"file:{stores['healthy']}?mode=ro",))
        writer.execute("INSERT INTO main.history SELECT * FROM src.history")
        writer.commit()
        copy = tmp_path / "nowal.db"
        shutil.copyfile(live, copy)
    finally:
        writer.close()
    with pytest.raises(SourceError) as info:
        open_model(copy)
    message = str(info.value)
    assert message.startswith(f"{copy}: no tables, and the database is in WAL mode")
    assert "nowal.db-wal" in message and "\n" not in message


# Diagnostics on real duroxide stores: every conclusion is inferred from history and queues.


def _kinds(model: Model) -> set[tuple[str, str, str]]:
    from durascope.replay import diagnose

    findings = diagnose(model)
    assert {f.evidence for f in findings} <= {"inferred"}
    return {(f.kind, f.severity, f.instance) for f in findings}


@pytest.mark.parametrize("model", ["healthy", "can_children", "cancelled_tree"], indirect=True)
def test_healthy_duroxide_stores_have_no_warnings_or_errors(model: Model) -> None:
    assert {k for k in _kinds(model) if k[1] != "info"} == set()


@pytest.mark.parametrize("model", ["explicit_collision"], indirect=True)
def test_duroxide_collision_is_seen_as_failed_fast(model: Model) -> None:
    assert ("child_id_collision", "warning", "pB") in _kinds(model)


@pytest.mark.parametrize("model", ["pending_and_orphan"], indirect=True)
def test_duroxide_orphan_at_the_queue_head_is_an_error(model: Model) -> None:
    orphans = [k for k in _kinds(model) if k[0] == "orphan_message"]
    assert ("orphan_message", "error", "does-not-exist") in orphans


@pytest.mark.parametrize("model", ["nondeterminism"], indirect=True)
def test_duroxide_nondeterminism_is_found(model: Model) -> None:
    assert any(k[0] == "nondeterminism" and k[1] == "error" for k in _kinds(model))


@pytest.mark.parametrize("model", ["pre_fix_shape"], indirect=True)
def test_pre_fix_shape_store_shows_the_repeated_child_id(model: Model) -> None:
    """The hang is a collision and a stuck parent, at execution 2's schedule; nothing else."""
    from durascope.replay import diagnose

    assert _kinds(model) == {
        ("child_id_collision", "error", "can-job"),
        ("stuck_parent", "error", "can-job"),
    }  # in particular no misrouted or filtered notification: the store holds none
    for finding in diagnose(model):
        assert (finding.execution, finding.event_id) == (2, 2)
        assert "can-job::sub::2" in {r.instance for r in finding.related}
    collision = next(f for f in diagnose(model) if f.kind == "child_id_collision")
    held = [r for r in collision.related if r.execution is not None]
    assert [(r.instance, r.execution, r.event_id) for r in held] == [("can-job", 1, 2)]
