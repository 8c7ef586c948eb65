"""What a redacted export must not contain, and what it must still let diagnosis find.

:func:`payload_strings` collects, from a source model, every string a user's data
can reach: inputs, outputs, results, event data, custom statuses, key-value
values, error messages (tracebacks included), cancel reasons a client gave,
decode errors and queue rows, and the string leaves of those that are JSON.
:func:`leaked` says which of them a bundle's text still holds.  The runtime's
own texts, which hold only ids and kinds and which redaction keeps on purpose,
are listed here independently of the implementation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from durascope.history import event_to_dict, turn_record_to_json
from durascope.replay import Model, diagnose

PAYLOAD_KEYS = frozenset(
    {
        "input",
        "output",
        "result",
        "data",
        "status",
        "initial_custom_status",
        "value",
        "message",
        "error",
        "reason",
        "raw",
    }
)
"""Keys of an event, a work item or error details whose values are a user's data or can quote it.

Everything else (names, ids, kinds, tags, keys) is structure.
"""

RUNTIME_TEXT = re.compile(
    r"(?:nondeterministic: |canceled: )?"
    r"(?:no matching schedule for (?:completion|timer|sub-orchestration) id=\d+"
    r"|sub-orchestration instance id '[^']+' already exists and is terminal"
    r"|dropped_future|orchestration_terminal(?:_[a-z_]+)?"
    r"|parent canceled|parent dropped sub-orchestration future)"
)
"""Texts the runtimes write from ids alone (kept by redaction, and holding nothing else)."""

TRACEBACK_FILE = re.compile(r'File "(/[^"]+)"')


def _strings_under(value: Any, inside: bool) -> Iterator[str]:
    """The strings of ``value`` that sit under a payload key (JSON strings: their leaves too)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "carry_forward_events" and isinstance(inner, list):
                yield from _strings_under([pair[1:] for pair in inner], True)  # [name, data]
            else:
                yield from _strings_under(inner, inside or key in PAYLOAD_KEYS)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings_under(inner, inside)
    elif isinstance(value, str) and inside:
        yield value
        try:
            decoded = json.loads(value)
        except ValueError:
            return
        if isinstance(decoded, dict | list):
            yield from _strings_under(decoded, True)
        elif isinstance(decoded, str):
            yield decoded


def _item_strings(item: Any) -> Iterator[str]:
    """A work item's (``{"Tag": {fields}}``) payload strings; its tag and routing are structure."""
    if isinstance(item, dict) and len(item) == 1:
        yield from _strings_under(next(iter(item.values())), False)
    else:
        yield from _strings_under(item, True)


def _turn_strings(doc: dict[str, Any]) -> Iterator[str]:
    """A turn record's: its items' payloads, its output and custom status.

    Verdict reasons are the journal's own words, built from ids; their test is apart.
    """
    for verdict in doc["messages"]:
        yield from _item_strings(verdict["message"])
    for sent in doc["sent"]:
        yield from _item_strings(sent["item"])
    yield from _strings_under({"output": doc["output"], "status": doc["custom_status"]}, False)


def _is_payload(text: str) -> bool:
    """At least 4 characters, not a runtime text, not a JSON literal (``null`` is in any bundle)."""
    if len(text) < 4 or RUNTIME_TEXT.fullmatch(text):
        return False
    try:
        return isinstance(json.loads(text), str | dict | list)
    except ValueError:
        return True


def payload_strings(model: Model) -> set[str]:
    """Every payload-ish string of the model, at least 4 characters, runtime texts excepted."""
    found: set[str] = set()
    for inst in model.instances.values():
        found.update(_strings_under({"output": inst.output, "status": inst.custom_status}, False))
        for ex in inst.executions:
            found.update(_strings_under({"output": ex.output}, False))
            for event in ex.events:
                found.update(_strings_under(event_to_dict(event), False))
        for turn in inst.turns:
            found.update(_turn_strings(json.loads(turn_record_to_json(turn))))
    for turn in model.orphan_turns:
        found.update(_turn_strings(json.loads(turn_record_to_json(turn))))
    for message in model.pending:
        try:
            found.update(_item_strings(json.loads(message.raw)))
        except ValueError:
            found.add(message.raw)
    return {s for s in found if _is_payload(s)}


def bundle_haystack(text: str) -> str:
    """A bundle's text and every string in it decoded, so an escaped payload is found too."""
    strings = list(_strings_under(json.loads(text), True))
    return "\n".join([text, *strings])


def structure_strings(model: Model) -> set[str]:
    """Instance ids and names, which redaction keeps: a payload equal to one is no leak."""
    found = set(model.instances)
    for inst in model.instances.values():
        found.add(inst.orchestration_name)
        for ex in inst.executions:
            for event in ex.events:
                doc = event_to_dict(event)
                found.update(doc[k] for k in ("name", "instance") if isinstance(doc.get(k), str))
    return found


def leaked(model: Model, text: str) -> list[str]:
    """The payload strings of ``model`` that the bundle ``text`` still contains.

    A payload that is part of an instance id or a name (a child's input naming
    another instance) is kept with the structure, so it does not count.
    """
    haystack = bundle_haystack(text)
    structure = structure_strings(model)
    return sorted(
        s
        for s in payload_strings(model)
        if s in haystack and not any(s in name for name in structure)
    )


def source_files(model: Model) -> set[str]:
    """The absolute source paths the model's tracebacks name."""
    return {m for s in payload_strings(model) for m in TRACEBACK_FILE.findall(s)}


def finding_keys(model: Model) -> set[tuple[str, str, int | None]]:
    """What diagnosis finds, without its wording: (kind, instance, execution)."""
    return {(f.kind, f.instance, f.execution) for f in diagnose(model)}
