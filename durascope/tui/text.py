"""Terminal-safe text for the TUI: data never reaches the screen as markup or raw escapes."""

from __future__ import annotations

from rich.text import Text

from durascope.replay import Finding, safe_text

__all__ = ["SEVERITY_STYLE", "STATUS_STYLE", "VERDICT_STYLE", "badges", "plain", "status"]

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
VERDICT_STYLE = {
    "applied": "green",
    "filtered": "bold yellow",
    "duplicate": "cyan",
    "discarded": "magenta",
    "aborted": "bold red",
}
STATUS_STYLE = {
    "Completed": "green",
    "Failed": "red",
    "Running": "yellow",
    "ContinuedAsNew": "blue",
}


def plain(value: object, limit: int | None = None) -> Text:
    """Data as a Rich ``Text`` with control characters made visible (never markup)."""
    return Text(safe_text(value, limit))


def badges(findings: list[Finding] | None) -> Text:
    """A compact badge string: ``E2 W1`` (errors, warnings, info), or ``…`` while diagnosing."""
    if findings is None:
        return Text("…", style="dim")
    counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
    out = Text()
    for sev, letter in (("error", "E"), ("warning", "W"), ("info", "I")):
        if counts[sev]:
            if out:
                out.append(" ")
            out.append(f"{letter}{counts[sev]}", style=SEVERITY_STYLE[sev])
    return out


def status(value: str) -> Text:
    """A status word, coloured (the word carries the meaning too)."""
    word = "continued as new" if value == "ContinuedAsNew" else value
    return Text(word, style=STATUS_STYLE.get(value, ""))
