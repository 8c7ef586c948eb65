"""Read-only access to a SQLite store file, shared by the durascope and duroxide readers.

Inspection never writes: the file is opened with SQLite's ``mode=ro`` URI (no
migrations, no journal, no locks held between statements), so a runtime can keep
writing while the debugger reads.  A read-only connection to a WAL database
still creates the ``-wal`` and ``-shm`` files beside it when they are missing
(SQLite does so even with ``mode=ro`` when the directory is writable), and
inspection must never create or change anything beside a store.  So:

- neither ``-wal`` nor ``-shm`` (no writer has the file open, nothing waits in
  a WAL): the file is opened ``immutable=1``, which creates nothing;
- a ``-wal`` without its ``-shm`` (a store copied for a postmortem with its
  ``-wal`` beside it, or left by a process that died): no process has the store
  open, but recent commits live in the ``-wal``, which only a connection that
  may create the ``-shm`` can read.  The file and its ``-wal`` are copied into
  a private temporary directory and read there; the copy is removed on
  :meth:`ReadOnlyDatabase.close` (and when opening fails);
- a ``-shm`` (a writer has, or had, the store open): a plain ``mode=ro``
  connection, which reads the live store without blocking its writer.

For the first two, ``data_version`` watches the files themselves (sizes, times,
and whether a ``-shm`` appeared), so a watcher notices a writer arriving and
reopens.

Plain ``sqlite3`` rather than aiosqlite: the debugger's reads are bulk and
synchronous (``durascope.open`` must work in a notebook without touching its
event loop), and a thread hop per query would only slow them down; the TUI runs
them in thread workers.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from durascope.replay._model import SourceError

SQLITE_MAGIC = b"SQLite format 3\x00"


class ReadOnlyDatabase:
    """A read-only SQLite connection usable from several threads (one at a time).

    Attributes:
        path: The store as the caller named it (error messages quote it).
        immutable: Opened ``immutable=1``: no ``-wal`` or ``-shm`` beside the store.
        copied: Read from a private copy of the store and its ``-wal`` (see the
            module docstring); the copy goes away on :meth:`close`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        resolved = Path(path).resolve()
        self._files = (resolved, Path(f"{resolved}-wal"), Path(f"{resolved}-shm"))
        _, wal, shm = self._files
        self.immutable = not (wal.exists() or shm.exists())
        self._copy: _PrivateCopy | None = None
        target = resolved
        conn: sqlite3.Connection | None = None
        try:
            if not self.immutable and not shm.exists():
                self._copy = _PrivateCopy.of(resolved)
                if shm.exists():  # a writer opened the store while we copied: read it live
                    self._copy.remove()
                    self._copy = None
                else:
                    target = self._copy.store
            mode = "immutable=1" if self.immutable else "mode=ro"
            conn = sqlite3.connect(
                f"file:{quote(str(target))}?{mode}", uri=True, check_same_thread=False
            )
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except (sqlite3.DatabaseError, OSError) as exc:
            if conn is not None:
                conn.close()
            if self._copy is not None:
                self._copy.remove()
            if isinstance(exc, OSError):
                reason = exc.strerror or type(exc).__name__
                raise SourceError(
                    f"{self.path}: cannot copy it to read its -wal ({reason})"
                ) from None
            raise SourceError(f"{self.path}: not a readable SQLite database ({exc})") from None
        self._conn = conn
        self._lock = threading.Lock()

    @property
    def copied(self) -> bool:
        """Whether the reads go to a private copy (a ``-wal`` without its ``-shm``)."""
        return self._copy is not None

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

        ``PRAGMA data_version`` for a connection to the live store; for an
        immutable one or a private copy (which never see changes), a digest of
        the sizes and modification times of the store, its ``-wal`` and its
        ``-shm``, so that a writer arriving or committing changes it.
        """
        if self.immutable or self._copy is not None:
            return hash(tuple(_file_state(p) for p in self._files)) & 0x7FFFFFFF
        return int(self.query("PRAGMA data_version")[0][0])

    def close(self) -> None:
        """Close the connection (and remove the private copy, if any)."""
        with self._lock:
            self._conn.close()
        if self._copy is not None:
            self._copy.remove()


class _PrivateCopy:
    """A store and its ``-wal`` copied into a temporary directory of their own."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.store = directory / "store.db"
        # Removed on close; the finalizer covers a model nobody closed.
        self._finalizer = weakref.finalize(self, shutil.rmtree, directory, ignore_errors=True)

    @classmethod
    def of(cls, store: Path) -> _PrivateCopy:
        """Copy ``store`` and ``store-wal`` (raises OSError, leaving nothing behind)."""
        copy = cls(Path(tempfile.mkdtemp(prefix="durascope-")))
        try:
            shutil.copyfile(store, copy.store)
            shutil.copyfile(f"{store}-wal", f"{copy.store}-wal")
        except OSError:
            copy.remove()
            raise
        return copy

    def remove(self) -> None:
        """Delete the copy (idempotent)."""
        self._finalizer()


def _file_state(path: Path) -> tuple[int, int] | None:
    """Size and modification time of a file, or None when it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)


def is_sqlite_file(path: Path) -> bool:
    """Whether the file starts with SQLite's header."""
    with path.open("rb") as fh:
        return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
