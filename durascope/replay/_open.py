"""Open any input (durascope store, duroxide store, bundle) and say which it was."""

from __future__ import annotations

from pathlib import Path

from durascope.replay._bundle import load_bundle
from durascope.replay._durascope_source import load_durascope_store
from durascope.replay._duroxide_source import load_duroxide_store
from durascope.replay._model import Model, SourceError
from durascope.replay._sqlite_reader import ReadOnlyDatabase, is_sqlite_file

DUROXIDE_TABLES = frozenset({"instances", "executions", "history", "orchestrator_queue"})


def open_model(path: str | Path) -> Model:
    """Read PATH into the view model (events load lazily for stores).

    Raises:
        SourceError: With one line saying what is wrong (missing file, corrupt or
            truncated database, a SQLite file of another kind, a bad bundle).
    """
    p = Path(path)
    if not p.exists():
        raise SourceError(f"{p}: no such file")
    if p.is_dir():
        raise SourceError(f"{p}: is a directory, not a store or bundle")
    try:
        sqlite = is_sqlite_file(p)
    except OSError as exc:
        raise SourceError(f"{p}: cannot read ({exc.strerror})") from None
    if not sqlite:
        return load_bundle(p)
    db = ReadOnlyDatabase(p)
    try:
        tables = db.tables()
        if "durascope_meta" in tables:
            return load_durascope_store(db)
        if tables >= DUROXIDE_TABLES:
            return load_duroxide_store(db)
    except SourceError:
        db.close()
        raise
    db.close()
    if not tables and _wal_mode(p) and not Path(f"{p}-wal").exists():
        raise SourceError(
            f"{p}: no tables, and the database is in WAL mode without its {p.name}-wal file "
            "beside it; recent commits live in that file: copy it along with the store"
        )
    raise SourceError(f"{p}: a SQLite database, but neither a durascope nor a duroxide store")


def _wal_mode(path: Path) -> bool:
    """Whether the header says WAL (file format write version 2, byte 18)."""
    with path.open("rb") as fh:
        header = fh.read(20)
    return len(header) > 18 and header[18] == 2
