"""Ask for a turn number."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input, Label

__all__ = ["JumpScreen"]


class JumpScreen(ModalScreen[int | None]):
    """Returns the 1-based turn number typed, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="jump.cancel")]

    def __init__(self, total: int) -> None:
        super().__init__()
        self._total = total

    def compose(self) -> ComposeResult:
        yield Label(f"Jump to turn (1-{self._total}):")
        yield Input(placeholder="turn number", type="integer", id="jump-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(int(event.value))
        except ValueError:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
