"""The current execution's history, one row per event.

Cells are ``Text``: a ``str`` cell would be parsed as Rich markup, and payloads are data.
The rows stay while the execution does, so a step through a long history only moves
the cursor.  Enter on a row about a child opens it.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from durascope.history import Event
from durascope.replay import event_summary
from durascope.tui.messages import InstanceChosen
from durascope.tui.navigation import child_of_row
from durascope.tui.text import plain

__all__ = ["HistoryTable"]


class HistoryTable(DataTable[Text]):
    """Raw events of one execution (one row each; rows, not widgets)."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("event", "type", "source", "payload")

    _shown: tuple[str, int] | None = None
    _events: tuple[Event, ...] = ()
    _instance_id: str = ""

    @staticmethod
    def _cells(e: Event) -> tuple[Text, ...]:
        return (
            Text(str(e.event_id)),
            plain(e.type, 40),
            Text("" if e.source_event_id is None else str(e.source_event_id)),
            Text(event_summary(e, 80)),  # already terminal-safe; Text: no markup
        )

    def show(
        self, instance_id: str, execution_id: int, events: tuple[Event, ...], upto: int
    ) -> None:
        """Show an execution's events with the cursor on the current turn's last event.

        Rows are rebuilt only when the execution changes: stepping within one
        execution just moves the cursor, and a live execution that grew gets its
        new events appended (a history only ever grows).
        """
        key = (instance_id, execution_id)
        self._instance_id = instance_id
        if key != self._shown or len(events) < len(self._events):
            self._shown = key
            self.clear()
            self.add_rows(self._cells(e) for e in events)
        elif len(events) > len(self._events):
            self.add_rows(self._cells(e) for e in events[len(self._events) :])
        self._events = events
        if upto:
            self.move_cursor(row=min(upto, len(events)) - 1)

    def child_at_cursor(self) -> str | None:
        """The child the highlighted row schedules or completes, if any."""
        if not 0 <= self.cursor_row < len(self._events):
            return None
        return child_of_row(self._instance_id, self._events, self.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        child = self.child_at_cursor()
        if child is not None:
            self.post_message(InstanceChosen(child))
