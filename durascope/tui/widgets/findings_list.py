"""The findings list: selecting a finding jumps to its turn, selecting a ref opens it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from durascope.replay import Finding, Ref, safe_text
from durascope.tui.messages import InstanceChosen, TurnChosen
from durascope.tui.navigation import AtEvent
from durascope.tui.text import SEVERITY_STYLE

__all__ = ["FindingsList", "finding_prompt", "ref_prompt"]


def finding_prompt(f: Finding) -> Text:
    """One finding as a list entry."""
    text = Text()
    text.append(f"{f.severity.upper():<7} ", style=SEVERITY_STYLE[f.severity])
    text.append(f"{f.kind}")
    where = f" exec {f.execution}" if f.execution is not None else ""
    if f.turn is not None:
        where += f" turn {f.turn}"
    text.append(where, style="dim")
    text.append(f"\n  {safe_text(f.message, 200)}")
    if f.evidence == "inferred":
        text.append(" (inferred)", style="dim")
    return text


def ref_prompt(ref: Ref) -> Text:
    """A related instance of a finding, as a selectable entry under it."""
    text = Text("    → ", style="dim")
    text.append(f"{ref.role}: ", style="dim")
    text.append(safe_text(ref.instance), style="underline")
    if ref.execution is not None:
        text.append(f" exec {ref.execution}")
    if ref.event_id is not None:
        text.append(f" event {ref.event_id}")
    return text


class FindingsList(OptionList):
    """Findings of one instance, each followed by the instances it names.

    Selecting a finding posts :class:`TurnChosen` (when it has a turn); selecting a
    related ref posts :class:`InstanceChosen` at the ref's event.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._targets: dict[str, int | tuple[str, AtEvent | None] | None] = {}

    def show(self, findings: list[Finding]) -> None:
        """Replace the entries."""
        self._targets = {}
        options: list[Option] = []
        for i, f in enumerate(findings):
            key = f"finding-{i}"
            self._targets[key] = f.turn_index
            options.append(Option(finding_prompt(f), id=key))
            for j, ref in enumerate(f.related):
                ref_key = f"ref-{i}-{j}"
                start = AtEvent(ref.event_id, ref.execution) if ref.event_id is not None else None
                self._targets[ref_key] = (ref.instance, start)
                options.append(Option(ref_prompt(ref), id=ref_key))
        self.clear_options()
        self.add_options(options)

    def option_ids(self) -> list[str]:
        """The ids of the entries, in order (``finding-I`` and ``ref-I-J``)."""
        return [self.get_option_at_index(i).id or "" for i in range(self.option_count)]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        target = self._targets.get(event.option.id or "")
        if isinstance(target, int):
            self.post_message(TurnChosen(target))
        elif isinstance(target, tuple):
            self.post_message(InstanceChosen(*target))
        else:
            self.notify("This finding is about no particular turn.")
