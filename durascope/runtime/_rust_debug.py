"""duroxide's Rust ``Debug`` renderings of actions and events.

duroxide writes ``schedule mismatch: action={:?} vs event={:?}``; producing the
same text makes nondeterminism failures compare equal across the two runtimes.
"""

from __future__ import annotations

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


def describe_action(action: Action, now_ms: int = 0) -> str:
    """An action as duroxide's ``Action`` Debug rendering (for nondeterminism messages)."""
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
        instance = task.instance if task.instance is not None else "sub::pending_0"
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


def describe_event(event: Event) -> str:
    """An event as duroxide's ``EventKind`` Debug rendering (for nondeterminism messages)."""
    fields: list[tuple[str, str]] = []
    for key in type(event).model_fields:
        if key in ENVELOPE_FIELDS:
            continue
        value = getattr(event, key)
        if isinstance(value, str):
            fields.append((key, rust_debug_str(value)))
        elif value is None:
            fields.append((key, "None"))
        else:
            fields.append((key, str(value)))
    return _rust_struct(_RUST_EVENT_NAMES.get(event.type, event.type), fields)
