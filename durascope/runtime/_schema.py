"""The durascope store's SQLite schema (version 1), its installation, and its statements.

Tables mirror duroxide's SQLite provider (instances, executions, history,
orchestrator_queue, worker_queue, instance_locks) so that readers can share
logic between the two kinds of store; times are integer milliseconds in
``*_ms`` columns.  ``durascope_meta`` tells a durascope store from a duroxide
one, and ``turns`` is the turn journal that duroxide does not have.  The SQL
statements the store runs live here too, next to the tables they depend on.
"""

from __future__ import annotations

import sqlite3

from durascope.runtime._store_types import StoreError
from durascope.runtime._turn_types import ENGINE_VERSION

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


def install_schema(db: sqlite3.Connection) -> None:
    """Create missing tables, or check that an existing file is a compatible store.

    Must run inside a write transaction, so that processes opening the same new
    file at once do not both stamp it.

    Args:
        db: The store's connection, with ``BEGIN IMMEDIATE`` already issued.

    Raises:
        StoreError: The file holds another kind of database (a duroxide store, for
            instance), or a durascope schema newer than :data:`SCHEMA_VERSION`.
    """
    tables = {
        str(row[0])
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    if tables and "durascope_meta" not in tables:
        hint = " (it looks like a duroxide store)" if "_sqlx_migrations" in tables else ""
        raise StoreError(f"not a durascope store{hint}: no durascope_meta table")
    if tables:
        meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM durascope_meta")}
        if meta.get("kind") != STORE_KIND:
            raise StoreError(f"not a durascope store: kind is {meta.get('kind')!r}")
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            raise StoreError(f"unreadable schema_version {meta.get('schema_version')!r}") from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store schema version {version} is newer than this durascope "
                f"supports ({SCHEMA_VERSION}); upgrade durascope"
            )
    for statement in DDL:
        db.execute(statement)
    # Version 1 is the first schema, so there is nothing to migrate from yet;
    # INSERT OR IGNORE keeps an existing stamp.
    db.executemany(
        "INSERT OR IGNORE INTO durascope_meta(key, value) VALUES (?, ?)",
        [
            ("schema_version", str(SCHEMA_VERSION)),
            ("kind", STORE_KIND),
            ("engine_version", ENGINE_VERSION),
        ],
    )


# -- statements ------------------------------------------------------------------

# The unary ``+`` keeps SQLite off the (visible_at_ms, id) index: scanning the
# queue in id order and stopping at the first fetchable row is O(1) for a
# backlog, whereas the index range scan must sort every visible row.
PICK_AND_LOCK = """
INSERT INTO instance_locks (instance_id, lock_token, locked_until_ms)
SELECT q.instance_id, :token, :until
FROM orchestrator_queue AS q
LEFT JOIN instance_locks AS l ON l.instance_id = q.instance_id
WHERE +q.visible_at_ms <= :now AND (l.locked_until_ms IS NULL OR l.locked_until_ms <= :now)
ORDER BY q.id LIMIT 1
ON CONFLICT (instance_id) DO UPDATE
SET lock_token = excluded.lock_token, locked_until_ms = excluded.locked_until_ms
WHERE instance_locks.locked_until_ms <= :now
RETURNING instance_id"""

LOCK_MESSAGES = """
UPDATE orchestrator_queue SET lock_token = ?, attempt_count = attempt_count + 1
WHERE instance_id = ? AND visible_at_ms <= ?
RETURNING id, work_item, attempt_count"""

INSTANCE_INFO = """
SELECT (SELECT COALESCE(MAX(turn), 0) + 1 FROM turns WHERE instance_id = :i),
       i.orchestration_name, i.orchestration_version, i.current_execution_id
FROM (SELECT 1) LEFT JOIN instances AS i ON i.instance_id = :i"""

HISTORY_FROM = """
SELECT event_id, event_data FROM history
WHERE instance_id = ? AND execution_id = ? AND event_id >= ? ORDER BY event_id"""

RELEASE_LIVE_LOCK = """
DELETE FROM instance_locks WHERE instance_id = ? AND lock_token = ? AND locked_until_ms > ?
RETURNING 1"""

DELETE_MESSAGE = "DELETE FROM orchestrator_queue WHERE id = ?"

UPSERT_INSTANCE = """
INSERT INTO instances (instance_id, orchestration_name, orchestration_version,
    current_execution_id, parent_instance_id, created_at_ms, updated_at_ms)
VALUES (:i, :name, :version, :e, :parent, :now, :now)
ON CONFLICT (instance_id) DO UPDATE SET
    orchestration_name = excluded.orchestration_name,
    orchestration_version = COALESCE(excluded.orchestration_version, orchestration_version),
    current_execution_id = MAX(current_execution_id, excluded.current_execution_id),
    updated_at_ms = excluded.updated_at_ms"""

BUMP_EXECUTION = """
UPDATE instances SET current_execution_id = MAX(current_execution_id, :e), updated_at_ms = :now
WHERE instance_id = :i"""

# A terminal status overwrites; 'Running' only creates the row.
UPSERT_EXECUTION = """
INSERT INTO executions (instance_id, execution_id, status, output, started_at_ms, completed_at_ms)
VALUES (:i, :e, :status, :output, :now, :completed)
ON CONFLICT (instance_id, execution_id) DO UPDATE SET
    status = excluded.status, output = excluded.output, completed_at_ms = excluded.completed_at_ms
WHERE excluded.status <> 'Running'"""

INSERT_EVENT = """
INSERT INTO history (instance_id, execution_id, event_id, event_type, event_data)
VALUES (?, ?, ?, ?, ?)"""

