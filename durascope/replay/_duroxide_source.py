"""Read a real duroxide SQLite store (read-only) into the view model.

duroxide has no turn journal, so a model read from its store carries history,
executions and queues only; turns are reconstructed elsewhere and labelled
``inferred``.  Both of duroxide's schemas load: files made by its migrations and
the in-memory ``create_schema`` variant (columns are looked up, never assumed;
a missing optional column reads as NULL).  Things worth knowing about the data:

- ``executions.started_at`` is ``CURRENT_TIMESTAMP`` text (UTC, second
  precision); ``completed_at`` is integer milliseconds.
- The queues keep ``visible_at`` in milliseconds.  duroxide never sets the
  orchestrator queue's ``locked_until``; an instance is locked through a row in
  ``instance_locks``.
- ``PendingMessage.locked`` means *claimed*: the row has a ``lock_token``, or
  (orchestrator queue) its instance has an ``instance_locks`` row.  Expiry is
  not compared with the reader's clock: a postmortem reads a file long after
  the fact, and a stale claim left by a crashed process is exactly what it
  should show.
- An instance may have history but no ``instances`` row (a crash between
  writes, a partial delete); it is still listed, its status taken from the
  terminal event of its newest execution (``Running`` without one).
"""

from __future__ import annotations

import json
from collections import defaultdict
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Literal

from durascope.history import (
    HistoryDecodeError,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
    WorkItem,
    display_message,
    work_item_from_json,
)
from durascope.replay._columns import integer, optional_int, optional_text, text
from durascope.replay._durascope_source import StoreReader
from durascope.replay._model import (
    Execution,
    Instance,
    Model,
    Origin,
    PendingMessage,
    SourceError,
    current_of,
)
from durascope.replay._sqlite_reader import ReadOnlyDatabase

Row = tuple[Any, ...]


def load_duroxide_store(db: ReadOnlyDatabase) -> Model:
    """Build the view model of a duroxide store (events load lazily).

    Args:
        db: The store, opened read-only.

    Returns:
        A model with ``origin.kind == "duroxide"``.

    Raises:
        SourceError: A query failed (corrupt or truncated file), one line.
    """
    # Taken before the snapshot, so a commit racing the load shows as a change later
    # (a spurious reopen at worst) rather than being folded into this version unseen.
    data_version = db.data_version()
    db.query("BEGIN")  # one read transaction: a consistent snapshot while a runtime writes
    try:
        return _load(db, data_version)
    except (ValueError, TypeError) as exc:  # a column holding something duroxide never writes
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise SourceError(f"{db.path}: unexpected data in a duroxide store ({detail})") from None
    finally:
        with suppress(SourceError):
            db.query("COMMIT")


def _load(db: ReadOnlyDatabase, data_version: int) -> Model:
    """Read the model inside the caller's read transaction."""
    reader = StoreReader(db)
    tables = db.tables()
    counts = {
        (text(i), integer(e, 0)): int(n)
        for i, e, n in db.query(
            "SELECT instance_id, execution_id, count(*) FROM history "
            "GROUP BY instance_id, execution_id"
        )
    }
    executions = _executions(db, reader, counts)
    reader.index(x for execs in executions.values() for x in execs)
    instances: dict[str, Instance] = {}
    for row in _select(db, "instances", _INSTANCE_COLUMNS, "ORDER BY rowid"):
        inst, name, version, current, parent, custom = row
        inst = text(inst)
        execs = executions.pop(inst, [])
        current_id = optional_int(current)
        if current_id is None:
            current_id = max((x.execution_id for x in execs), default=1)
        cur = current_of(execs, current_id)
        instances[inst] = Instance(
            instance_id=inst,
            orchestration_name=text(name),
            orchestration_version=optional_text(version),
            current_execution_id=current_id,
            parent_instance_id=optional_text(parent),
            status=cur.status if cur else "Running",
            output=cur.output if cur else None,
            custom_status=optional_text(custom),
            executions=tuple(execs),
        )
    for inst in sorted(executions):
        if any(x.event_count for x in executions[inst]):
            instances[inst] = _instance_from_history(inst, executions[inst])
    # A live or stale instance lock claims every orchestrator row of its instance.
    locks = db.query("SELECT instance_id FROM instance_locks") if "instance_locks" in tables else []
    pending = _pending(db, "orchestrator", {str(r[0]) for r in locks})
    if "worker_queue" in tables:
        pending += _pending(db, "worker", set())
    return Model(
        origin=Origin(kind="duroxide", path=db.path, runtime_version=_runtime_version(db)),
        instances=instances,
        pending=tuple(pending),
        data_version=data_version,
        reader=reader,
    )


_INSTANCE_COLUMNS = (
    "instance_id, orchestration_name, orchestration_version, current_execution_id, "
    "parent_instance_id, custom_status"
)
_EXECUTION_COLUMNS = "instance_id, execution_id, status, output, started_at, completed_at"
_QUEUE_COLUMNS = "id, instance_id, work_item, visible_at, lock_token, attempt_count"


