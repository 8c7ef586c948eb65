"""Decoding queue rows read by the store (bad rows become None, never exceptions)."""

from __future__ import annotations

from typing import Any

from durascope.history import (
    ActivityExecute,
    HistoryDecodeError,
    OrchestratorItem,
    WorkItem,
    work_item_from_json,
)
from durascope.runtime._store_types import QueuedMessage

Rows = list[Any]  # sqlite3 result rows (tuples)


def decode_messages(
    rows: Rows,
) -> tuple[tuple[int, ...], tuple[OrchestratorItem, ...], tuple[int, ...]]:
    """Split fetched rows into (ids, items) and the ids of rows that are no message."""
    ids: list[int] = []
    items: list[OrchestratorItem] = []
    bad: list[int] = []
    for row_id, raw, _ in sorted(rows, key=lambda r: int(r[0])):
        item = decode_work_item(raw)
        if item is None or isinstance(item, ActivityExecute):  # a worker item is no message
            bad.append(int(row_id))
        else:
            ids.append(int(row_id))
            items.append(item)
    return tuple(ids), tuple(items), tuple(bad)


def decode_work_item(raw: str) -> WorkItem | None:
    try:
        return work_item_from_json(raw)
    except HistoryDecodeError:
        return None


def queued_message(row: Any) -> QueuedMessage:
    row_id, instance, raw, visible, attempts, locked = row
    return QueuedMessage(
        int(row_id),
        str(instance),
        decode_work_item(raw),
        str(raw),
        int(visible),
        int(attempts),
        bool(locked),
    )
