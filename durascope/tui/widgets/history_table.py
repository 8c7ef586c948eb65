"""The current execution's history: raw events, or schedules paired with completions."""

from __future__ import annotations

from textual.widgets import DataTable

from durascope.history import Event
from durascope.replay import ExecutionState, event_summary, safe_text


class HistoryTable(DataTable[str]):
    """Raw events of one execution (one row each; rows, not widgets)."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("event", "type", "source", "payload")

    _shown: tuple[int, int] | None = None

    def show(self, events: tuple[Event, ...], upto: int) -> None:
        """Show an execution's events with the cursor on the current turn's last event.

        Rows are rebuilt only when the execution changes: stepping within one
        execution just moves the cursor, so a long history steps quickly.
        """
        key = (id(events), len(events))
        if key != self._shown:
            self._shown = key
            self.clear()
            self.add_rows(
                (
                    str(e.event_id),
                    safe_text(e.type, 40),
                    "" if e.source_event_id is None else str(e.source_event_id),
                    event_summary(e, 80),
                )
                for e in events
            )
        if upto:
            self.move_cursor(row=min(upto, len(events)) - 1)


class PairsTable(DataTable[str]):
    """Compact view: each schedule with the event that closed it."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("schedule", "kind", "name", "status", "closed by")

    def show(self, state: ExecutionState) -> None:
        """Fill from the state after the current turn."""
        self.clear()
        self.add_rows(
            (
                str(s.event_id),
                s.kind,
                safe_text(s.name or s.detail, 40),
                s.status,
                "" if s.closed_by is None else str(s.closed_by),
            )
            for s in state.schedules
        )
