"""duroxide-python's API on durascope (sync, JSON payloads), for ``durascope.compat.duroxide``.

A script written for the ``duroxide`` package runs on durascope by changing its
import line: same classes, same call shapes, same JSON conventions (inputs and
outputs go through ``json.dumps`` / ``json.loads``).  Calls block on a private
background event loop, so they also work inside a Jupyter kernel.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from durascope.history import Event, event_to_dict
from durascope.runtime._background_loop import BackgroundLoop
from durascope.runtime._child_ids import ReservedInstanceIdError
from durascope.runtime._client import Client as AsyncClient
from durascope.runtime._client import OrchestrationState
from durascope.runtime._compat_options import RuntimeOptions
from durascope.runtime._dispatchers import RuntimeOptions as NativeOptions
from durascope.runtime._registry import DEFAULT_VERSION
from durascope.runtime._runtime import Runtime as AsyncRuntime
from durascope.runtime._rust_debug import rust_event_name
from durascope.runtime._store import SqliteStore
from durascope.runtime._tasks import decode_payload


class SqliteProvider:
    """A SQLite store, opened on first use and shared by runtimes and clients."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._store: SqliteStore | None = None
        self._lock = threading.Lock()

    @staticmethod
    def open(path: str | Path) -> SqliteProvider:
        """A store file (created if missing)."""
        return SqliteProvider(str(path))

    @staticmethod
    def in_memory() -> SqliteProvider:
        """A store in memory (one per provider object)."""
        return SqliteProvider(":memory:")

    def store(self) -> SqliteStore:
        """The underlying :class:`SqliteStore` (opened on the background loop)."""
        with self._lock:
            if self._store is None:
                self._store = BackgroundLoop.shared().run(SqliteStore.open(self.path))
            return self._store

    def close(self) -> None:
        """Close the store connection."""
        with self._lock:
            if self._store is not None:
                BackgroundLoop.shared().run(self._store.close())
                self._store = None


class Runtime:
    """duroxide-python's ``Runtime``: register code, ``start()`` (returns), ``shutdown()``.

    ``options`` are duroxide-python's :class:`RuntimeOptions` (durascope's own
    ``durascope.runtime.RuntimeOptions`` are taken as they are).
    """

    def __init__(
        self, provider: SqliteProvider, options: RuntimeOptions | NativeOptions | None = None
    ) -> None:
        self._provider = provider
        self._options = options
        native = options.native() if isinstance(options, RuntimeOptions) else options
        self._runtime = AsyncRuntime(provider.store(), native)
        # Activities run in worker threads: they get the sync client, as in duroxide-python.
        self._runtime.activity_client = lambda: Client(provider)

    def register_activity(self, name: str, fn: Callable[..., Any] | None = None) -> Any:
        """Register an activity ``fn(ctx, input)``; usable as a decorator."""
        if fn is None:
            return self._runtime.register_activity(name)
        return self._runtime.register_activity(name, fn)

    register_activity_typed = register_activity

    def register_orchestration(self, name: str, fn: Callable[..., Any] | None = None) -> Any:
        """Register an orchestration generator ``fn(ctx, input)``; usable as a decorator."""
        return self.register_orchestration_versioned(name, DEFAULT_VERSION, fn)

    register_orchestration_typed = register_orchestration

    def register_orchestration_versioned(
        self, name: str, version: str, fn: Callable[..., Any] | None = None
    ) -> Any:
        """Register a specific version of an orchestration; usable as a decorator."""
        if fn is None:
            return self._runtime.register_orchestration(name, version=version)
        return self._runtime.register_orchestration(name, fn, version=version)

    register_orchestration_versioned_typed = register_orchestration_versioned

    def start(self) -> None:
        """Start the dispatchers in the background and return."""
        if isinstance(self._options, RuntimeOptions):
            self._options.apply_log_level()
        BackgroundLoop.shared().run(self._runtime.start())

    def shutdown(self, timeout_ms: int | None = None) -> None:
        """Stop gracefully, waiting up to ``timeout_ms`` for work in flight."""
        timeout = (timeout_ms or 10_000) / 1000
        BackgroundLoop.shared().run(self._runtime.shutdown(timeout))


class OrchestrationResult:
    """duroxide-python's status object: ``status``, parsed ``output``, ``error``, custom status."""

    def __init__(self, state: OrchestrationState) -> None:
        self.status = state.status
        self.output = decode_payload(state.output)
        self.error = state.error
        self.custom_status = state.custom_status
        self.custom_status_version = state.custom_status_version

    def __repr__(self) -> str:
        return (
            f"OrchestrationResult(status={self.status!r}, output={self.output!r}, "
            f"error={self.error!r})"
        )


@dataclass(frozen=True)
class InstanceInfo:
    """duroxide's ``InstanceInfo``."""

    instance_id: str
    orchestration_name: str
    orchestration_version: str | None
    current_execution_id: int
    status: str
    output: str
    """The output, error or next input; ``""`` while running (as duroxide-python)."""
    created_at: int
    updated_at: int
    parent_instance_id: str | None


