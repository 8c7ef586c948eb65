"""The children of the current execution, after the turn: enter opens one."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from durascope.replay import Model, Schedule, safe_text
from durascope.tui.messages import InstanceChosen

__all__ = ["SHOWN", "ChildrenList", "child_prompt", "own_status"]

SHOWN = 200
"""Children listed here at most; ``c`` lists every one."""


def child_prompt(schedule: Schedule, own_status: str) -> Text:
    """``#3 parent::sub::3 [completed; instance Completed]`` with the id underlined."""
    text = Text(f"#{schedule.event_id} ")
    text.append(safe_text(schedule.detail), style="underline")
    text.append(f" [{schedule.status}; instance {own_status}]", style="dim")
    return text


def own_status(model: Model, child_id: str) -> str:
    """The child instance's own status (``not started`` when it is not in the input)."""
    child = model.instances.get(child_id)
    return child.status if child is not None else "not started"


class ChildrenList(OptionList):
    """One entry per child; selecting one posts :class:`InstanceChosen`."""

    DEFAULT_CSS = """
    ChildrenList {
        height: auto;
        max-height: 12;
        border: none;
        padding: 0 0 0 4;
        background: transparent;
        & > .option-list--option-highlighted {
            background: transparent;
        }
        &:focus {
            border: none;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[tuple[int, str, str, str], ...] | None = None
        self._ids: list[str] = []

    def show(self, children: tuple[Schedule, ...], model: Model) -> None:
        """List ``children`` (redrawn only when one of them changed)."""
        rows = tuple(
            (s.event_id, s.detail, s.status, own_status(model, s.detail)) for s in children[:SHOWN]
        )
        key = (*rows, (len(children), "", "", ""))
        if key == self._shown:
            return
        self._shown = key
        self._ids = [s.detail for s in children[:SHOWN]]
        options = [Option(child_prompt(s, row[3])) for s, row in zip(children, rows, strict=False)]
        if len(children) > SHOWN:
            options.append(Option(f"… {len(children) - SHOWN} more: press c", disabled=True))
        self.clear_options()
        self.add_options(options)
        self.display = bool(children)

    def child_ids(self) -> list[str]:
        """The listed children, in order."""
        return list(self._ids)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._ids):
            self.post_message(InstanceChosen(self._ids[event.option_index]))
