"""Values read from SQLite columns, as the types the view model holds.

SQLite is dynamically typed: a column declared ``TEXT`` can hold a BLOB, an
integer or NULL, and a store from an incident (a bad migration, a hand edit, a
disk fault) sometimes does.  The readers pass every column through one of these
so that such a value shows as text (bytes decoded with replacement characters)
instead of breaking the model, an export or the terminal further on.
"""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str:
    """A TEXT column: bytes decoded (invalid UTF-8 replaced), numbers as text, NULL as ``""``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def optional_text(value: Any) -> str | None:
    """A nullable TEXT column."""
    return None if value is None else text(value)


def optional_int(value: Any) -> int | None:
    """A nullable INTEGER column; anything that is not a whole number reads as NULL."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    digits = text(value).strip()
    return int(digits) if digits.lstrip("-").isdigit() else None


def integer(value: Any, default: int) -> int:
    """An INTEGER column that must have a value: ``default`` when it holds no number."""
    number = optional_int(value)
    return default if number is None else number
