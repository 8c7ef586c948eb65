"""A model read from a store is one snapshot, even while a runtime commits.

The index (instances, executions, event counts, queues) is read inside one read
transaction; events and turns load lazily later and stop where the index did.
A writer connection on the same WAL store plays the runtime.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from durascope.replay import Model, open_model
from durascope.replay import _open as opening
from durascope.replay._sqlite_reader import ReadOnlyDatabase
from tests.reliability.hostile import consolidate

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_STORE = ROOT / "fixtures" / "scenarios.db"


@pytest.fixture(scope="module")
def duroxide_healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("duroxide", reason="the real duroxide package writes duroxide stores")
    from tests.replay.duroxide_stores import generate

    return generate(tmp_path_factory.mktemp("duroxide"), ["healthy"])["healthy"]


@pytest.fixture
def live_store(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    """A copy of the scenario store in WAL mode, with a writer connection open on it."""
    path = tmp_path / "live.db"
    consolidate(SCENARIO_STORE, path)
    writer = sqlite3.connect(path, isolation_level=None)
    make_live(writer, path)
    yield path, writer
    writer.close()


def make_live(writer: sqlite3.Connection, path: Path) -> None:
    """Switch to WAL and commit once, so the store has its -wal and -shm (read in place)."""
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("UPDATE instances SET updated_at_ms = updated_at_ms")
    assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()


def read_in_place(model: Model) -> Model:
    """The model, after checking it reads the live file (not an immutable view or a copy)."""
    db = model.reader.db  # type: ignore[union-attr]
    assert isinstance(db, ReadOnlyDatabase) and not db.immutable and not db.copied
    return model


def commit_a_new_instance(writer: sqlite3.Connection, instance: str) -> None:
    """What a runtime's first turn of a new instance commits: instance, execution, history."""
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO instances (instance_id, orchestration_name, orchestration_version, "
        "current_execution_id, created_at_ms, updated_at_ms) VALUES (?, 'Late', '1.0.0', 1, 0, 0)",
        (instance,),
    )
    writer.execute(
        "INSERT INTO executions (instance_id, execution_id, status, started_at_ms) "
        "VALUES (?, 1, 'Running', 0)",
        (instance,),
    )
    started = {
        "event_id": 1,
        "source_event_id": None,
        "instance_id": instance,
        "execution_id": 1,
        "timestamp_ms": 1,
        "duroxide_version": "",
        "type": "OrchestrationStarted",
        "name": "Late",
        "version": "1.0.0",
        "input": "null",
        "parent_instance": None,
        "parent_id": None,
    }
    writer.execute(
        "INSERT INTO history VALUES (?, 1, 1, 'OrchestrationStarted', ?)",
        (instance, json.dumps(started)),
    )
    writer.execute("COMMIT")