@dataclass(frozen=True)
class ExecutionInfo:
    """duroxide's ``ExecutionInfo``."""

    execution_id: int
    status: str
    output: str
    """``""`` while running, as duroxide-python."""
    started_at: int
    completed_at: int
    """0 while running, as duroxide-python."""
    event_count: int


@dataclass(frozen=True)
class InstanceTree:
    """duroxide's ``InstanceTree``."""

    root_id: str
    all_ids: list[str]

    @property
    def size(self) -> int:
        """Number of instances in the tree."""
        return len(self.all_ids)


class HistoryEvent:
    """duroxide-python's ``Event``, plus ``raw``: the event's full duroxide JSON.

    Attributes:
        event_id: The event's id in its execution.
        kind: duroxide's ``EventKind`` variant name (``QueueSubscribed`` for the JSON
            type ``ExternalSubscribedPersistent``, and so on).
        source_event_id: The schedule a completion belongs to.
        timestamp_ms: When the event was written.
        data: What duroxide-python puts there: the payload itself for results and
            outputs, compact JSON for schedules (``{"name":..,"input":..}``), timers
            (``{"fireAtMs":..}``), events and error details; None for the others.
        raw: The event as a dict in duroxide's serde shape (not in duroxide-python).
    """

    def __init__(self, event: Event) -> None:
        self.raw: dict[str, Any] = event_to_dict(event)
        self.event_id = event.event_id
        self.kind = rust_event_name(event.type)
        self.source_event_id = event.source_event_id
        self.timestamp_ms = event.timestamp_ms
        self.data = event_data(event)

    def __repr__(self) -> str:
        return f"Event({self.event_id}, {self.kind})"


def event_data(event: Event) -> str | None:
    """duroxide-python's ``Event.data`` for one event (its ``extract_event_data``)."""
    raw = _RAW_DATA.get(event.type)
    if raw is not None:
        return str(getattr(event, raw))
    details = getattr(event, "details", None)
    if event.type in _ERROR_EVENTS and details is not None:
        return str(details.model_dump_json())
    fields = _JSON_DATA.get(event.type)
    if fields is None:
        return None
    parts = []
    for field, encoded in fields:
        value = getattr(event, field)
        text = json.dumps(value, ensure_ascii=False) if encoded else str(value)
        parts.append(f"{json.dumps(_CAMEL.get(field, field))}:{text}")
    return "{" + ",".join(parts) + "}"


_RAW_DATA = {
    "OrchestrationCompleted": "output",
    "ActivityCompleted": "result",
    "SubOrchestrationCompleted": "result",
}
_ERROR_EVENTS = frozenset({"OrchestrationFailed", "ActivityFailed", "SubOrchestrationFailed"})
_JSON_DATA: dict[str, tuple[tuple[str, bool], ...]] = {
    # (field, JSON-encode it); payload fields are JSON already and go in verbatim.
    "OrchestrationStarted": (("name", True), ("version", True), ("input", False)),
    "ActivityScheduled": (("name", True), ("input", False)),
    "TimerCreated": (("fire_at_ms", False),),
    "TimerFired": (("fire_at_ms", False),),
    "ExternalSubscribed": (("name", True),),
    "ExternalEvent": (("name", True), ("data", False)),
    "SubOrchestrationScheduled": (("name", True), ("instance", True), ("input", False)),
    "ExternalSubscribedPersistent": (("name", True),),
    "ExternalEventPersistent": (("name", True), ("data", False)),
}
_CAMEL = {"fire_at_ms": "fireAtMs"}


def parse_result(result: Any) -> Any:
    """Unwrap ``{"ok": v}`` results of ``all``/``race`` (duroxide-python's helper)."""
    if isinstance(result, list):
        return [i.get("ok") if isinstance(i, dict) and "ok" in i else i for i in result]
    if isinstance(result, dict):
        if "ok" in result:
            return result["ok"]
        if "err" in result:
            raise Exception(result["err"])
    return result


