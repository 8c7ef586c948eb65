"""Plain-text renderings of events for tables: short, one line, safe for a terminal."""

from __future__ import annotations

import re

from durascope.history import Event, UnknownEvent, display_message

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_text(value: object, limit: int | None = None) -> str:
    r"""``str(value)`` with control characters (terminal escapes) shown as ``\xNN``.

    Ids and payloads come from production stores and may carry escape sequences;
    printing them raw could rewrite the user's terminal.
    """
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def event_summary(event: Event, limit: int = 60) -> str:
    """A short description of an event's payload (name, input, result, error...)."""
    parts: list[str] = []
    for key in ("name", "instance", "reason", "key"):
        value = getattr(event, key, None)
        if isinstance(value, str):
            parts.append(value if key == "name" else f"{key}={value}")
    for key in ("input", "result", "output", "data", "status"):
        value = getattr(event, key, None)
        if isinstance(value, str):
            parts.append(f"{key}={value}")
    details = getattr(event, "details", None)
    if isinstance(event, UnknownEvent):  # its fields are raw JSON values, not ErrorDetails
        if details is not None:
            parts.append(f"details={details}")
    elif details is not None:
        parts.append(f"error={display_message(details)}")
    fire = getattr(event, "fire_at_ms", None)
    if isinstance(fire, int):
        parts.append(f"fire_at_ms={fire}")
    if event.type in ("Undecodable",):
        parts.append(str(getattr(event, "error", "")))
    return safe_text(" ".join(parts), limit)
