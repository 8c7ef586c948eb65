"""The turn panel: messages in with verdicts, the history delta, work items out."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from durascope.history import item_kind, target_execution, target_instance
from durascope.replay import Finding, Turn, event_summary, safe_text
from durascope.tui.text import SEVERITY_STYLE, VERDICT_STYLE

__all__ = ["SECTION_LINES", "TurnPanel", "turn_text"]

SECTION_LINES = 100
"""Lines shown per section; a fan-out's start turn can schedule thousands of events."""


def _more(out: Text, shown: int, total: int, where: str) -> None:
    if total > shown:
        out.append(f"  … {total - shown:,} more ({where})\n", style="dim")


def turn_text(turn: Turn, findings: list[Finding] | None = None) -> Text:
    """The turn's findings first, then messages in, history delta and work items out."""
    out = Text()
    for f in findings or []:
        out.append(f"{f.severity.upper()} {f.kind}: ", style=SEVERITY_STYLE[f.severity])
        out.append(f"{safe_text(f.message, 160)}\n")
    out.append("Messages in\n", style="bold underline")
    if not turn.messages:
        out.append("  (none)\n", style="dim")
    for v in turn.messages[:SECTION_LINES]:
        msg = v.message
        target = f" -> exec {target_execution(msg)}" if target_execution(msg) is not None else ""
        out.append(f"  {item_kind(msg)}{target} ")
        out.append(v.verdict.upper(), style=VERDICT_STYLE.get(v.verdict, ""))
        out.append(f"  {safe_text(v.reason, 90)}")
        if v.event_id is not None:
            out.append(f"  (event {v.event_id})", style="dim")
        out.append("\n")
    _more(out, SECTION_LINES, len(turn.messages), "one batch")
    out.append("History delta\n", style="bold underline")
    if not turn.delta:
        out.append("  (none)\n", style="dim")
    for e in turn.delta[:SECTION_LINES]:
        src = f" <- {e.source_event_id}" if e.source_event_id is not None else ""
        out.append(f"  {e.event_id:>4} {safe_text(e.type)}{src}  ")
        out.append(event_summary(e, 70), style="dim")
        out.append("\n")
    _more(out, SECTION_LINES, len(turn.delta), "the History tab lists them")
    out.append("Work items out\n", style="bold underline")
    if turn.evidence == "inferred":
        out.append("  (inferred: what the runtime sends for these events)\n", style="dim")
    if not turn.sent:
        out.append("  (none)\n", style="dim")
    for s in turn.sent[:SECTION_LINES]:
        where = safe_text(target_instance(s.item))
        if s.target_execution is not None:
            where += f" exec {s.target_execution}"
        out.append(f"  {item_kind(s.item)} -> {where} ({s.queue})\n")
    _more(out, SECTION_LINES, len(turn.sent), "one per schedule above")
    return out


class TurnPanel(Static):
    """Shows one turn."""

    def show(self, turn: Turn, findings: list[Finding] | None = None) -> None:
        """Redraw for a turn (with the findings that point at it)."""
        self.update(turn_text(turn, findings))