def append_to_history(writer: sqlite3.Connection, instance: str, execution: int) -> None:
    """Append one event to an execution (and, in a durascope store, a turn to the journal)."""
    (last_id, data) = writer.execute(
        "SELECT event_id, event_data FROM history WHERE instance_id = ? AND execution_id = ? "
        "ORDER BY event_id DESC LIMIT 1",
        (instance, execution),
    ).fetchone()
    event = {**json.loads(data), "event_id": last_id + 1, "type": "KeyValuesCleared"}
    for field in list(event):
        if field not in ("event_id", "source_event_id", "instance_id", "execution_id",
                         "timestamp_ms", "duroxide_version", "type"):  # fmt: skip
            del event[field]
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO history (instance_id, execution_id, event_id, event_type, event_data) "
        "VALUES (?, ?, ?, 'KeyValuesCleared', ?)",
        (instance, execution, last_id + 1, json.dumps(event)),
    )
    tables = {r[0] for r in writer.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "turns" in tables:
        turn, ex, ts, record = writer.execute(
            "SELECT turn, execution_id, timestamp_ms, record FROM turns WHERE instance_id = ? "
            "ORDER BY turn DESC LIMIT 1",
            (instance,),
        ).fetchone()
        doc = {**json.loads(record), "turn": turn + 1, "delta_event_ids": [last_id + 1]}
        writer.execute(
            "INSERT INTO turns VALUES (?, ?, ?, ?, ?)",
            (instance, turn + 1, ex, ts, json.dumps(doc)),
        )
    writer.execute("COMMIT")


class CommitsAfterExecutions(ReadOnlyDatabase):
    """A reader during whose load a runtime commits, right after the executions are read."""

    writer: sqlite3.Connection

    def query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        rows = super().query(sql, params)
        if "FROM executions e" in sql:
            commit_a_new_instance(self.writer, "late")
            append_to_history(self.writer, "healthy-loop", 1)
        return rows


def test_the_index_is_one_snapshot(
    live_store: tuple[Path, sqlite3.Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, writer = live_store
    CommitsAfterExecutions.writer = writer
    monkeypatch.setattr(opening, "ReadOnlyDatabase", CommitsAfterExecutions)
    model = read_in_place(opening.open_model(path))
    try:
        assert "late" not in model.instances  # committed after the snapshot began
        assert all(inst.executions for inst in model)  # never an instance without executions
        assert model.changed()  # the commits happened; a watcher reopens to see them
    finally:
        model.close()
    monkeypatch.undo()
    again = open_model(path)
    try:
        assert [x.execution_id for x in again.instance("late").executions] == [1]
    finally:
        again.close()


def _counts(model: Model, instance: str) -> tuple[list[int | None], int]:
    inst = model.instance(instance)
    return [x.event_count for x in inst.executions], len(inst.turns)


@pytest.mark.parametrize("bulk", [False, True], ids=["lazily", "load_all"])
def test_later_reads_stop_where_the_index_did(
    live_store: tuple[Path, sqlite3.Connection], bulk: bool
) -> None:
    path, writer = live_store
    model = read_in_place(open_model(path))
    try:
        healthy = model.instance("healthy-loop")
        counted = [x.event_count for x in healthy.executions]
        assert counted and all(counted)
        turns_before = writer.execute(
            "SELECT count(*) FROM turns WHERE instance_id = 'healthy-loop'"
        ).fetchone()[0]
        for execution in healthy.executions:
            append_to_history(writer, "healthy-loop", execution.execution_id)
        commit_a_new_instance(writer, "late")
        assert model.changed()
        loaded = model.load_all() if bulk else None
        events = [len(x.events) for x in healthy.executions]
        assert events == counted  # not the appended events
        assert all(x.events[-1].type != "KeyValuesCleared" for x in healthy.executions)
        assert len(healthy.turns) == turns_before  # not the appended turns
        if loaded is not None:
            total = sum(x.event_count or 0 for inst in model for x in inst.executions)
            assert loaded == total
        assert "late" not in model.instances
    finally:
        model.close()
    fresh = open_model(path)
    try:
        inst = fresh.instance("healthy-loop")
        assert [len(x.events) for x in inst.executions] == [n + 1 for n in counted]
        assert len(inst.turns) == turns_before + len(counted)
    finally:
        fresh.close()


def test_later_reads_of_a_duroxide_store_stop_where_the_index_did(
    duroxide_healthy: Path, tmp_path: Path
) -> None:
    path = tmp_path / "live.db"
    consolidate(duroxide_healthy, path)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("UPDATE instances SET custom_status = custom_status")
        model = read_in_place(open_model(path))
        try:
            counted = [x.event_count for x in model.instance("healthy").executions]
            append_to_history(writer, "healthy", 1)
            assert [len(x.events) for x in model.instance("healthy").executions] == counted
        finally:
            model.close()
        fresh = open_model(path)
        try:
            assert fresh.instance("healthy").execution(1).event_count == counted[0] + 1  # type: ignore[operator]
        finally:
            fresh.close()
    finally:
        writer.close()
