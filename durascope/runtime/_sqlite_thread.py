"""Running a whole SQLite transaction on aiosqlite's connection thread in one hop.

aiosqlite gives each connection a thread and runs every call there; awaiting
each statement costs a thread hand-off per statement.  The store instead hands
the thread one function that runs ``BEGIN IMMEDIATE`` ... ``COMMIT``, which uses
aiosqlite's private ``_conn`` attribute (pinned: aiosqlite 0.22.x); this module
is the only place that touches it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

import aiosqlite

T = TypeVar("T")

_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)


def is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _BUSY_CODES
    text = str(exc)
    return "locked" in text or "busy" in text


def raw_connection(conn: aiosqlite.Connection) -> sqlite3.Connection:
    return conn._conn  # only valid on the connection thread


def in_transaction(conn: aiosqlite.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
    """Runs on the connection thread: BEGIN IMMEDIATE, body, COMMIT, in one hop."""
    db = raw_connection(conn)
    db.execute("BEGIN IMMEDIATE")
    try:
        result = body(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # a failed COMMIT leaves it open
            db.execute("ROLLBACK")
        raise
    return result


def enable_wal(db: sqlite3.Connection) -> None:
    # WAL lets readers (the debugger, other processes' pollers) run beside the
    # writer.  With WAL, NORMAL survives process crashes (only a power loss can
    # drop the last commits) and saves an fsync per transaction.
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
