"""Read-only access to a SQLite store file, shared by the durascope and duroxide readers.

Inspection never writes: the file is opened with SQLite's ``mode=ro`` URI (no
migrations, no journal, no locks held between statements), so a runtime can keep
writing while the debugger reads.  A read-only connection to a WAL database
still creates the ``-wal`` and ``-shm`` files beside it when they are missing,
so when neither exists (no writer has the file open) the file is opened
``immutable=1`` instead, which creates nothing; ``data_version`` then watches
the file itself, so a watcher notices a writer arriving and reopens.

Plain ``sqlite3`` rather than aiosqlite: the debugger's reads are bulk and
synchronous (``durascope.open`` must work in a notebook without touching its
event loop), and a thread hop per query would only slow them down; the TUI runs
them in thread workers.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from durascope.replay._model import SourceError

SQLITE_MAGIC = b"SQLite format 3\x00"


class ReadOnlyDatabase:
    """A read-only SQLite connection usable from several threads (one at a time)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        resolved = Path(path).resolve()
        self.immutable = not (Path(f"{resolved}-wal").exists() or Path(f"{resolved}-shm").exists())
        mode = "immutable=1" if self.immutable else "mode=ro"
        uri = f"file:{quote(str(resolved))}?{mode}"
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise SourceError(f"{self.path}: not a readable SQLite database ({exc})") from None
        self._conn = conn
        self._lock = threading.Lock()

    def tables(self) -> set[str]:
        """Names of the user tables."""
        rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(r[0]) for r in rows}

    def columns(self, table: str) -> set[str]:
        """Column names of a table."""
        return {str(r[1]) for r in self.query(f"PRAGMA table_info({table})")}

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query and fetch every row; SQLite errors become one-line SourceErrors."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise SourceError(f"{self.path}: cannot read the database ({exc})") from None

    def iterate(self, sql: str, params: Sequence[Any] = ()) -> Iterable[tuple[Any, ...]]:
        """Stream rows of a large query in chunks (keeps memory flat).

        The lock is taken per chunk, not across ``yield``: a consumer may run other
        queries (lazy loads, progress callbacks) between rows without deadlocking.
        """
        try:
            with self._lock:
                cursor = self._conn.execute(sql, params)
            while True:
                with self._lock:
                    chunk = cursor.fetchmany(4096)
                if not chunk:
                    return
                yield from chunk
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"{self.path}: cannot read the database ({exc})") from None

    def data_version(self) -> int:
        """A number that changes when another connection commits.

        ``PRAGMA data_version`` for a normal read-only connection; for an immutable
        one (which never sees changes), a digest of the file's size and mtime and of
        whether a ``-wal`` file appeared.
        """
        if self.immutable:
            stat = Path(self.path).stat()
            wal = Path(f"{Path(self.path).resolve()}-wal").exists()
            return hash((stat.st_size, stat.st_mtime_ns, wal)) & 0x7FFFFFFF
        return int(self.query("PRAGMA data_version")[0][0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


def is_sqlite_file(path: Path) -> bool:
    """Whether the file starts with SQLite's header."""
    with path.open("rb") as fh:
        return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
