"""The demo's store: replaced on every run, but only when the demo wrote it.

``durascope demo`` is idempotent: a second run rewrites the store of the first.
It must never delete anyone else's store named by ``-o``, so it stamps its own:

- ``durascope_meta.demo_store`` is set on the empty store before any scenario
  runs, so even an interrupted demo leaves a store the next run may replace;
- when the scenarios are done, ``demo_instances`` records the instance ids they
  wrote or queued messages for, and ``demo_queued`` what they left queued (timers of
  instances that hang, the event for an instance that does not exist).  A store
  that has gained anything since (someone pointed their own runtime or client
  at it: an instance, a start or an event still queued, a lock) holds data the
  demo did not write, and is kept.

A file is replaced only when it is a durascope store with the first stamp and
nothing beyond the others; anything else (another SQLite database, a store of
the user's, a bundle, a directory) is refused.  A store without the second
stamps (the demo was interrupted, or an older durascope wrote it) may name
only instance ids the scenarios use (:func:`is_scenario_instance`), in every
table and in every queued message.  The check reads the file the way every
inspection does (``ReadOnlyDatabase``: nothing is created beside it).
A marker rather than "every id is one the scenarios use" alone: ids such as
``healthy-loop`` are easy to reuse by accident, the stamp is not.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from durascope.replay import SourceError
from durascope.replay._sqlite_reader import ReadOnlyDatabase, is_sqlite_file
from durascope.runtime import SqliteStore
from durascope.scenarios._catalog import SCENARIOS

MARKER_KEY = "demo_store"
"""``durascope_meta`` key stamped on a store the demo created."""

MARKER_VALUE = "written by durascope demo"

INSTANCES_KEY = "demo_instances"
"""``durascope_meta`` key: a JSON list of the instance ids the demo wrote or queued messages for."""

QUEUED_KEY = "demo_queued"
"""``durascope_meta`` key: a JSON list of :attr:`StoreContents.queued` as the demo left it."""

HISTORY_TABLES = ("instances", "executions", "history", "turns")
QUEUE_TABLES = ("orchestrator_queue", "worker_queue")
LOCK_TABLE = "instance_locks"

SIDECARS = ("-wal", "-shm", "-journal")

SHOWN_IDS = 3
"""How many foreign instance ids the refusal names."""


class NotADemoStoreError(Exception):
    """The demo's output path holds something the demo did not write (one-line message)."""


def is_scenario_instance(instance_id: str) -> bool:
    """Whether the demo's scenarios can write ``instance_id``: a root they name, or its child."""
    return instance_id in _ROOTS or instance_id.split("::", 1)[0] in _ROOTS


_ROOTS = frozenset(root for s in SCENARIOS for root in s.roots)


@dataclass
class StoreContents:
    """What in a store could be the user's.

    Attributes:
        instances: Ids in the history tables (an instance row, or only its history).
        queued: One fingerprint per queued message, ``table:row id:digest``: a
            message written later has a new row id (the queues count up).
        addressees: The instance each queued message is for, or names (a parent).
        locked: Instances a runtime holds a lock on.
    """

    instances: set[str] = field(default_factory=set)
    queued: set[str] = field(default_factory=set)
    addressees: dict[str, set[str]] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)


Query = Callable[[str], list[tuple[Any, ...]]]


def read_contents(query: Query, tables: set[str]) -> StoreContents:
    """Read :class:`StoreContents` through ``query`` (tables a store lacks are empty)."""
    out = StoreContents()
    for table in HISTORY_TABLES:
        if table in tables:
            out.instances.update(
                str(r[0]) for r in query(f"SELECT DISTINCT instance_id FROM {table}")
            )
    for table in QUEUE_TABLES:
        if table not in tables:
            continue
        for row_id, instance_id, work_item in query(
            f"SELECT id, instance_id, work_item FROM {table}"
        ):
            text = f"{instance_id}\0{work_item}".encode("utf-8", "surrogatepass")
            key = f"{table}:{row_id}:{hashlib.sha256(text).hexdigest()[:16]}"
            out.queued.add(key)
            out.addressees[key] = {str(instance_id), *_named_instances(work_item)}
    if LOCK_TABLE in tables:
        out.locked.update(str(r[0]) for r in query(f"SELECT instance_id FROM {LOCK_TABLE}"))
    return out


