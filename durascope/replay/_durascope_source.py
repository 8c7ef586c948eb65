"""Read a durascope store (read-only), captured turns included."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any, Literal

from durascope.history import (
    KNOWN_EVENT_CLASSES,
    Event,
    HistoryDecodeError,
    TurnRecord,
    UnknownEvent,
    WorkItem,
    event_from_json,
    turn_record_from_json,
    work_item_from_json,
)
from durascope.replay._collector import collector_paused
from durascope.replay._columns import integer, optional_int, optional_text, text
from durascope.replay._model import (
    Execution,
    Instance,
    Model,
    Origin,
    PendingMessage,
    SourceError,
    TurnJournal,
    current_of,
)
from durascope.replay._sqlite_reader import ReadOnlyDatabase
from durascope.runtime import SCHEMA_VERSION

ProgressCallback = Callable[[int], None]
"""Called with the number of events read so far during a bulk load."""


def decode_event_row(instance_id: str, execution_id: int, event_id: int, data: str) -> Event:
    """Decode a stored event; a row that does not decode becomes an ``Undecodable`` event.

    Keeping the row (instead of failing the whole history) lets the debugger show
    it and report it as a finding.
    """
    data = text(data)  # SQLite is dynamically typed: a BLOB, a number or NULL reads as text
    try:
        return event_from_json(data)
    except HistoryDecodeError as exc:
        return UnknownEvent(
            event_id=event_id,
            instance_id=instance_id,
            execution_id=execution_id,
            type="Undecodable",
            error=str(exc),
            raw=data[:2000],
        )


_VALIDATORS: dict[str, Any] = {
    cls.model_fields["type"].default: cls.__pydantic_validator__ for cls in KNOWN_EVENT_CLASSES
}
"""The validator of each known event class, keyed by its ``type`` tag."""


def decode_typed_row(
    instance_id: str, execution_id: int, event_id: int, event_type: str | None, data: str
) -> Event:
    """:func:`decode_event_row`, faster when the row's ``event_type`` column names the class.

    The column is only a hint: the row is validated against that class directly
    (no parse into a dict, no discriminator call, about twice as fast), and the
    result is kept only when it validated and its JSON carried a ``type`` (which
    the class's literal then pinned to the same class the discriminated union
    would have chosen).  Anything else goes through :func:`decode_event_row`, so
    the result is always the one it gives.
    """
    validator = _VALIDATORS.get(event_type) if event_type is not None else None
    if validator is not None:
        try:
            event: Event = validator.validate_json(data)
        except Exception:  # not this class after all: the general path decides
            pass
        else:
            if "type" in event.model_fields_set:
                return event
    return decode_event_row(instance_id, execution_id, event_id, data)


class StoreReader:
    """Lazy loaders over one read-only database; shared by the two store kinds.

    The model's index (instances, executions, event counts, queues) is read in
    one read transaction; events and turns are read later, outside it, while a
    runtime may have appended more.  History and the turn journal are
    append-only (an execution's new events get higher event ids, an instance's
    new turns higher turn numbers), so the later reads stop at what the index
    counted: the first ``event_count`` events of an execution by event id, the
    turns up to the highest turn number the index saw.  A model is therefore
    one snapshot even where its events load lazily; a watcher that wants the
    newer rows reopens (see :meth:`data_version`).
    """

    def __init__(self, db: ReadOnlyDatabase, *, history_order: str = "event_id") -> None:
        self.db = db
        self._order = history_order
        self._type_column: str | None = None
        self.counted: dict[tuple[str, int], int] = {}
        """Events per ``(instance, execution)`` when the index was read."""
        self.last_turn: dict[str, Any] = {}
        """The highest turn number per instance when the index was read."""

    def index(self, executions: Iterable[Execution]) -> None:
        """Remember how many events each execution had when the index was read."""
        for x in executions:
            self.counted[(x.instance_id, x.execution_id)] = x.event_count or 0

    def data_version(self) -> int:
        """See :meth:`ReadOnlyDatabase.data_version`."""
        return self.db.data_version()

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def _event_type(self) -> str:
        """The ``event_type`` column if the history table has one, else ``NULL``."""
        if self._type_column is None:
            has = "event_type" in self.db.columns("history")
            self._type_column = "event_type" if has else "NULL"
        return self._type_column

    def events(self, instance_id: str, execution_id: int) -> tuple[Event, ...]:
        """One execution's events (no more than the index counted, when it did)."""
        limit = self.counted.get((instance_id, execution_id), -1)  # -1: no limit
        if limit == 0:
            return ()
        rows = self.db.query(
            f"SELECT event_id, {self._event_type()}, event_data FROM history "
            f"WHERE instance_id = ? AND execution_id = ? ORDER BY {self._order} LIMIT ?",
            (instance_id, execution_id, limit),
        )
        return tuple(
            decode_typed_row(instance_id, execution_id, int(r[0]), r[1], r[2]) for r in rows
        )

    def load_all(self, model: Model, progress: ProgressCallback | None = None) -> int:
        """Read every history row in one streaming pass; returns the number of events kept.

        Rows the index did not count (appended since, or of executions it does not
        list) are read but not kept.

        The loop is :func:`decode_typed_row` written inline, and rows are grouped by
        noticing where the (instance, execution) key changes (the query orders by it):
        at a million events the function calls and per-row dict lookups were a third
        of the load (measured by ``bench/inspection.py``).
        """
        validators = _VALIDATORS
        decode = decode_event_row
        loaded: dict[tuple[str, int], tuple[Event, ...]] = {}
        key: tuple[str, int] | None = None
        bucket: list[Event] = []

        def flush() -> None:
            if key is not None:
                earlier = loaded.get(key)
                loaded[key] = tuple(bucket) if earlier is None else earlier + tuple(bucket)

        count = 0
        with collector_paused():
            for inst, ex, eid, etype, data in self.db.iterate(
                f"SELECT instance_id, execution_id, event_id, {self._event_type()}, event_data "
                "FROM history ORDER BY instance_id, execution_id, event_id"
            ):
                event: Event | None = None
                validator = validators.get(etype) if etype is not None else None
                if validator is not None:
                    try:
                        event = validator.validate_json(data)
                    except Exception:  # not this class after all: the general path decides
                        event = None
                    else:
                        if "type" not in event.__pydantic_fields_set__:  # type: ignore[union-attr]
                            event = None
                if event is None:
                    event = decode(inst, ex, int(eid), data)
                if key is None or (inst, ex) != key:
                    flush()
                    key, bucket = (inst, ex), []
                bucket.append(event)
                count += 1
                if progress is not None and count % 50_000 == 0:
                    progress(count)
            flush()
        counted = self.counted
        total = 0
        for instance in model.instances.values():
            for execution in instance.executions:
                key = (instance.instance_id, execution.execution_id)
                events = loaded.get(key, ())
                limit = counted.get(key)
                if limit is not None and len(events) > limit:
                    events = events[:limit]  # appended after the index was read
                execution._events = events
                total += len(events)
        return total

    def turns(self, instance_id: str) -> TurnJournal:
        """An instance's captured turns, up to the last one the index saw."""
        last = self.last_turn.get(instance_id)
        if last is None:
            return (), ()
        rows = self.db.query(
            "SELECT turn, record FROM turns WHERE instance_id = ? AND turn <= ? ORDER BY turn",
            (instance_id, last),
        )
        records, undecodable = _decode_turns(rows)
        return tuple(records), tuple(undecodable)


