"""The findings list; selecting one jumps to its turn."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from durascope.replay import Finding, safe_text
from durascope.tui.text import SEVERITY_STYLE


def finding_prompt(f: Finding) -> Text:
    """One finding as a list entry."""
    text = Text()
    text.append(f"{f.severity.upper():<7} ", style=SEVERITY_STYLE[f.severity])
    text.append(f"{f.kind}")
    where = f" exec {f.execution}" if f.execution is not None else ""
    if f.turn is not None:
        where += f" turn {f.turn + 1}"
    text.append(where, style="dim")
    text.append(f"\n  {safe_text(f.message, 200)}")
    if f.evidence == "inferred":
        text.append(" (inferred)", style="dim")
    return text


class FindingsList(OptionList):
    """Findings of one instance; option ids are the finding's turn index (or ``none``)."""

    def show(self, findings: list[Finding]) -> None:
        """Replace the entries."""
        self.clear_options()
        self.add_options(
            [
                Option(finding_prompt(f), id=f"{i}:{f.turn if f.turn is not None else 'none'}")
                for i, f in enumerate(findings)
            ]
        )
