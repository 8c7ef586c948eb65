"""The one-line header of the instance screen: where the stepper stands."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from durascope.replay import Turn, safe_text
from durascope.tui.text import status

__all__ = ["StepperHeader"]


class StepperHeader(Static):
    """``instance [name] · turn 3/6 · exec 2 · captured · result`` (always visible)."""

    def show(self, instance_id: str, name: str, turn: Turn, total: int, follow: bool) -> None:
        """Redraw for the current turn."""
        text = Text()
        text.append(safe_text(instance_id), style="bold")
        text.append(f"  [{safe_text(name)}]  ", style="dim")
        text.append(f"turn {turn.index + 1} of {total}", style="bold reverse")
        text.append(f"  exec {turn.execution_id}  {turn.evidence}  result ")
        text.append_text(
            status({"completed": "Completed", "failed": "Failed"}.get(turn.result, turn.result))
        )
        if follow:
            text.append("  following newest turn", style="green")
        self.update(text)

    def show_loading(self, instance_id: str) -> None:
        """While the timeline is being built."""
        text = Text(safe_text(instance_id), style="bold")
        text.append("  loading turns…", style="dim")
        self.update(text)

    def show_failed(self, instance_id: str, why: str) -> None:
        """When there is no timeline to step through (``why`` is terminal-safe text)."""
        text = Text(safe_text(instance_id), style="bold")
        text.append(f"  {why}", style="yellow")
        self.update(text)
