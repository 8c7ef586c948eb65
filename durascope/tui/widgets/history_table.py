"""The current execution's history: raw events, or schedules paired with completions.

Cells are ``Text``: a ``str`` cell would be parsed as Rich markup, and payloads are data.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from durascope.history import Event
from durascope.replay import ExecutionState, event_summary
from durascope.tui.text import plain


class HistoryTable(DataTable[Text]):
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
                    Text(str(e.event_id)),
                    plain(e.type, 40),
                    Text("" if e.source_event_id is None else str(e.source_event_id)),
                    Text(event_summary(e, 80)),  # already terminal-safe; Text: no markup
                )
                for e in events
            )
        if upto:
            self.move_cursor(row=min(upto, len(events)) - 1)


class PairsTable(DataTable[Text]):
    """Compact view: each schedule with the event that closed it."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("schedule", "kind", "name", "status", "closed by")

    def show(self, state: ExecutionState) -> None:
        """Fill from the state after the current turn."""
        self.clear()
        self.add_rows(
            (
                Text(str(s.event_id)),
                Text(s.kind),
                plain(s.name or s.detail, 40),
                Text(s.status),
                Text("" if s.closed_by is None else str(s.closed_by)),
            )
            for s in state.schedules
        )
