"""The help screen: every binding of the screen it was opened from."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen"]


class HelpScreen(ModalScreen[None]):
    """Lists key bindings with what they do."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self._rows = bindings

    def compose(self) -> ComposeResult:
        text = Text("Keys\n\n", style="bold")
        for keys, description in self._rows:
            text.append(f"  {keys:<22}", style="bold cyan")
            text.append(f"{description}\n")
        text.append("\n  ctrl+p                command palette (every action)\n")
        text.append("\nPress escape to close.", style="dim")
        yield Static(text, id="help-body")
