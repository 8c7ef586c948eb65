"""Bundles: portable, schema-versioned JSON exports of an instance tree or a store.

A bundle is data only (JSON, optionally gzip; never pickle, never code).  Events
keep duroxide's JSON shape, so a bundle made from a duroxide store can be
compared with one made from a durascope store field by field.  ``redact``
replaces payloads (inputs, outputs, results, event data, custom status) with
their size and a stable hash, so a postmortem can be shared without its data.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from durascope.history import (
    EVENT_ADAPTER,
    Event,
    HistoryDecodeError,
    TurnRecord,
    event_to_dict,
    turn_record_to_json,
    work_item_from_json,
)
from durascope.replay._model import (
    Execution,
    Instance,
    Model,
    Origin,
    PendingMessage,
    SourceError,
    SourceKind,
)
from durascope.runtime import ENGINE_VERSION

BUNDLE_FORMAT = "durascope-bundle"
BUNDLE_SCHEMA_VERSION = 1
GZIP_MAGIC = b"\x1f\x8b"

_PAYLOAD_KEYS = frozenset(
    {"input", "output", "result", "data", "custom_status", "initial_custom_status"}
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BundleOrigin(_Frozen):
    """Where the bundle's data came from."""

    source_kind: SourceKind
    source_path: str
    runtime_version: str | None = None
    exported_at_ms: int
    exported_by: str


class BundleExecution(_Frozen):
    """One execution and its events (duroxide JSON shape)."""

    execution_id: int
    status: str
    output: str | None = None
    started_at_ms: int | None = None
    completed_at_ms: int | None = None
    events: tuple[Event, ...]


class BundleInstance(_Frozen):
    """One instance with its executions and captured turns."""

    instance_id: str
    orchestration_name: str
    orchestration_version: str | None = None
    current_execution_id: int
    parent_instance_id: str | None = None
    status: str
    output: str | None = None
    custom_status: str | None = None
    executions: tuple[BundleExecution, ...]
    turns: tuple[TurnRecord, ...] = ()


class BundlePending(_Frozen):
    """A queued message, as stored (``raw`` is the work item's JSON)."""

    queue: Literal["orchestrator", "worker"]
    id: int
    instance_id: str
    raw: str
    visible_at_ms: int | None = None
    attempt_count: int = 0
    locked: bool = False


class Bundle(_Frozen):
    """The bundle document."""

    format: Literal["durascope-bundle"] = "durascope-bundle"
    schema_version: Literal[1] = 1
    origin: BundleOrigin
    redacted: bool = False
    instances: tuple[BundleInstance, ...]
    pending: tuple[BundlePending, ...] = ()
    orphan_turns: tuple[TurnRecord, ...] = ()
    """Captured turns of messages for instances that never existed."""


def select_tree(model: Model, instance_id: str) -> list[str]:
    """The whole tree holding ``instance_id``: its root and all descendants.

    Instances the tree's schedules name are included too (a colliding explicit child
    id held by another parent), so a collision is visible in the export.
    """
    model.instance(instance_id)
    root = instance_id
    seen_up = {root}
    while True:
        parent = model.instances[root].parent_instance_id
        if parent is None or parent not in model.instances or parent in seen_up:
            break  # a missing or cyclic parent link ends the climb
        root = parent
        seen_up.add(root)
    children: dict[str, list[str]] = {}
    for inst in model.instances.values():
        if inst.parent_instance_id is not None:
            children.setdefault(inst.parent_instance_id, []).append(inst.instance_id)
    selected: list[str] = []
    frontier = [root]
    while frontier:
        current = frontier.pop(0)
        if current in selected:
            continue
        selected.append(current)
        frontier.extend(children.get(current, []))
        for link in model.children_of(current):
            if link.child_exists and link.child_instance not in selected:
                frontier.append(link.child_instance)
    return selected


