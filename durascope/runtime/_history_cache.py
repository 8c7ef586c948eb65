"""An in-process LRU of execution histories, so a turn reads only new rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from durascope.history import Event


@dataclass(frozen=True, slots=True)
class CachedHistory:
    events: tuple[Event, ...]
    last_raw: str
    """The stored JSON of the last event: the anchor an incremental read must match."""


class HistoryCache:
    """LRU of execution histories, so a turn reads only the rows added since the last.

    Valid across processes because a history is append-only per execution; the
    store re-checks the anchor row and id contiguity on every incremental read.
    Only the event-loop thread mutates it; ``get`` (one atomic ``dict.get``) may
    run on the connection thread, where a miss merely costs a full read.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: dict[tuple[str, int], CachedHistory] = {}

    def get(self, key: tuple[str, int]) -> CachedHistory | None:
        return self._entries.get(key)

    def put(self, key: tuple[str, int], entry: CachedHistory) -> None:
        self._entries.pop(key, None)  # re-insert: dicts keep insertion order
        self._entries[key] = entry
        while len(self._entries) > self._capacity:
            del self._entries[next(iter(self._entries))]

    def drop(self, key: tuple[str, int]) -> None:
        self._entries.pop(key, None)

    def extend(self, key: tuple[str, int], delta: Sequence[Event], last_raw: str) -> None:
        """Append this process's own committed events, or forget what cannot be extended."""
        cached = self._entries.get(key)
        first = cached.events[-1].event_id + 1 if cached else 1
        if [e.event_id for e in delta] != list(range(first, first + len(delta))):
            self.drop(key)
            return
        events = (cached.events if cached else ()) + tuple(delta)
        self.put(key, CachedHistory(events, last_raw))
