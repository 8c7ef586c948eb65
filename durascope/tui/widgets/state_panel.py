"""The state after the current turn: status, custom status, open schedules.

The children are listed below it by :class:`~durascope.tui.widgets.children_list.ChildrenList`,
where they can be selected.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from durascope.replay import ExecutionState, safe_text
from durascope.tui.text import status

__all__ = ["OPEN_SHOWN", "StatePanel", "state_text"]

OPEN_SHOWN = 60
"""Open schedules listed at most (the Pairs tab lists every schedule)."""


def state_text(state: ExecutionState) -> Text:
    """Status, custom status, open schedules, and the children's count."""
    out = Text()
    out.append("State after the turn\n", style="bold underline")
    out.append(f"  execution {state.execution_id}: ")
    out.append_text(status(state.status))
    out.append(f"   custom status: {safe_text(state.custom_status or '-', 60)}\n")
    open_ = [s for s in state.open_schedules if s.kind != "child"]
    out.append(f"  open schedules ({len(open_)})\n")
    for s in open_[:OPEN_SHOWN]:
        detail = safe_text(s.detail, 50)
        out.append(f"    {s.kind} #{s.event_id} {safe_text(s.name)} {detail} [{s.status}]\n")
    if len(open_) > OPEN_SHOWN:
        out.append(f"    … {len(open_) - OPEN_SHOWN} more (the Pairs tab lists all)\n", style="dim")
    out.append(f"  children ({len(state.children)})", style="")
    return out


class StatePanel(Static):
    """Shows the fold of the execution's events up to the current turn."""

    def show(self, state: ExecutionState) -> None:
        """Redraw for a state."""
        self.update(state_text(state))