def build_bundle(model: Model, *, instance_id: str | None = None, redact: bool = False) -> Bundle:
    """Make a bundle of one instance tree, or of everything.

    A tree's bundle keeps the pending messages (and captured turns of messages)
    addressed to its instances and to every child its schedules name, created
    or not: a child's queued ``StartOrchestration`` belongs to the tree before
    the child exists.
    """
    ids = select_tree(model, instance_id) if instance_id else list(model.instances)
    wanted = set(ids)
    if instance_id:
        wanted.update(link.child_instance for i in ids for link in model.links_from(i))
    instances = tuple(_bundle_instance(model.instances[i], redact) for i in ids)
    pending = tuple(
        BundlePending(
            queue=m.queue,
            id=m.id,
            instance_id=m.instance_id,
            raw=_redact_json_text(m.raw) if redact else m.raw,
            visible_at_ms=m.visible_at_ms,
            attempt_count=m.attempt_count,
            locked=m.locked,
        )
        for m in model.pending
        if instance_id is None or m.instance_id in wanted
    )
    origin = model.origin
    return Bundle(
        origin=BundleOrigin(
            source_kind=origin.source_kind or origin.kind,
            source_path=origin.path,
            runtime_version=origin.runtime_version,
            exported_at_ms=int(time.time() * 1000),
            exported_by=f"durascope (engine {ENGINE_VERSION})",
        ),
        redacted=redact or origin.redacted,
        instances=instances,
        pending=pending,
        orphan_turns=tuple(
            (_redact_turn(t) if redact else t)
            for t in model.orphan_turns
            if instance_id is None or t.instance in wanted
        ),
    )


def write_bundle(bundle: Bundle, path: str | Path) -> None:
    """Write a bundle as JSON (gzip when the name ends in ``.gz``)."""
    data = bundle.model_dump_json().encode()
    p = Path(path)
    if p.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    p.write_bytes(data)


