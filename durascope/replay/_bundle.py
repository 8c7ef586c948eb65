"""Bundles: portable, schema-versioned JSON exports of an instance tree or a store.

A bundle is data only (JSON, optionally gzip; never pickle, never code).  Events
keep duroxide's JSON shape, so a bundle made from a duroxide store can be
compared with one made from a durascope store field by field.

``redact`` replaces every payload and every free text that can quote one
with its size and a stable hash (see :mod:`durascope.replay._redact`).
"""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Iterable
from itertools import chain
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from durascope.history import Event, HistoryDecodeError, TurnRecord, work_item_from_json
from durascope.replay._model import (
    Execution,
    Instance,
    Model,
    Origin,
    PendingMessage,
    SourceError,
    SourceKind,
)
from durascope.replay._output_files import write_atomically
from durascope.replay._redact import Redactor, redacted
from durascope.runtime import ENGINE_VERSION

BUNDLE_FORMAT = "durascope-bundle"
BUNDLE_SCHEMA_VERSION = 1
GZIP_MAGIC = b"\x1f\x8b"


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
    redactor = Redactor(frozenset(model.instances)) if redact else None
    instances = tuple(_bundle_instance(model.instances[i], redactor) for i in ids)
    pending = tuple(
        BundlePending(
            queue=m.queue,
            id=m.id,
            instance_id=m.instance_id,
            raw=redactor.queue_row(m.raw) if redactor else m.raw,
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
            # A redacted bundle names its source by file name: a path can say whose it is.
            source_path=Path(origin.path).name if redact else origin.path,
            runtime_version=origin.runtime_version,
            exported_at_ms=int(time.time() * 1000),
            exported_by=f"durascope (engine {ENGINE_VERSION})",
        ),
        redacted=redact or origin.redacted,
        instances=instances,
        pending=pending,
        orphan_turns=tuple(
            (redactor.turn(t, ()) if redactor else t)
            for t in model.orphan_turns
            if instance_id is None or t.instance in wanted
        ),
    )


def write_bundle(bundle: Bundle, path: str | Path) -> None:
    """Write a bundle as JSON (gzip when the name ends in ``.gz``).

    The file appears whole or not at all: a failed write leaves an existing file
    at ``path`` as it was (see :func:`write_atomically`).
    """
    data = bundle.model_dump_json().encode()
    if Path(path).name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_atomically(path, data)


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
        if (first := instances.get(b.instance_id)) is not None:
            # As with executions: a store holds an instance once; the first copy is kept.
            first.repeated_copies += 1
            continue
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


def _bundle_instance(inst: Instance, redactor: Redactor | None) -> BundleInstance:
    # The id as the data stated it, so the bundle carries the same damage (and finding).
    stated_current = (
        inst.current_execution_id
        if inst.stated_current_execution_id is None
        else inst.stated_current_execution_id
    )
    if redactor is None:
        output, custom_status, turns = inst.output, inst.custom_status, inst.turns
        executions = tuple(_bundle_execution(ex, ex.output, ex.events) for ex in inst.executions)
    else:
        events = {ex.execution_id: ex.events for ex in inst.executions}
        output = _redacted_output(redactor, inst.output, inst.status, chain(*events.values()))
        custom_status = redacted(inst.custom_status)
        turns = tuple(redactor.turn(t, events.get(t.execution_id, ())) for t in inst.turns)
        executions = tuple(
            _bundle_execution(
                ex,
                _redacted_output(redactor, ex.output, ex.status, ex.events),
                redactor.events(ex.events),
            )
            for ex in inst.executions
        )
    return BundleInstance(
        instance_id=inst.instance_id,
        orchestration_name=inst.orchestration_name,
        orchestration_version=inst.orchestration_version,
        current_execution_id=stated_current,
        parent_instance_id=inst.parent_instance_id,
        status=inst.status,
        output=output,
        custom_status=custom_status,
        executions=executions,
        turns=turns,
    )


def _bundle_execution(
    ex: Execution, output: str | None, events: tuple[Event, ...]
) -> BundleExecution:
    return BundleExecution(
        execution_id=ex.execution_id,
        status=ex.status,
        output=output,
        started_at_ms=ex.started_at_ms,
        completed_at_ms=ex.completed_at_ms,
        events=events,
    )


def _redacted_output(
    redactor: Redactor, output: str | None, status: str, events: Iterable[Event]
) -> str | None:
    if status == "Failed":
        return redactor.failed_output(output, events)
    marker: str | None = redacted(output)
    return marker


def _decode_item(raw: str) -> Any:
    try:
        return work_item_from_json(raw)
    except HistoryDecodeError:
        return None


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else text
