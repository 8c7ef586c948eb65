"""The durascope store's SQLite schema (version 1) and its installation.

Tables mirror duroxide's SQLite provider (instances, executions, history,
orchestrator_queue, worker_queue, instance_locks) so that readers can share
logic between the two kinds of store; times are integer milliseconds in
``*_ms`` columns.  ``durascope_meta`` tells a durascope store from a duroxide
one, and ``turns`` is the turn journal that duroxide does not have.
"""

from __future__ import annotations

import aiosqlite

from durascope.runtime._store_types import StoreError

SCHEMA_VERSION = 1
"""The schema version this code writes; files with a newer version are refused."""

STORE_KIND = "durascope-store"
"""``durascope_meta.kind`` of every durascope store."""

PARKED_VISIBLE_AT_MS = 1 << 62
"""``visible_at_ms`` of worker rows that cannot be decoded: kept for inspection,
never fetched, and ignored by wake-up computations."""

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS durascope_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS instances (
        instance_id TEXT PRIMARY KEY,
        orchestration_name TEXT NOT NULL,
        orchestration_version TEXT,
        current_execution_id INTEGER NOT NULL DEFAULT 1,
        parent_instance_id TEXT,
        custom_status TEXT,
        custom_status_version INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS idx_instances_parent ON instances(parent_instance_id)",
    "CREATE INDEX IF NOT EXISTS idx_instances_created ON instances(created_at_ms, instance_id)",
    """CREATE TABLE IF NOT EXISTS executions (
        instance_id TEXT NOT NULL,
        execution_id INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'Running',
        output TEXT,
        started_at_ms INTEGER NOT NULL,
        completed_at_ms INTEGER,
        PRIMARY KEY (instance_id, execution_id)
    )""",
    """CREATE TABLE IF NOT EXISTS history (
        instance_id TEXT NOT NULL,
        execution_id INTEGER NOT NULL,
        event_id INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        event_data TEXT NOT NULL,
        PRIMARY KEY (instance_id, execution_id, event_id)
    )""",
    """CREATE TABLE IF NOT EXISTS orchestrator_queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        instance_id TEXT NOT NULL,
        work_item TEXT NOT NULL,
        visible_at_ms INTEGER NOT NULL,
        lock_token TEXT,
        attempt_count INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS idx_orch_visible ON orchestrator_queue(visible_at_ms, id)",
    "CREATE INDEX IF NOT EXISTS idx_orch_instance ON orchestrator_queue(instance_id)",
    """CREATE TABLE IF NOT EXISTS worker_queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        work_item TEXT NOT NULL,
        visible_at_ms INTEGER NOT NULL,
        lock_token TEXT,
        locked_until_ms INTEGER,
        attempt_count INTEGER NOT NULL DEFAULT 0,
        instance_id TEXT NOT NULL,
        execution_id INTEGER NOT NULL,
        activity_id INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS idx_worker_visible ON worker_queue(visible_at_ms, id)",
    """CREATE INDEX IF NOT EXISTS idx_worker_activity
        ON worker_queue(instance_id, execution_id, activity_id)""",
    """CREATE TABLE IF NOT EXISTS instance_locks (
        instance_id TEXT PRIMARY KEY,
        lock_token TEXT NOT NULL,
        locked_until_ms INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS turns (
        instance_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        execution_id INTEGER NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (instance_id, turn)
    )""",
)


async def install_schema(conn: aiosqlite.Connection) -> None:
    """Create missing tables, or check that an existing file is a compatible store.

    Must run inside a write transaction, so that processes opening the same new
    file at once do not both stamp it.

    Args:
        conn: The store's connection, with ``BEGIN IMMEDIATE`` already issued.

    Raises:
        StoreError: The file holds another kind of database (a duroxide store, for
            instance), or a durascope schema newer than :data:`SCHEMA_VERSION`.
    """
    tables = {
        str(row[0])
        for row in await conn.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    if tables and "durascope_meta" not in tables:
        hint = " (it looks like a duroxide store)" if "_sqlx_migrations" in tables else ""
        raise StoreError(f"not a durascope store{hint}: no durascope_meta table")
    if tables:
        meta = {
            str(k): str(v)
            for k, v in await conn.execute_fetchall("SELECT key, value FROM durascope_meta")
        }
        if meta.get("kind") != STORE_KIND:
            raise StoreError(f"not a durascope store: kind is {meta.get('kind')!r}")
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            raise StoreError(
                f"unreadable schema_version {meta.get('schema_version')!r}"
            ) from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store schema version {version} is newer than this durascope "
                f"supports ({SCHEMA_VERSION}); upgrade durascope"
            )
    for statement in DDL:
        await conn.execute(statement)
    # Version 1 is the first schema, so there is nothing to migrate from yet;
    # INSERT OR IGNORE keeps an existing stamp.
    await conn.executemany(
        "INSERT OR IGNORE INTO durascope_meta(key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), ("kind", STORE_KIND)],
    )