def load_durascope_store(db: ReadOnlyDatabase) -> Model:
    """Build the view model of a durascope store (events and turns load lazily).

    The index is read in one read transaction, so a runtime committing meanwhile
    cannot leave an instance without its executions; the lazy reads stop where
    the index did (see :class:`StoreReader`).
    """
    # Taken before the snapshot, so a commit racing the load shows as a change later
    # (a spurious reopen at worst) rather than being folded into this version unseen.
    data_version = db.data_version()
    db.query("BEGIN")  # one read transaction: a consistent snapshot while a runtime writes
    try:
        return _load(db, data_version)
    finally:
        with suppress(SourceError):
            db.query("COMMIT")


def _load(db: ReadOnlyDatabase, data_version: int) -> Model:
    """Read the model inside the caller's read transaction."""
    reader = StoreReader(db)
    meta = dict(db.query("SELECT key, value FROM durascope_meta"))
    _check_schema_version(db.path, meta.get("schema_version"))
    executions: dict[str, list[Execution]] = defaultdict(list)
    for inst, ex, status, output, started, completed, count in db.query(
        "SELECT e.instance_id, e.execution_id, e.status, e.output, e.started_at_ms, "
        "e.completed_at_ms, (SELECT count(*) FROM history h "
        "WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id) "
        "FROM executions e ORDER BY e.instance_id, e.execution_id"
    ):
        instance_id = text(inst)
        executions[instance_id].append(
            Execution(
                instance_id=instance_id,
                execution_id=integer(ex, 0),
                status=text(status) or "Running",
                output=optional_text(output),
                started_at_ms=optional_int(started),
                completed_at_ms=optional_int(completed),
                event_count=int(count),
                _loader=reader.events,
            )
        )
    reader.index(x for execs in executions.values() for x in execs)
    reader.last_turn = {
        text(inst): last
        for inst, last in db.query("SELECT instance_id, max(turn) FROM turns GROUP BY instance_id")
    }
    instances: dict[str, Instance] = {}
    for row in db.query(
        "SELECT instance_id, orchestration_name, orchestration_version, current_execution_id, "
        "parent_instance_id, custom_status FROM instances ORDER BY created_at_ms, instance_id"
    ):
        inst, name, version, current, parent, custom = row
        inst = text(inst)
        execs = tuple(executions.get(inst, ()))
        current_id = integer(current, 1)
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
            executions=execs,
            _turn_loader=reader.turns,
        )
    pending = _pending(db, "orchestrator", "orchestrator_queue") + _pending(
        db, "worker", "worker_queue"
    )
    orphan_turns, _ = _decode_turns(
        db.query(
            "SELECT turn, record FROM turns "
            "WHERE instance_id NOT IN (SELECT instance_id FROM instances) "
            "ORDER BY instance_id, turn"
        )
    )
    origin = Origin(
        kind="durascope", path=db.path, runtime_version=optional_text(meta.get("engine_version"))
    )
    return Model(
        origin=origin,
        instances=instances,
        pending=tuple(pending),
        data_version=data_version,
        reader=reader,
        orphan_turns=tuple(orphan_turns),
    )


