"""The demo's store: replaced on every run, but only when the demo wrote it.

``durascope demo`` is idempotent: a second run rewrites the store of the first.
It must never delete anyone else's store named by ``-o``, so it stamps its own:

- ``durascope_meta.demo_store`` is set on the empty store before any scenario
  runs, so even an interrupted demo leaves a store the next run may replace;
- ``durascope_meta.demo_instances`` is set when the scenarios are done: the ids
  of the instances they started.  A store that has gained others since (someone
  pointed their own runtime at it) holds data the demo did not write, and is kept.

A file is replaced only when it is a durascope store with the first stamp and no
instance outside the second; anything else (another SQLite database, a store of
the user's, a bundle, a directory) is refused.  The check reads the file the way
every inspection does (``ReadOnlyDatabase``: nothing is created beside it).
A marker rather than "every id is one the scenarios use" alone: ids such as
``healthy-loop`` are easy to reuse by accident, the stamp is not.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import NoReturn

from durascope.replay import SourceError
from durascope.replay._sqlite_reader import ReadOnlyDatabase, is_sqlite_file
from durascope.runtime import SqliteStore

MARKER_KEY = "demo_store"
"""``durascope_meta`` key stamped on a store the demo created."""

MARKER_VALUE = "written by durascope demo"

INSTANCES_KEY = "demo_instances"
"""``durascope_meta`` key: a JSON list of the instance ids the demo's scenarios started."""

SIDECARS = ("-wal", "-shm", "-journal")

SHOWN_IDS = 3
"""How many foreign instance ids the refusal names."""


class NotADemoStoreError(Exception):
    """The demo's output path holds something the demo did not write (one-line message)."""


def check_replaceable(path: Path) -> None:
    """Refuse unless nothing is at ``path`` or the store there is one the demo wrote.

    Raises:
        NotADemoStoreError: ``path`` is a directory, not a SQLite file, not a store
            the demo stamped, or holds instances the demo did not start.
    """
    if not path.exists():
        return
    if path.is_dir():
        _refuse(path, "it is a directory")
    try:
        sqlite = is_sqlite_file(path)
    except OSError as exc:
        _refuse(path, f"it cannot be read ({exc.strerror})")
    if not sqlite:
        _refuse(path, "it is not a SQLite store")
    try:
        db = ReadOnlyDatabase(path)
    except SourceError:
        _refuse(path, "it is not a readable SQLite database")
    try:
        if "durascope_meta" not in db.tables():
            _refuse(path, "it is not a durascope store")
        meta = {str(k): str(v) for k, v in db.query("SELECT key, value FROM durascope_meta")}
        if meta.get(MARKER_KEY) != MARKER_VALUE:
            _refuse(path, "it is a durascope store the demo did not write")
        ids = {str(row[0]) for row in db.query("SELECT instance_id FROM instances")}
    except SourceError:
        _refuse(path, "it is not a readable durascope store")
    finally:
        db.close()
    recorded = meta.get(INSTANCES_KEY)
    if recorded is None:  # a demo interrupted before it finished: only its own instances
        return
    try:
        ours = set(json.loads(recorded))
    except (json.JSONDecodeError, TypeError):
        _refuse(path, f"its {INSTANCES_KEY} stamp is unreadable")
    foreign = sorted(ids - ours)
    if foreign:
        shown = ", ".join(foreign[:SHOWN_IDS]) + (", …" if len(foreign) > SHOWN_IDS else "")
        count = f"{len(foreign)} instance{'' if len(foreign) == 1 else 's'}"
        _refuse(path, f"it holds {count} the demo did not start ({shown})")


def _refuse(path: Path, reason: str) -> NoReturn:
    raise NotADemoStoreError(
        f"{path}: {reason}; refusing to replace it with the demo's store "
        "(pass another -o STORE, or remove the file yourself)"
    )


def create_demo_store(path: Path) -> None:
    """Replace ``path`` (see :func:`check_replaceable`) by an empty store stamped as the demo's.

    Raises:
        NotADemoStoreError: ``path`` holds something the demo did not write.
    """
    check_replaceable(path)
    for suffix in ("", *SIDECARS):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    asyncio.run(_install_schema(path))
    _stamp(path, MARKER_KEY, MARKER_VALUE)


async def _install_schema(path: Path) -> None:
    store = await SqliteStore.open(path)
    await store.close()


def record_demo_instances(path: Path) -> None:
    """Stamp the ids of the instances now in the demo's store (call once the scenarios ran)."""
    with closing(sqlite3.connect(path)) as db:
        ids = sorted(str(row[0]) for row in db.execute("SELECT instance_id FROM instances"))
    _stamp(path, INSTANCES_KEY, json.dumps(ids))


def _stamp(path: Path, key: str, value: str) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("INSERT OR REPLACE INTO durascope_meta(key, value) VALUES (?, ?)", (key, value))