def load_bundle(path: str | Path) -> Model:
    """Read a bundle into the view model.

    Raises:
        SourceError: Not JSON, not a durascope bundle, an unsupported schema version,
            or fields of the wrong type (one line saying which).
    """
    p = Path(path)
    raw = p.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceError(f"{p}: a gzip file that does not decompress ({exc})") from None
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(
            f"{p}: neither a SQLite store nor a JSON bundle ({_first_line(str(exc))})"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        raise SourceError(f'{p}: JSON, but not a durascope bundle (no "format": "{BUNDLE_FORMAT}")')
    version = doc.get("schema_version")
    if version != BUNDLE_SCHEMA_VERSION:
        raise SourceError(
            f"{p}: bundle schema_version {version!r} is not supported "
            f"(this durascope reads {BUNDLE_SCHEMA_VERSION})"
        )
    try:
        bundle = Bundle.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise SourceError(f"{p}: malformed bundle: {err['msg']} at {loc}") from None
    return bundle_to_model(bundle, str(p))


def bundle_to_model(bundle: Bundle, path: str) -> Model:
    """The view model a bundle describes."""
    instances: dict[str, Instance] = {}
    for b in bundle.instances:
        executions = tuple(
            Execution(
                instance_id=b.instance_id,
                execution_id=e.execution_id,
                status=e.status,
                output=e.output,
                started_at_ms=e.started_at_ms,
                completed_at_ms=e.completed_at_ms,
                event_count=len(e.events),
                _events=e.events,
            )
            for e in b.executions
        )
        instances[b.instance_id] = Instance(
            instance_id=b.instance_id,
            orchestration_name=b.orchestration_name,
            orchestration_version=b.orchestration_version,
            current_execution_id=b.current_execution_id,
            parent_instance_id=b.parent_instance_id,
            status=b.status,
            output=b.output,
            custom_status=b.custom_status,
            executions=executions,
            _turns=b.turns,
        )
    pending = tuple(
        PendingMessage(
            queue=m.queue,
            id=m.id,
            instance_id=m.instance_id,
            item=_decode_item(m.raw),
            raw=m.raw,
            visible_at_ms=m.visible_at_ms,
            attempt_count=m.attempt_count,
            locked=m.locked,
        )
        for m in bundle.pending
    )
    origin = Origin(
        kind="bundle",
        path=path,
        runtime_version=bundle.origin.runtime_version,
        exported_at_ms=bundle.origin.exported_at_ms,
        source_kind=bundle.origin.source_kind,
        redacted=bundle.redacted,
    )
    return Model(
        origin=origin, instances=instances, pending=pending, orphan_turns=bundle.orphan_turns
    )


def _bundle_instance(inst: Instance, redact: bool) -> BundleInstance:
    executions = tuple(
        BundleExecution(
            execution_id=ex.execution_id,
            status=ex.status,
            output=_redact_output(ex.output, ex.status) if redact else ex.output,
            started_at_ms=ex.started_at_ms,
            completed_at_ms=ex.completed_at_ms,
            events=tuple(_redact_events(ex.events)) if redact else ex.events,
        )
        for ex in inst.executions
    )
    turns = tuple(_redact_turn(t) for t in inst.turns) if redact else inst.turns
    return BundleInstance(
        instance_id=inst.instance_id,
        orchestration_name=inst.orchestration_name,
        orchestration_version=inst.orchestration_version,
        current_execution_id=inst.current_execution_id,
        parent_instance_id=inst.parent_instance_id,
        status=inst.status,
        output=_redact_output(inst.output, inst.status) if redact else inst.output,
        custom_status=redaction_marker(inst.custom_status) if redact else inst.custom_status,
        executions=executions,
        turns=turns,
    )


def redaction_marker(value: str | None) -> str | None:
    """``<redacted N bytes sha256:XXXXXXXXXXXXXXXX>``: size and a stable hash of a payload."""
    if value is None:
        return None
    raw = value.encode()
    return f"<redacted {len(raw)} bytes sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


def _redact_output(output: str | None, status: str) -> str | None:
    # A failed execution's output is its error message, which diagnosis needs.
    return output if status == "Failed" else redaction_marker(output)


def _redact_value(value: Any, parent_type: str | None = None) -> Any:
    if isinstance(value, dict):
        kind = value.get("type") if isinstance(value.get("type"), str) else parent_type
        out: dict[str, Any] = {}
        for key, item in value.items():
            payload = key in _PAYLOAD_KEYS or (key == "status" and kind == "CustomStatusUpdated")
            if payload and isinstance(item, str):
                out[key] = redaction_marker(item)
            elif key == "carry_forward_events" and isinstance(item, list):
                out[key] = [[pair[0], redaction_marker(pair[1])] for pair in item]
            else:
                out[key] = _redact_value(item, kind)
        return out
    if isinstance(value, list):
        return [_redact_value(v, parent_type) for v in value]
    return value


def _redact_turn(record: TurnRecord) -> TurnRecord:
    doc = json.loads(turn_record_to_json(record))
    for verdict in doc["messages"]:
        verdict["message"] = _redact_value(verdict["message"])
    for sent in doc["sent"]:
        sent["item"] = _redact_value(sent["item"])
    if record.result != "failed":
        doc["output"] = redaction_marker(record.output)
    doc["custom_status"] = redaction_marker(record.custom_status)
    return TurnRecord.model_validate(doc)


def _redact_events(events: Iterable[Event]) -> Iterable[Event]:
    for event in events:
        yield EVENT_ADAPTER.validate_python(_redact_value(event_to_dict(event)))


def _redact_json_text(raw: str) -> str:
    try:
        return json.dumps(_redact_value(json.loads(raw)), separators=(",", ":"))
    except json.JSONDecodeError:
        return redaction_marker(raw) or ""


def _decode_item(raw: str) -> Any:
    try:
        return work_item_from_json(raw)
    except HistoryDecodeError:
        return None


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text
