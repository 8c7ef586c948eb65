"""The current execution's history: raw events, or schedules paired with completions.

Cells are ``Text``: a ``str`` cell would be parsed as Rich markup, and payloads are data.
Both tables keep their rows while the execution stays the same, so a step through a
long history touches only what changed.  Enter on a row about a child opens it.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from durascope.history import Event
from durascope.replay import ExecutionState, Schedule, event_summary
from durascope.tui.messages import InstanceChosen
from durascope.tui.navigation import child_of_row
from durascope.tui.text import plain


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


_REBUILD_BEYOND = 64
"""Rows added or removed in one step beyond which the Pairs table is rebuilt instead."""


class PairsTable(DataTable[Text]):
    """Compact view: each schedule with the event that closed it.

    Rows are keyed by the schedule's event id.  Within one execution a later state
    only adds schedules (event ids grow) and changes statuses, so a step adds or
    removes the rows at the end and updates the cells whose status changed.
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("schedule", key="schedule")
        self.add_column("kind", key="kind")
        self.add_column("name", key="name")
        self.add_column("status", key="status")
        self.add_column("closed by", key="closed")

    _key: tuple[str, int] | None = None
    _rows: tuple[Schedule, ...] = ()
    rebuilds = 0
    """How many times the rows were rebuilt from scratch (for tests)."""

    @staticmethod
    def _cells(s: Schedule) -> tuple[Text, ...]:
        return (
            Text(str(s.event_id)),
            Text(s.kind),
            plain(s.name or s.detail, 40),
            Text(s.status),
            Text("" if s.closed_by is None else str(s.closed_by)),
        )

    def show(self, state: ExecutionState) -> None:
        """Show the schedules of the state after the current turn."""
        schedules = state.schedules
        key = (state.instance_id, state.execution_id)
        old = self._rows
        common = min(len(old), len(schedules))
        if (
            key != self._key
            or abs(len(old) - len(schedules)) > _REBUILD_BEYOND
            or (common and old[common - 1].event_id != schedules[common - 1].event_id)
        ):
            self._rebuild(key, schedules)
            return
        for i in range(common):
            before, now = old[i], schedules[i]
            if before is not now and (before.status, before.closed_by) != (
                now.status,
                now.closed_by,
            ):
                row = str(now.event_id)
                self.update_cell(row, "status", Text(now.status))
                self.update_cell(
                    row, "closed", Text("" if now.closed_by is None else str(now.closed_by))
                )
        for s in old[common:]:
            self.remove_row(str(s.event_id))
        for s in schedules[common:]:
            self.add_row(*self._cells(s), key=str(s.event_id))
        self._rows = schedules

    def _rebuild(self, key: tuple[str, int], schedules: tuple[Schedule, ...]) -> None:
        self.rebuilds += 1
        self._key = key
        self._rows = schedules
        self.clear()
        for s in schedules:
            self.add_row(*self._cells(s), key=str(s.event_id))

    def child_at_cursor(self) -> str | None:
        """The child of the highlighted row, when it is a child schedule."""
        if not 0 <= self.cursor_row < len(self._rows):
            return None
        s = self._rows[self.cursor_row]
        return s.detail if s.kind == "child" else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        child = self.child_at_cursor()
        if child is not None:
            self.post_message(InstanceChosen(child))
