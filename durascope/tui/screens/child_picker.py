"""Pick one of an execution's children (``c`` when there are several)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from durascope.replay import safe_text

__all__ = ["ChildChoice", "ChildPickerScreen", "choice_prompt"]


@dataclass(frozen=True)
class ChildChoice:
    """One child as listed: its id, its schedule, and both statuses."""

    instance_id: str
    event_id: int
    schedule_status: str
    instance_status: str


def choice_prompt(choice: ChildChoice) -> Text:
    """``#2 parent::sub::2  completed · instance Completed``."""
    text = Text(f"#{choice.event_id:<5} ")
    text.append(safe_text(choice.instance_id, 80), style="bold")
    text.append(f"  {choice.schedule_status} · instance {choice.instance_status}", style="dim")
    return text


class ChildPickerScreen(ModalScreen[str | None]):
    """Lists every child of one execution; enter returns the chosen id, escape None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="child_picker.cancel")]

    def __init__(self, execution_id: int, choices: list[ChildChoice], highlight: int = 0) -> None:
        super().__init__()
        self._execution_id = execution_id
        self._choices = choices
        self._highlight = highlight

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-body"):
            yield Label(
                f"Children of execution {self._execution_id} ({len(self._choices)}): "
                "enter opens one, escape goes back"
            )
            yield OptionList(*(Option(choice_prompt(c)) for c in self._choices), id="picker")

    def on_mount(self) -> None:
        picker = self.query_one("#picker", OptionList)
        picker.highlighted = self._highlight
        picker.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self._choices[event.option_index].instance_id)

    def choice_ids(self) -> list[str]:
        """The listed children, in order."""
        return [c.instance_id for c in self._choices]

    def action_cancel(self) -> None:
        self.dismiss(None)