def _named_instances(work_item: object) -> Iterator[str]:
    """The instance ids a work item's JSON names (``instance``, ``parent_instance``)."""
    try:
        stack: list[object] = [json.loads(str(work_item))]
    except (ValueError, RecursionError):  # the queue's instance_id column still counts
        return
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and (key == "instance" or key.endswith("_instance")):
                    yield value
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def check_replaceable(path: Path) -> None:
    """Refuse unless nothing is at ``path`` or the store there is one the demo wrote.

    Raises:
        NotADemoStoreError: ``path`` is a directory, not a SQLite file, not a store
            the demo stamped, or holds anything the demo did not write.
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
        tables = db.tables()
        if "durascope_meta" not in tables:
            _refuse(path, "it is not a durascope store")
        meta = {str(k): str(v) for k, v in db.query("SELECT key, value FROM durascope_meta")}
        if meta.get(MARKER_KEY) != MARKER_VALUE:
            _refuse(path, "it is a durascope store the demo did not write")
        contents = read_contents(db.query, tables)
    except SourceError:
        _refuse(path, "it is not a readable durascope store")
    finally:
        db.close()
    if INSTANCES_KEY in meta and QUEUED_KEY in meta:
        _check_finished(path, contents, meta)
    else:
        _check_interrupted(path, contents)


def _check_finished(path: Path, contents: StoreContents, meta: dict[str, str]) -> None:
    """Refuse anything beyond what the finished demo recorded."""
    try:
        instances, queued = (set(json.loads(meta[key])) for key in (INSTANCES_KEY, QUEUED_KEY))
    except (json.JSONDecodeError, TypeError):
        _refuse(path, f"its {INSTANCES_KEY} or {QUEUED_KEY} stamp is unreadable")
    _refuse_instances(path, contents.instances - instances)
    # Its own messages may have been consumed since (a runtime ran on the store);
    # only a message it did not leave is someone else's.
    extra = sorted(contents.queued - queued)
    if extra:
        named = sorted(set().union(*(contents.addressees[k] for k in extra)))
        _refuse(
            path,
            f"its queues hold {_count(len(extra), 'message')} the demo did not write "
            f"(for {_few(named)})",
        )
    # The demo's runtimes release every lock when they shut down.
    if contents.locked:
        _refuse(
            path,
            f"a runtime holds locks on {_count(len(contents.locked), 'instance')} "
            f"({_few(sorted(contents.locked))})",
        )


def _check_interrupted(path: Path, contents: StoreContents) -> None:
    """Refuse ids the scenarios cannot have written (nothing else tells the demo's data apart)."""
    named = set(contents.instances).union(contents.locked, *contents.addressees.values())
    _refuse_instances(path, {i for i in named if not is_scenario_instance(i)})


def _refuse_instances(path: Path, foreign: set[str]) -> None:
    if foreign:
        _refuse(
            path,
            f"it holds {_count(len(foreign), 'instance')} the demo did not start "
            f"({_few(sorted(foreign))})",
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _few(ids: list[str]) -> str:
    return ", ".join(ids[:SHOWN_IDS]) + (", …" if len(ids) > SHOWN_IDS else "")


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
    _stamp(path, {MARKER_KEY: MARKER_VALUE})


async def _install_schema(path: Path) -> None:
    store = await SqliteStore.open(path)
    await store.close()


def record_demo_instances(path: Path) -> None:
    """Stamp what is now in the demo's store (call once the scenarios ran)."""
    with closing(sqlite3.connect(path)) as db:
        tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master")}
        contents = read_contents(lambda sql: db.execute(sql).fetchall(), tables)
    # With the ids its messages are for: a runtime run on the store later leaves a
    # record of the demo's event for an instance that does not exist.
    ids = contents.instances.union(*contents.addressees.values())
    _stamp(
        path,
        {
            INSTANCES_KEY: json.dumps(sorted(ids)),
            QUEUED_KEY: json.dumps(sorted(contents.queued)),
        },
    )


def _stamp(path: Path, values: dict[str, str]) -> None:
    # One transaction: a store with one of the finishing stamps has both.
    with closing(sqlite3.connect(path)) as db, db:
        db.executemany(
            "INSERT OR REPLACE INTO durascope_meta(key, value) VALUES (?, ?)", values.items()
        )
