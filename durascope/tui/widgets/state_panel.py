"""The state after the current turn: open schedules, children, custom status."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from durascope.replay import ExecutionState, Model, safe_text
from durascope.tui.text import status


def state_text(state: ExecutionState, model: Model) -> Text:
    """Status, custom status, open schedules and every child with its own status."""
    out = Text()
    out.append("State after the turn\n", style="bold underline")
    out.append(f"  execution {state.execution_id}: ")
    out.append_text(status(state.status))
    out.append(f"   custom status: {safe_text(state.custom_status or '-', 60)}\n")
    open_ = [s for s in state.open_schedules if s.kind != "child"]
    out.append(f"  open schedules ({len(open_)})\n")
    for s in open_:
        detail = safe_text(s.detail, 50)
        out.append(f"    {s.kind} #{s.event_id} {safe_text(s.name)} {detail} [{s.status}]\n")
    children = state.children
    out.append(f"  children ({len(children)})\n")
    for s in children:
        child = model.instances.get(s.detail)
        own = child.status if child is not None else "not started"
        out.append(f"    #{s.event_id} {safe_text(s.detail)} [{s.status}; instance {own}]\n")
    return out


class StatePanel(Static):
    """Shows the fold of the execution's events up to the current turn."""

    def show(self, state: ExecutionState, model: Model) -> None:
        """Redraw for a state."""
        self.update(state_text(state, model))
