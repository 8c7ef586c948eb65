"""A store copied with its ``-wal`` but without its ``-shm`` (the postmortem case).

SQLite creates a ``-shm`` beside such a store even for a ``mode=ro`` connection
when the directory is writable.  Inspection must create and change nothing
there: the store and its ``-wal`` are read from a private copy, which is gone
once the command ends (also when opening fails).  Both store kinds, every
command, the directory fingerprinted before and after each one.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from durascope.replay import SourceError, open_model
from tests.reliability.hostile import check_clean, consolidate, run_cli
from tests.reliability.test_read_only import SCENARIO_CODE, every_command, fingerprint

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_STORE = ROOT / "fixtures" / "scenarios.db"
WAL_MARK = "written-to-the-wal"


def wal_only_copy(source: Path, directory: Path, instance: str) -> Path:
    """Copy ``source`` into ``directory`` as ``store.db`` plus a ``-wal`` and no ``-shm``.

    The ``-wal`` holds one commit (``instance``'s custom status set to
    :data:`WAL_MARK`), so a reader that ignored it would not see the mark.  The
    copy is taken while the writing connection is open, as a user copying a
    store mid-run (or after a crash) would.
    """
    writer_dir = directory.parent / f"{directory.name}-writer"
    writer_dir.mkdir()
    live = writer_dir / "store.db"
    consolidate(source, live)
    conn = sqlite3.connect(live)
    try:
        assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute(
            "UPDATE instances SET custom_status = ? WHERE instance_id = ?", (WAL_MARK, instance)
        )
        conn.commit()
        directory.mkdir(exist_ok=True)
        target = directory / "store.db"
        shutil.copyfile(live, target)
        shutil.copyfile(f"{live}-wal", f"{target}-wal")
    finally:
        conn.close()
    shutil.rmtree(writer_dir)
    assert sorted(p.name for p in directory.iterdir()) == ["store.db", "store.db-wal"]
    return target


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where the private copies go during the test (checked empty afterwards)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch


@pytest.fixture(scope="module")
def duroxide_healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("duroxide", reason="the real duroxide package writes duroxide stores")
    from tests.replay.duroxide_stores import generate

    return generate(tmp_path_factory.mktemp("duroxide"), ["healthy"])["healthy"]


def _source(kind: str, duroxide_healthy: Path | None) -> tuple[Path, str]:
    if kind == "durascope":
        return SCENARIO_STORE, "healthy-loop"
    assert duroxide_healthy is not None
    return duroxide_healthy, "healthy"


@pytest.mark.parametrize("kind", ["durascope", "duroxide"])
def test_every_command_leaves_a_wal_only_copy_untouched(
    kind: str, tmp_path: Path, private_tmp: Path, request: pytest.FixtureRequest
) -> None:
    healthy = request.getfixturevalue("duroxide_healthy") if kind == "duroxide" else None
    source, instance = _source(kind, healthy)
    store_dir = tmp_path / "store"
    path = wal_only_copy(source, store_dir, instance)
    out = tmp_path / "out"
    out.mkdir()
    module = None
    if kind == "durascope":
        module = tmp_path / "code" / "scenario_code.py"
        module.parent.mkdir()
        module.write_text(SCENARIO_CODE)
    commands = every_command(path, instance, out, module)
    for args in commands:
        before = fingerprint(store_dir)
        code, stdout, stderr = run_cli(args)
        check_clean(args, code, stdout, stderr)
        assert code in (0, 1), (args, stderr)
        assert fingerprint(store_dir) == before, args  # same names, same bytes: no -shm
        assert list(private_tmp.iterdir()) == [], args  # the private copy is gone
    assert len(commands) == (9 if module else 8)
    # What was read is the store with its -wal, not the main file alone.
    model = open_model(path)
    try:
        assert model.origin.path == str(path)
        assert model.instance(instance).custom_status == WAL_MARK
        assert model.load_all() > 0
    finally:
        model.close()
    assert list(private_tmp.iterdir()) == []
    assert sorted(p.name for p in store_dir.iterdir()) == ["store.db", "store.db-wal"]


def test_the_private_copy_is_removed_when_opening_fails(tmp_path: Path, private_tmp: Path) -> None:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    path = store_dir / "store.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\x07" * 8000)  # a header, then garbage
    Path(f"{path}-wal").write_bytes(b"\x00" * 64)
    before = fingerprint(store_dir)
    with pytest.raises(SourceError) as info:
        open_model(path).close()
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert list(private_tmp.iterdir()) == []
    assert fingerprint(store_dir) == before


def test_a_live_store_is_read_in_place(tmp_path: Path, private_tmp: Path) -> None:
    """With a ``-shm`` beside it (a writer has the store open) nothing is copied."""
    live = tmp_path / "live.db"
    consolidate(SCENARIO_STORE, live)
    writer = sqlite3.connect(live)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute(
            "UPDATE instances SET custom_status = ? WHERE instance_id = 'healthy-loop'", (WAL_MARK,)
        )
        writer.commit()
        assert Path(f"{live}-shm").exists()
        model = open_model(live)
        try:
            assert list(private_tmp.iterdir()) == []
            assert model.instance("healthy-loop").custom_status == WAL_MARK
            assert not model.changed()
            writer.execute(
                "UPDATE instances SET custom_status = 'later' WHERE instance_id = 'healthy-loop'"
            )
            writer.commit()
            assert model.changed()  # the live connection sees commits
        finally:
            model.close()
    finally:
        writer.close()


def test_a_private_copy_notices_a_writer_arriving(tmp_path: Path, private_tmp: Path) -> None:
    path = wal_only_copy(SCENARIO_STORE, tmp_path / "store", "healthy-loop")
    model = open_model(path)
    try:
        assert len(list(private_tmp.iterdir())) == 1  # the copy, while the model is open
        assert not model.changed()
        writer = sqlite3.connect(path)  # a runtime opening the original store
        try:
            writer.execute(
                "UPDATE instances SET custom_status = 'later' WHERE instance_id = 'healthy-loop'"
            )
            writer.commit()
            assert model.changed()
        finally:
            writer.close()
    finally:
        model.close()
    assert list(private_tmp.iterdir()) == []
