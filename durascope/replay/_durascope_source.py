"""Read a durascope store (read-only), captured turns included."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from durascope.history import (
    Event,
    HistoryDecodeError,
    TurnRecord,
    UnknownEvent,
    WorkItem,
    event_from_json,
    turn_record_from_json,
    work_item_from_json,
)
from durascope.replay._model import Execution, Instance, Model, Origin, PendingMessage
from durascope.replay._sqlite_reader import ReadOnlyDatabase

ProgressCallback = Callable[[int], None]
"""Called with the number of events read so far during a bulk load."""


def decode_event_row(instance_id: str, execution_id: int, event_id: int, data: str) -> Event:
    """Decode a stored event; a row that does not decode becomes an ``Undecodable`` event.

    Keeping the row (instead of failing the whole history) lets the debugger show
    it and report it as a finding.
    """
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


class StoreReader:
    """Lazy loaders over one read-only database; shared by the two store kinds."""

    def __init__(self, db: ReadOnlyDatabase, *, history_order: str = "event_id") -> None:
        self.db = db
        self._order = history_order

    def data_version(self) -> int:
        """See :meth:`ReadOnlyDatabase.data_version`."""
        return self.db.data_version()

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def events(self, instance_id: str, execution_id: int) -> tuple[Event, ...]:
        """One execution's events."""
        rows = self.db.query(
            "SELECT event_id, event_data FROM history WHERE instance_id = ? AND execution_id = ? "
            f"ORDER BY {self._order}",
            (instance_id, execution_id),
        )
        return tuple(decode_event_row(instance_id, execution_id, int(r[0]), r[1]) for r in rows)

    def load_all(self, model: Model, progress: ProgressCallback | None = None) -> int:
        """Read every history row in one streaming pass; returns the number of events."""
        grouped: dict[tuple[str, int], list[Event]] = defaultdict(list)
        count = 0
        for inst, ex, eid, data in self.db.iterate(
            "SELECT instance_id, execution_id, event_id, event_data FROM history "
            "ORDER BY instance_id, execution_id, event_id"
        ):
            grouped[(inst, ex)].append(decode_event_row(inst, ex, int(eid), data))
            count += 1
            if progress is not None and count % 50_000 == 0:
                progress(count)
        for instance in model.instances.values():
            for execution in instance.executions:
                execution._events = tuple(
                    grouped.get((instance.instance_id, execution.execution_id), ())
                )
        return count


def load_durascope_store(db: ReadOnlyDatabase) -> Model:
    """Build the view model of a durascope store (events and turns load lazily)."""
    reader = StoreReader(db)
    meta = dict(db.query("SELECT key, value FROM durascope_meta"))
    executions: dict[str, list[Execution]] = defaultdict(list)
    for inst, ex, status, output, started, completed, count in db.query(
        "SELECT e.instance_id, e.execution_id, e.status, e.output, e.started_at_ms, "
        "e.completed_at_ms, (SELECT count(*) FROM history h "
        "WHERE h.instance_id = e.instance_id AND h.execution_id = e.execution_id) "
        "FROM executions e ORDER BY e.instance_id, e.execution_id"
    ):
        executions[inst].append(
            Execution(
                instance_id=inst,
                execution_id=int(ex),
                status=status,
                output=output,
                started_at_ms=started,
                completed_at_ms=completed,
                event_count=int(count),
                _loader=reader.events,
            )
        )

    def turns(instance_id: str) -> tuple[TurnRecord, ...]:
        rows = db.query(
            "SELECT record FROM turns WHERE instance_id = ? ORDER BY turn", (instance_id,)
        )
        out = []
        for (record,) in rows:
            try:
                out.append(turn_record_from_json(record))
            except HistoryDecodeError:
                continue  # an unreadable journal row is skipped; history stays authoritative
        return tuple(out)

    instances: dict[str, Instance] = {}
    for row in db.query(
        "SELECT i.instance_id, i.orchestration_name, i.orchestration_version, "
        "i.current_execution_id, i.parent_instance_id, i.custom_status, e.status, e.output "
        "FROM instances i LEFT JOIN executions e ON e.instance_id = i.instance_id "
        "AND e.execution_id = i.current_execution_id ORDER BY i.created_at_ms, i.instance_id"
    ):
        inst, name, version, current, parent, custom, status, output = row
        instances[inst] = Instance(
            instance_id=inst,
            orchestration_name=name,
            orchestration_version=version,
            current_execution_id=int(current),
            parent_instance_id=parent,
            status=status or "Running",
            output=output,
            custom_status=custom,
            executions=tuple(executions.get(inst, ())),
            _turn_loader=turns,
        )
    pending = [
        PendingMessage(
            queue="orchestrator",
            id=int(rid),
            instance_id=inst,
            item=_decode_item(raw),
            raw=raw,
            visible_at_ms=visible,
            attempt_count=int(attempts),
            locked=token is not None,
        )
        for rid, inst, raw, visible, token, attempts in db.query(
            "SELECT id, instance_id, work_item, visible_at_ms, lock_token, attempt_count "
            "FROM orchestrator_queue ORDER BY id"
        )
    ]
    pending += [
        PendingMessage(
            queue="worker",
            id=int(rid),
            instance_id=inst,
            item=_decode_item(raw),
            raw=raw,
            visible_at_ms=visible,
            attempt_count=int(attempts),
            locked=token is not None,
        )
        for rid, inst, raw, visible, token, attempts in db.query(
            "SELECT id, instance_id, work_item, visible_at_ms, lock_token, attempt_count "
            "FROM worker_queue ORDER BY id"
        )
    ]
    orphan_turns = []
    for (record,) in db.query(
        "SELECT record FROM turns WHERE instance_id NOT IN (SELECT instance_id FROM instances) "
        "ORDER BY instance_id, turn"
    ):
        try:
            orphan_turns.append(turn_record_from_json(record))
        except HistoryDecodeError:
            continue
    origin = Origin(kind="durascope", path=db.path, runtime_version=meta.get("engine_version"))
    return Model(
        origin=origin,
        instances=instances,
        pending=tuple(pending),
        data_version=db.data_version(),
        reader=reader,
        orphan_turns=tuple(orphan_turns),
    )


def _decode_item(raw: str) -> WorkItem | None:
    try:
        return work_item_from_json(raw)
    except HistoryDecodeError:
        return None
