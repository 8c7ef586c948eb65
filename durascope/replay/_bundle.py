"""Bundles: portable, schema-versioned JSON exports of an instance tree or a store.

A bundle is data only (JSON, optionally gzip; never pickle, never code).  Events
keep duroxide's JSON shape, so a bundle made from a duroxide store can be
compared with one made from a durascope store field by field.

``redact`` replaces every payload with its size and a stable hash, so a
postmortem can be shared without its data.  What is a payload is decided by
structure, not by a list of field names: of a known event or work item, every
field except its identity and routing (envelope, names, ids, versions, timer
times, keys, session and tag) and except error details and cancel reasons,
which are kept because diagnosis needs them; of an unknown or undecodable event
every field but the envelope; of an unknown work item every field but its tag
and routing ids; a queue row that is not JSON as a whole.  Outputs (except a
failed execution's, which is its error message), custom status and the
payloads inside captured turns are redacted the same way.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from durascope.history import (
    ENVELOPE_FIELDS,
    EVENT_ADAPTER,
    WORK_ITEM_ADAPTER,
    Event,
    HistoryDecodeError,
    TurnRecord,
    UnknownEvent,
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

_KEPT_FIELDS = frozenset(
    {
        "name",
        "version",
        "orchestration",
        "instance",
        "execution_id",
        "id",
        "parent_instance",
        "parent_id",
        "parent_execution_id",
        "fire_at_ms",
        "key",
        "last_updated_at_ms",
        "session_id",
        "tag",
        "details",
        "reason",
    }
)
"""Fields of known events and work items that identify or route, or explain a failure.

Everything else of a known model is a payload (an allowlist: a field added to a
model later is redacted until it is listed here).  ``details`` (error details)
and ``reason`` (cancel reasons) are kept on purpose, and ``export --help`` says so.
"""

_ROUTING_FIELDS = frozenset(
    {"instance", "execution_id", "id", "parent_instance", "parent_id", "parent_execution_id"}
)
"""The fields of an unknown work item that are kept: where it goes, nothing it carries."""

_MARKER = re.compile(r"<redacted \d+ bytes sha256:[0-9a-f]{16}>")


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
        executions: list[Execution] = []
        seen: set[int] = set()
        repeated: list[int] = []
        for e in b.executions:
            # A store cannot hold an execution twice (its key), so a repeat is an edited
            # or damaged bundle: the first copy is kept, and the diagnosis says so.
            if e.execution_id in seen:
                repeated.append(e.execution_id)
                continue
            seen.add(e.execution_id)
            executions.append(
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
            executions=tuple(executions),
            _turns=b.turns,
            repeated_executions=tuple(repeated),
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
        # The id as the data stated it, so the bundle carries the same damage (and finding).
        current_execution_id=(
            inst.current_execution_id
            if inst.stated_current_execution_id is None
            else inst.stated_current_execution_id
        ),
        parent_instance_id=inst.parent_instance_id,
        status=inst.status,
        output=_redact_output(inst.output, inst.status) if redact else inst.output,
        custom_status=_redacted(inst.custom_status) if redact else inst.custom_status,
        executions=executions,
        turns=turns,
    )


def redaction_marker(value: str | None) -> str | None:
    """``<redacted N bytes sha256:XXXXXXXXXXXXXXXX>``: size and a stable hash of a payload."""
    if value is None:
        return None
    raw = value.encode()
    return f"<redacted {len(raw)} bytes sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


def _redacted(value: Any) -> Any:
    """The marker of any JSON value: a string's bytes, or another value's compact JSON.

    None stays None (it carries nothing), and a marker stays itself, so a redacted
    bundle redacted again keeps its hashes.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value if _MARKER.fullmatch(value) else redaction_marker(value)
    return redaction_marker(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _redact_output(output: str | None, status: str) -> str | None:
    # A failed execution's output is its error message, which diagnosis needs.
    return output if status == "Failed" else _redacted(output)


def _redact_fields(doc: dict[str, Any], kept: frozenset[str]) -> dict[str, Any]:
    """``doc`` with every field not in ``kept`` redacted (carry-forward events keep names)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in kept:
            out[key] = value
        elif key == "carry_forward_events" and isinstance(value, list):
            out[key] = [
                [pair[0], _redacted(pair[1])]
                if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)
                else _redacted(pair)
                for pair in value
            ]
        else:
            out[key] = _redacted(value)
    return out


def _redact_event(event: Event) -> Event:
    """A known event keeps its structure; an unknown or undecodable one only its envelope."""
    doc = event_to_dict(event)
    kept = ENVELOPE_FIELDS if isinstance(event, UnknownEvent) else ENVELOPE_FIELDS | _KEPT_FIELDS
    return EVENT_ADAPTER.validate_python(_redact_fields(doc, kept))


def _redact_item(doc: Any) -> Any:
    """A work item's JSON (``{"Tag": {...}}``), redacted by the same rules as events."""
    known = True
    try:
        WORK_ITEM_ADAPTER.validate_python(doc)
    except ValidationError:
        known = False
    if not (isinstance(doc, dict) and len(doc) == 1):
        return _redacted(doc)
    ((tag, inner),) = doc.items()
    if not isinstance(inner, dict):
        return {tag: _redacted(inner)}
    return {tag: _redact_fields(inner, _KEPT_FIELDS if known else _ROUTING_FIELDS)}


def _redact_turn(record: TurnRecord) -> TurnRecord:
    doc = json.loads(turn_record_to_json(record))
    for verdict in doc["messages"]:
        verdict["message"] = _redact_item(verdict["message"])
    for sent in doc["sent"]:
        sent["item"] = _redact_item(sent["item"])
    if record.result != "failed":
        doc["output"] = _redacted(record.output)
    doc["custom_status"] = _redacted(record.custom_status)
    return TurnRecord.model_validate(doc)


def _redact_events(events: Iterable[Event]) -> Iterable[Event]:
    return (_redact_event(event) for event in events)


def _redact_json_text(raw: str) -> str:
    """A queue row's work item, redacted; a row that is not JSON becomes one marker."""
    try:
        doc = json.loads(raw)
    except ValueError:  # not JSON: nothing of it is structure (a marker stays itself)
        marker: str = _redacted(raw)
        return marker
    redacted = _redact_item(doc)
    return redacted if isinstance(redacted, str) else json.dumps(redacted, separators=(",", ":"))


def _decode_item(raw: str) -> Any:
    try:
        return work_item_from_json(raw)
    except HistoryDecodeError:
        return None


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text
