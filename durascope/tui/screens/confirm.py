"""Confirm a write to a live store by typing the instance id."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from durascope.replay import safe_text
from durascope.tui.text import plain

__all__ = ["ConfirmWriteScreen", "WriteRequest"]


@dataclass(frozen=True)
class WriteRequest:
    """What the user confirmed."""

    action: str
    instance_id: str
    name: str = ""
    data: str = "null"


class ConfirmWriteScreen(ModalScreen[WriteRequest | None]):
    """For ``raise`` asks the event name and JSON data; always asks to type the id."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="confirm.cancel")]

    def __init__(self, action: str, instance_id: str) -> None:
        super().__init__()
        self._action = action
        self._instance_id = instance_id

    def compose(self) -> ComposeResult:
        what = "Raise an event on" if self._action == "raise" else "Cancel"
        yield Label(plain(f"{what} {self._instance_id}: this WRITES to the store."))
        if self._action == "raise":
            yield Input(placeholder="event name", id="event-name")
            yield Input(placeholder='data as JSON, e.g. {"ok": true}', id="event-data")
        yield Label("Type the instance id to confirm:")
        yield Input(placeholder=safe_text(self._instance_id), id="confirm-id")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "confirm-id":
            self.focus_next()
            return
        if event.value != self._instance_id:
            self.notify("The id does not match; nothing was written.", severity="warning")
            self.dismiss(None)
            return
        name = self.query_one("#event-name", Input).value if self._action == "raise" else ""
        data = self.query_one("#event-data", Input).value if self._action == "raise" else "null"
        self.dismiss(WriteRequest(self._action, self._instance_id, name, data or "null"))

    def action_cancel(self) -> None:
        self.dismiss(None)