class Client:
    """duroxide-python's ``Client`` (sync, JSON payloads)."""

    def __init__(self, provider: SqliteProvider) -> None:
        self._client = AsyncClient(provider.store())
        self._loop = BackgroundLoop.shared()

    def _run(self, coro: Any) -> Any:
        return self._loop.run(coro)

    def start_orchestration(self, instance_id: str, name: str, input: Any = None) -> None:
        """Start an instance (ids with the reserved ``sub::`` marker are rejected)."""
        try:
            self._run(self._client.start_orchestration(instance_id, name, input))
        except ReservedInstanceIdError as exc:
            raise RuntimeError(str(exc)) from None

    def start_orchestration_versioned(
        self, instance_id: str, name: str, input: Any, version: str
    ) -> None:
        """Start an instance on a specific version."""
        try:
            self._run(self._client.start_orchestration(instance_id, name, input, version=version))
        except ReservedInstanceIdError as exc:
            raise RuntimeError(str(exc)) from None

    start_orchestration_typed = start_orchestration
    start_orchestration_versioned_typed = start_orchestration_versioned

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Raise an external event."""
        self._run(self._client.raise_event(instance_id, event_name, data))

    raise_event_typed = raise_event

    def enqueue_event(self, instance_id: str, queue_name: str, data: Any = None) -> None:
        """Send a mailbox message."""
        self._run(self._client.enqueue_event(instance_id, queue_name, data))

    enqueue_event_typed = enqueue_event

    def cancel_instance(self, instance_id: str, reason: str | None = None) -> None:
        """Cancel an instance (and, in cascade, its children)."""
        self._run(self._client.cancel_instance(instance_id, reason))

    def get_status(self, instance_id: str) -> OrchestrationResult:
        """The instance's status with its output parsed from JSON."""
        return OrchestrationResult(self._run(self._client.get_status(instance_id)))

    def wait_for_orchestration(
        self, instance_id: str, timeout_ms: int = 30000
    ) -> OrchestrationResult:
        """Wait for completion or failure; ``RuntimeError`` on timeout, as duroxide."""
        try:
            state = self._run(self._client.wait_for_orchestration(instance_id, timeout_ms / 1000))
        except TimeoutError:
            raise RuntimeError("Operation timed out") from None
        return OrchestrationResult(state)

    def wait_for_status_change(
        self,
        instance_id: str,
        last_seen_version: int = 0,
        poll_interval_ms: int = 200,
        timeout_ms: int = 30000,
    ) -> OrchestrationResult:
        """Wait until the custom status version differs from ``last_seen_version``.

        Also returns once the instance completes or fails; ``RuntimeError`` on
        timeout (also for an instance that does not exist), as duroxide.
        """
        try:
            state = self._run(
                self._client.wait_for_status_change(
                    instance_id, last_seen_version, poll_interval_ms / 1000, timeout_ms / 1000
                )
            )
        except TimeoutError:
            raise RuntimeError("Operation timed out") from None
        return OrchestrationResult(state)

    def wait_for_orchestration_typed(self, instance_id: str, timeout_ms: int = 30000) -> Any:
        """The parsed output; raises when the orchestration failed."""
        result = self.wait_for_orchestration(instance_id, timeout_ms)
        if result.status == "Failed":
            raise Exception(result.error or "Orchestration failed")
        return result.output

    def list_all_instances(self) -> list[str]:
        """Every instance id."""
        return [row.instance_id for row in self._run(self._client.list_instances())]

    def list_instances_by_status(self, status: str) -> list[str]:
        """Instance ids whose current execution has ``status``."""
        rows = self._run(self._client.list_instances())
        return [r.instance_id for r in rows if (r.status or "Running") == status]

    def get_instance_info(self, instance_id: str) -> InstanceInfo:
        """One instance's info; ``RuntimeError`` when it does not exist."""
        row = self._run(self._client.get_instance(instance_id))
        if row is None:
            raise RuntimeError(f"get_instance_info: Instance {instance_id} not found")
        return InstanceInfo(
            instance_id=row.instance_id,
            orchestration_name=row.orchestration_name,
            orchestration_version=row.orchestration_version,
            current_execution_id=row.current_execution_id,
            status=row.status or "Running",
            output="" if row.output is None else row.output,
            created_at=row.created_at_ms,
            updated_at=row.updated_at_ms,
            parent_instance_id=row.parent_instance_id,
        )

    def _execution_rows(self, instance_id: str) -> list[Any]:
        return list(self._run(self._client.list_executions(instance_id)))

    def list_executions(self, instance_id: str) -> list[int]:
        """The instance's execution ids."""
        return [row.execution_id for row in self._execution_rows(instance_id)]

    def get_execution_info(self, instance_id: str, execution_id: int) -> ExecutionInfo:
        """One execution's info."""
        for row in self._execution_rows(instance_id):
            if row.execution_id == execution_id:
                names = {f.name for f in fields(ExecutionInfo)}
                values = {
                    "execution_id": row.execution_id,
                    "status": row.status,
                    "output": "" if row.output is None else row.output,
                    "started_at": row.started_at_ms,
                    "completed_at": row.completed_at_ms or 0,
                    "event_count": row.event_count,
                }
                return ExecutionInfo(**{k: v for k, v in values.items() if k in names})
        raise RuntimeError(
            f"get_execution_info: Execution {execution_id} not found for instance {instance_id}"
        )

    def read_execution_history(self, instance_id: str, execution_id: int) -> list[HistoryEvent]:
        """One execution's events (each with ``.raw``, its duroxide JSON)."""
        events = self._run(self._client.read_history(instance_id, execution_id))
        return [HistoryEvent(e) for e in events]

    def get_instance_tree(self, instance_id: str) -> InstanceTree:
        """The instance and its descendants."""
        tree = self._run(self._client.get_instance_tree(instance_id))
        return InstanceTree(root_id=tree.root_id, all_ids=list(tree.all_ids))