def _check_schema_version(path: str, value: Any) -> None:
    """Refuse a store whose schema this version cannot promise to read, as the runtime does.

    A newer schema may have moved or reinterpreted columns, so reading it anyway
    could show a plausible but wrong picture; an unreadable stamp says nothing
    either way.

    Raises:
        SourceError: The version is newer than :data:`SCHEMA_VERSION`, or not a number.
    """
    version = optional_int(value)
    if version is None:
        raise SourceError(
            f"{path}: unreadable store schema_version {text(value)[:40]!r}; "
            "cannot tell whether this durascope can read it"
        )
    if version > SCHEMA_VERSION:
        raise SourceError(
            f"{path}: store schema version {version} is newer than this durascope "
            f"supports ({SCHEMA_VERSION}); upgrade durascope"
        )


def _decode_turns(rows: Iterable[tuple[Any, ...]]) -> tuple[list[TurnRecord], list[int]]:
    """Turn records from ``(turn, record)`` rows, and the turn numbers of rows that do not decode.

    History stays authoritative: a turn that does not decode is only missing
    evidence, never a reason to fail the whole store; the diagnosis says which
    records were left out.
    """
    out = []
    undecodable = []
    for turn, record in rows:
        try:
            out.append(turn_record_from_json(record))
        except HistoryDecodeError:
            undecodable.append(integer(turn, 0))
    return out, undecodable


def _pending(
    db: ReadOnlyDatabase, queue: Literal["orchestrator", "worker"], table: str
) -> list[PendingMessage]:
    return [
        PendingMessage(
            queue=queue,
            id=integer(rid, 0),
            instance_id=text(inst),
            item=_decode_item(text(raw)),
            raw=text(raw),
            visible_at_ms=optional_int(visible),
            attempt_count=integer(attempts, 0),
            locked=token is not None,
        )
        for rid, inst, raw, visible, token, attempts in db.query(
            "SELECT id, instance_id, work_item, visible_at_ms, lock_token, attempt_count "
            f"FROM {table} ORDER BY id"
        )
    ]


def _decode_item(raw: str) -> WorkItem | None:
    try:
        return work_item_from_json(raw)
    except HistoryDecodeError:
        return None