SET_CUSTOM_STATUS = """
UPDATE instances SET custom_status = :custom_status,
    custom_status_version = custom_status_version + 1, updated_at_ms = :now
WHERE instance_id = :i"""

INSERT_TURN = """
INSERT INTO turns (instance_id, turn, execution_id, timestamp_ms, record) VALUES (?, ?, ?, ?, ?)"""

INSERT_MESSAGE = """
INSERT INTO orchestrator_queue (instance_id, work_item, visible_at_ms, created_at_ms)
VALUES (?, ?, ?, ?)"""

RELEASE_LOCK = """
DELETE FROM instance_locks WHERE instance_id = :i AND lock_token = :t RETURNING 1"""

REQUEUE_MESSAGES = """
UPDATE orchestrator_queue SET lock_token = NULL,
    visible_at_ms = COALESCE(:visible, visible_at_ms),
    attempt_count = MAX(attempt_count - :dec, 0)
WHERE instance_id = :i AND lock_token = :t"""

RENEW_LOCK = """
UPDATE instance_locks SET locked_until_ms = ?
WHERE instance_id = ? AND lock_token = ? AND locked_until_ms > ?
RETURNING 1"""

INSERT_WORK = """
INSERT INTO worker_queue (work_item, visible_at_ms, instance_id, execution_id, activity_id,
    created_at_ms) VALUES (?, ?, ?, ?, ?, ?)"""

CANCEL_WORK = """
DELETE FROM worker_queue WHERE instance_id = ? AND execution_id = ? AND activity_id = ?"""

WORK_TAG = (
    "(CASE WHEN json_valid(work_item) THEN json_extract(work_item, '$.ActivityExecute.tag') END)"
)
"""A worker row's tag, NULL when untagged (or when the row is not JSON: it gets parked)."""


def fetch_work(tag_condition: str) -> str:
    """Lock the lowest-id visible, unlocked worker row whose tag meets ``tag_condition``."""
    return f"""
UPDATE worker_queue SET lock_token = :token, locked_until_ms = :until,
    attempt_count = attempt_count + 1
WHERE id = (SELECT id FROM worker_queue
            WHERE +visible_at_ms <= :now AND (locked_until_ms IS NULL OR locked_until_ms <= :now)
                AND {tag_condition}
            ORDER BY id LIMIT 1)
RETURNING id, work_item, attempt_count"""


PARK_WORK = """
UPDATE worker_queue SET visible_at_ms = ?, lock_token = NULL, locked_until_ms = NULL
WHERE id = ?"""

ACK_WORK = "DELETE FROM worker_queue WHERE id = ? AND lock_token = ? RETURNING 1"

ABANDON_WORK = """
UPDATE worker_queue SET lock_token = NULL, locked_until_ms = NULL,
    visible_at_ms = COALESCE(?, visible_at_ms)
WHERE id = ? AND lock_token = ?
RETURNING 1"""

RENEW_WORK = """
UPDATE worker_queue SET locked_until_ms = ? WHERE id = ? AND lock_token = ? RETURNING 1"""

# A row's earliest fetch time: its visibility, or its lock's expiry if later.
NEXT_MESSAGE_AT = """
SELECT MIN(MAX(q.visible_at_ms, COALESCE(l.locked_until_ms, 0)))
FROM orchestrator_queue AS q LEFT JOIN instance_locks AS l ON l.instance_id = q.instance_id"""

NEXT_WORK_AT = f"""
SELECT MIN(MAX(visible_at_ms, COALESCE(locked_until_ms, 0)))
FROM worker_queue WHERE visible_at_ms < {PARKED_VISIBLE_AT_MS}"""

SELECT_INSTANCES = """
SELECT i.instance_id, i.orchestration_name, i.orchestration_version, i.current_execution_id,
       i.parent_instance_id, i.custom_status, i.custom_status_version, e.status, e.output,
       i.created_at_ms, i.updated_at_ms
FROM instances AS i LEFT JOIN executions AS e
    ON e.instance_id = i.instance_id AND e.execution_id = i.current_execution_id"""
BY_ID = " WHERE i.instance_id = ?"
BY_CREATION = " ORDER BY i.created_at_ms, i.instance_id"

SELECT_CHILDREN = """
SELECT instance_id FROM instances WHERE parent_instance_id = ?
ORDER BY created_at_ms, instance_id"""

SELECT_EXECUTIONS = """
SELECT e.instance_id, e.execution_id, e.status, e.output, e.started_at_ms, e.completed_at_ms,
       (SELECT COUNT(*) FROM history AS h
        WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id)
FROM executions AS e WHERE e.instance_id = ? ORDER BY e.execution_id"""

SELECT_TURNS = "SELECT record FROM turns WHERE instance_id = ? ORDER BY turn"

# ``locked``: the row carries the instance's current lock token (unexpired at
# :now when given).
SELECT_MESSAGES = """
SELECT q.id, q.instance_id, q.work_item, q.visible_at_ms, q.attempt_count,
       l.lock_token IS NOT NULL AND q.lock_token IS l.lock_token
       AND (:now IS NULL OR l.locked_until_ms > :now)
FROM orchestrator_queue AS q LEFT JOIN instance_locks AS l ON l.instance_id = q.instance_id
ORDER BY q.id"""

SELECT_WORK = """
SELECT id, instance_id, work_item, visible_at_ms, attempt_count,
       locked_until_ms IS NOT NULL AND (:now IS NULL OR locked_until_ms > :now)
FROM worker_queue ORDER BY id"""
