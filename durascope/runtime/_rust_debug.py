"""duroxide's Rust ``Debug`` renderings of actions and events.

duroxide writes ``schedule mismatch: action={:?} vs event={:?}`` (and the same
for custom status); producing the same text makes nondeterminism failures
compare equal across the two runtimes.  Rust prints an ``Option`` field as
``None`` or ``Some(value)``, strings quoted and escaped, enum unit variants bare
(``ActivityFailed``) and struct variants as ``Name { field: value, ... }``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from durascope.history import ENVELOPE_FIELDS, Event
from durascope.runtime._actions import Action
from durascope.runtime._tasks import (
    ActivityTask,
    DequeueEventTask,
    DetachedStartTask,
    SubOrchestrationTask,
    TimerTask,
    WaitEventTask,
)


def rust_debug_str(value: str) -> str:
    """A string as Rust's ``{:?}`` prints it (duroxide's error messages use it)."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _RUST_ESCAPES:
            out.append(_RUST_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{{{code:x}}}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_RUST_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def _rust_option(value: str | None) -> str:
    return "None" if value is None else f"Some({rust_debug_str(value)})"


def _rust_struct(name: str, fields: list[tuple[str, str]]) -> str:
    inner = ", ".join(f"{k}: {v}" for k, v in fields)
    return f"{name} {{ {inner} }}" if fields else name


def rust_debug_value(value: Any) -> str:
    """A field value as Rust's ``{:?}`` prints it (strings, numbers, lists, error details)."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return rust_debug_str(value)
    if isinstance(value, tuple | list):
        items = ", ".join(
            "(" + ", ".join(rust_debug_value(v) for v in item) + ")"
            if isinstance(item, tuple)
            else rust_debug_value(item)
            for item in value
        )
        return f"[{items}]"
    if isinstance(value, BaseModel):
        return _rust_model(getattr(type(value), "variant", type(value).__name__), value, ())
    return str(value)


def _rust_model(name: str, model: BaseModel, skip: tuple[str, ...]) -> str:
    """A model as a Rust struct (variant): optional fields ``Some``/``None``, enum kinds bare."""
    fields: list[tuple[str, str]] = []
    for key, info in type(model).model_fields.items():
        if key in skip:
            continue
        value = getattr(model, key)
        if key == "kind" and isinstance(value, str):
            rendered = value  # an enum unit variant: AppErrorKind, ConfigErrorKind
        else:
            rendered = rust_debug_value(value)
        optional = not info.is_required() and info.default is None
        if optional and value is not None:
            rendered = f"Some({rendered})"
        fields.append((key, rendered))
    return _rust_struct(name, fields)


def describe_action(action: Action, now_ms: int = 0) -> str:
    """An action as duroxide's ``Action`` Debug rendering (for nondeterminism messages).

    An action not yet matched to an event has ``scheduling_event_id: 0``; an
    auto-id child is still its placeholder ``sub::pending_{token}``, the token
    counting the schedule actions the code emitted so far, this one included.
    """
    task = action.task
    sched = ("scheduling_event_id", "0")
    if action.kind == "custom_status":
        return _rust_struct("UpdateCustomStatus", [("status", _rust_option(action.custom_status))])
    if isinstance(task, ActivityTask):
        return _rust_struct(
            "CallActivity",
            [
                sched,
                ("name", rust_debug_str(task.name)),
                ("input", rust_debug_str(task.input)),
                ("session_id", _rust_option(task.session_id)),
                ("tag", _rust_option(task.tag)),
            ],
        )
    if isinstance(task, TimerTask):
        return _rust_struct("CreateTimer", [sched, ("fire_at_ms", str(now_ms + task.delay_ms))])
    if isinstance(task, WaitEventTask):
        return _rust_struct("WaitExternal", [sched, ("name", rust_debug_str(task.name))])
    if isinstance(task, DequeueEventTask):
        return _rust_struct("DequeueEvent", [sched, ("name", rust_debug_str(task.name))])
    if isinstance(task, SubOrchestrationTask | DetachedStartTask):
        detached = isinstance(task, DetachedStartTask)
        instance = task.instance if task.instance is not None else f"sub::pending_{action.token}"
        return _rust_struct(
            "StartOrchestrationDetached" if detached else "StartSubOrchestration",
            [
                sched,
                ("name", rust_debug_str(task.name)),
                ("version", _rust_option(task.version)),
                ("instance", rust_debug_str(instance)),
                ("input", rust_debug_str(task.input)),
            ],
        )
    return action.kind


_RUST_EVENT_NAMES = {
    "ExternalSubscribedPersistent": "QueueSubscribed",
    "ExternalEventPersistent": "QueueEventDelivered",
    "ExternalSubscribedPersistentCancelled": "QueueSubscriptionCancelled",
}


def rust_event_name(event_type: str) -> str:
    """The ``EventKind`` variant duroxide names an event JSON ``type`` by (queues differ)."""
    return _RUST_EVENT_NAMES.get(event_type, event_type)


def describe_event(event: Event) -> str:
    """An event as duroxide's ``EventKind`` Debug rendering (for nondeterminism messages)."""
    return _rust_model(rust_event_name(event.type), event, (*ENVELOPE_FIELDS, "type"))