def _select(db: ReadOnlyDatabase, table: str, wanted: str, tail: str = "") -> list[Row]:
    """``SELECT wanted FROM table`` (``wanted`` comma-separated), absent columns as NULL."""
    have = db.columns(table)
    cols = ", ".join(c if c in have else "NULL" for c in (w.strip() for w in wanted.split(",")))
    return db.query(f"SELECT {cols} FROM {table} {tail}")


def _executions(
    db: ReadOnlyDatabase, reader: StoreReader, counts: dict[tuple[str, int], int]
) -> dict[str, list[Execution]]:
    """Every execution, from ``executions`` rows and from history without a row."""
    found: dict[tuple[str, int], Execution] = {}
    for inst, ex, status, output, started, completed in _select(
        db, "executions", _EXECUTION_COLUMNS
    ):
        key = (text(inst), integer(ex, 0))
        found[key] = Execution(
            instance_id=key[0],
            execution_id=key[1],
            status=text(status) or "Running",
            output=optional_text(output),
            started_at_ms=_to_ms(started),
            completed_at_ms=_to_ms(completed),
            event_count=counts.get(key, 0),
            _loader=reader.events,
        )
    for key in counts.keys() - found.keys():
        execution = Execution(
            instance_id=key[0],
            execution_id=key[1],
            status="Running",
            output=None,
            event_count=counts[key],
            _loader=reader.events,
        )
        execution.status, execution.output = _status_from_events(execution)
        found[key] = execution
    grouped: dict[str, list[Execution]] = defaultdict(list)
    for key in sorted(found):
        grouped[key[0]].append(found[key])
    return grouped


def _status_from_events(execution: Execution) -> tuple[str, str | None]:
    """Status and output from an execution's terminal event (``Running`` without one)."""
    for event in reversed(execution.events):
        if isinstance(event, OrchestrationCompleted):
            return "Completed", event.output
        if isinstance(event, OrchestrationFailed):
            return "Failed", display_message(event.details)
        if isinstance(event, OrchestrationContinuedAsNew):
            return "ContinuedAsNew", event.input
    return "Running", None


def _instance_from_history(instance_id: str, execs: list[Execution]) -> Instance:
    """An instance that has history but no ``instances`` row."""
    first = execs[0].started
    started = first if isinstance(first, OrchestrationStarted) else None
    return Instance(
        instance_id=instance_id,
        orchestration_name=started.name if started else "",
        orchestration_version=started.version if started else None,
        current_execution_id=execs[-1].execution_id,
        parent_instance_id=started.parent_instance if started else None,
        status=execs[-1].status,
        output=execs[-1].output,
        executions=tuple(execs),
    )


def _pending(
    db: ReadOnlyDatabase, queue: Literal["orchestrator", "worker"], locked: set[str]
) -> list[PendingMessage]:
    """The rows of one queue, oldest first."""
    table = f"{queue}_queue"
    out = []
    for rid, inst, raw, visible, token, attempts in _select(
        db, table, _QUEUE_COLUMNS, "ORDER BY id"
    ):
        raw_text = text(raw)
        item = _decode_item(raw_text)
        target = text(inst) if inst is not None else _item_instance(item)
        out.append(
            PendingMessage(
                queue=queue,
                id=integer(rid, 0),
                instance_id=target,
                item=item,
                raw=raw_text,
                visible_at_ms=_to_ms(visible),
                attempt_count=integer(attempts, 0),
                locked=token is not None or target in locked,
            )
        )
    return out


def _decode_item(raw: str) -> WorkItem | None:
    """The queue row's work item, or None when it does not decode."""
    try:
        return work_item_from_json(raw)
    except HistoryDecodeError:
        return None


def _item_instance(item: WorkItem | None) -> str:
    """The target instance of a queue row without an ``instance_id`` column."""
    for name in ("instance", "parent_instance"):
        value = getattr(item, name, None)
        if isinstance(value, str):
            return value
    return ""


def _to_ms(value: Any) -> int | None:
    """Milliseconds from an integer column or ``CURRENT_TIMESTAMP`` text (UTC); else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    number = optional_int(value)
    if number is not None:
        return number
    try:
        parsed = datetime.fromisoformat(text(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _runtime_version(db: ReadOnlyDatabase) -> str | None:
    """The ``duroxide_version`` of the newest history row (highest rowid), if any."""
    try:
        rows = db.query("SELECT event_data FROM history ORDER BY rowid DESC LIMIT 1")
        version = json.loads(rows[0][0]).get("duroxide_version") if rows else None
    except (SourceError, ValueError, TypeError, AttributeError):
        return None  # no rowid (WITHOUT ROWID table) or an undecodable row: version unknown
    return version if isinstance(version, str) and version else None
