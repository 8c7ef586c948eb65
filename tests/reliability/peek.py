"""A test's own look into a store file: plain ``sqlite3``, read-only, independent of durascope."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def peek(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row of one query, on a read-only connection opened and closed for it."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
