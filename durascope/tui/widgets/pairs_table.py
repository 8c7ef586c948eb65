"""The Pairs tab: each schedule of the current execution with the event that closed it.

A line-API list, not a DataTable: a step through a long history changes the
status of one schedule and adds another, and a DataTable re-renders every
visible cell after any cell update (its render cache is keyed by an update
counter), which cost more than 50 ms per step at 5,000 schedules.  Here a step
swaps in the new state's schedules and repaints only when a visible line
changed; each line is drawn from the state on demand.  Text is data, never markup.
"""

from __future__ import annotations

from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from durascope.replay import ExecutionState, Schedule, safe_text
from durascope.tui.messages import InstanceChosen

__all__ = ["COLUMNS", "NAME_COLUMN", "NAME_MIN", "STATUS_STYLE", "PairsTable", "row_cells"]

COLUMNS = (("schedule", 9), ("kind", 9), ("name", 0), ("status", 17), ("closed by", 10))
"""Column titles and widths in cells; the name takes what the others leave."""

NAME_COLUMN = 2
NAME_MIN = 12

STATUS_STYLE = {
    "open": Style(color="yellow"),
    "completed": Style(color="green"),
    "failed": Style(color="red", bold=True),
    "fired": Style(color="green"),
    "delivered": Style(color="green"),
    "cancel requested": Style(color="magenta"),
    "cancelled": Style(color="magenta"),
}


def row_cells(s: Schedule) -> tuple[str, str, str, str, str]:
    """The texts of one row (terminal-safe)."""
    return (
        str(s.event_id),
        s.kind,
        safe_text(s.name or s.detail, 40),
        s.status,
        "" if s.closed_by is None else str(s.closed_by),
    )


class PairsTable(ScrollView, can_focus=True):
    """Schedules paired with their completions; enter on a child schedule opens it."""

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("enter", "select", "Open child", show=False),
    ]

    COMPONENT_CLASSES = {"pairs--header", "pairs--cursor"}

    DEFAULT_CSS = """
    PairsTable {
        width: 1fr;
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 0;
        & > .pairs--header {
            text-style: bold;
            background: $panel;
        }
        & > .pairs--cursor {
            background: $block-cursor-blurred-background;
        }
        &:focus > .pairs--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: tuple[Schedule, ...] = ()
        self._key: tuple[str, int] | None = None
        self.cursor_row = 0
        self.repaints = 0
        """How many steps repainted the list (for tests)."""

    # Data.

    @property
    def row_count(self) -> int:
        """The number of schedules shown."""
        return len(self._rows)

    def row_texts(self, index: int) -> list[str]:
        """The cells of one row, as shown."""
        return list(row_cells(self._rows[index]))

    def show(self, state: ExecutionState) -> None:
        """Show the schedules of the state after the current turn.

        The cursor and the scroll position stay while the execution does; only a
        change to a visible line (or to the number of lines) repaints.
        """
        key = (state.instance_id, state.execution_id)
        old, new = self._rows, state.schedules
        self._rows = new
        moved = key != self._key
        if moved:
            self._key = key
            self.cursor_row = 0
            self.scroll_to(0, 0, animate=False)
        self.cursor_row = min(self.cursor_row, max(len(new) - 1, 0))
        if len(old) != len(new):
            # As wide as the widget (no horizontal scrollbar: one that exists is
            # repainted a frame late after every change of the virtual size).
            self.virtual_size = Size(0, len(new) + 1)
        if moved or len(old) != len(new):
            self.repaints += 1
            self.refresh()
            return
        lines = self._changed_lines(old, new)
        if lines:
            # Only those lines: a full refresh also repaints the scrollbar, a frame later.
            self.repaints += 1
            width = self.size.width
            self.refresh(*(Region(0, y, width, 1) for y in lines))

    def _changed_lines(self, old: tuple[Schedule, ...], new: tuple[Schedule, ...]) -> list[int]:
        """The visible lines (1 is the first row under the header) whose row changed."""
        top = int(self.scroll_offset.y)
        return [
            i - top + 1
            for i in range(top, min(top + self.size.height - 1, len(new)))
            if old[i] is not new[i] and row_cells(old[i]) != row_cells(new[i])
        ]

    # Drawing.

    def position_text(self) -> str:
        """Which rows are in view, ``12-46/5000``: the list draws no scrollbar."""
        if not self._rows:
            return ""
        top = int(self.scroll_offset.y)
        last = min(top + max(self.size.height - 1, 1), len(self._rows))
        return f"{top + 1}-{last}/{len(self._rows)}"

    def _widths(self) -> list[int]:
        fixed = sum(w for _, w in COLUMNS)
        return [
            max(NAME_MIN, self.size.width - fixed) if i == NAME_COLUMN else w
            for i, (_, w) in enumerate(COLUMNS)
        ]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        widths = self._widths()
        if y == 0:
            header = self.get_component_rich_style("pairs--header")
            titles = [
                t if i != NAME_COLUMN else f"{t} {self.position_text()}"
                for i, (t, _) in enumerate(COLUMNS)
            ]
            text = "".join(set_cell_size(f" {t}", w) for t, w in zip(titles, widths, strict=True))
            return Strip([Segment(set_cell_size(text, width), header)], width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        base = self.rich_style
        if index == self.cursor_row:
            base = base + self.get_component_rich_style("pairs--cursor")
        segments = []
        for column, (cell, w) in enumerate(zip(row_cells(self._rows[index]), widths, strict=True)):
            style = base + STATUS_STYLE[cell] if column == 3 and cell in STATUS_STYLE else base
            segments.append(Segment(set_cell_size(f" {cell}", w), style))
        used = sum(widths)
        if width > used:
            segments.append(Segment(" " * (width - used), base))
        return Strip(segments).crop(0, width)

    # The cursor.

    def move_cursor(self, row: int) -> None:
        """Put the cursor on a row (clamped) and scroll it into view."""
        if not self._rows:
            return
        self.cursor_row = max(0, min(row, len(self._rows) - 1))
        top = int(self.scroll_offset.y)
        visible = max(self.size.height - 1, 1)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(self.size.height - 2, 1))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_cursor(int(self.scroll_offset.y) + event.y - 1)

    def child_at_cursor(self) -> str | None:
        """The child of the highlighted row, when it is a child schedule."""
        if not 0 <= self.cursor_row < len(self._rows):
            return None
        s = self._rows[self.cursor_row]
        return s.detail if s.kind == "child" else None

    def action_select(self) -> None:
        child = self.child_at_cursor()
        if child is not None:
            self.post_message(InstanceChosen(child))
