"""The async client: start, signal, cancel, wait for and inspect instances."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

from durascope.history import (
    CancelInstance,
    Event,
    ExternalRaised,
    QueueMessage,
    StartOrchestration,
    SubOrchestrationPolicy,
    TurnRecord,
)
from durascope.runtime._child_ids import check_root_instance_id
from durascope.runtime._dispatchers import now_ms
from durascope.runtime._store import SqliteStore
from durascope.runtime._store_types import ExecutionRow, InstanceRow
from durascope.runtime._tasks import encode_payload

Status = Literal["NotFound", "Running", "Completed", "Failed"]


@dataclass(frozen=True)
class OrchestrationState:
    """An instance's status as a client sees it.

    Attributes:
        instance_id: The instance.
        status: ``NotFound``, ``Running``, ``Completed`` or ``Failed``.
        output: The raw JSON output when completed.
        error: The error message when failed.
        custom_status: The last custom status.
        custom_status_version: Incremented on every custom status change.
        execution_id: The current execution.
    """

    instance_id: str
    status: Status
    output: str | None = None
    error: str | None = None
    custom_status: str | None = None
    custom_status_version: int = 0
    execution_id: int = 0


@dataclass(frozen=True)
class InstanceTree:
    """An instance and all its descendants (by recorded parent link)."""

    root_id: str
    all_ids: tuple[str, ...]

    @property
    def size(self) -> int:
        """Number of instances in the tree."""
        return len(self.all_ids)


def state_of(instance_id: str, row: InstanceRow | None) -> OrchestrationState:
    """Map an instance row to the status a client reports."""
    if row is None:
        return OrchestrationState(instance_id=instance_id, status="NotFound")
    status: Status = "Running"
    output = error = None
    if row.status == "Completed":
        status, output = "Completed", row.output
    elif row.status == "Failed":
        status, error = "Failed", row.output
    return OrchestrationState(
        instance_id=instance_id,
        status=status,
        output=output,
        error=error,
        custom_status=row.custom_status,
        custom_status_version=row.custom_status_version,
        execution_id=row.current_execution_id,
    )


class Client:
    """Client of a durascope store (async).

    Args:
        store: The store the runtime uses.
        policy: Under ``legacy`` the reserved-id check is off, as before the fix.
    """

    def __init__(self, store: SqliteStore, *, policy: SubOrchestrationPolicy = "fixed") -> None:
        self.store = store
        self.policy = policy

    async def start_orchestration(
        self, instance_id: str, name: str, input: Any = None, *, version: str | None = None
    ) -> None:
        """Start a root instance.

        Raises:
            ReservedInstanceIdError: The id starts with ``sub::`` or contains ``::sub::``.
        """
        if self.policy == "fixed":
            check_root_instance_id(instance_id)
        await self.store.enqueue(
            [
                StartOrchestration(
                    instance=instance_id,
                    orchestration=name,
                    input=encode_payload(input),
                    version=version,
                )
            ],
            now_ms=now_ms(),
        )

    async def raise_event(self, instance_id: str, name: str, data: Any = None) -> None:
        """Raise a positional external event."""
        item = ExternalRaised(instance=instance_id, name=name, data=encode_payload(data))
        await self.store.enqueue([item], now_ms=now_ms())

    async def enqueue_event(self, instance_id: str, queue: str, data: Any = None) -> None:
        """Send a FIFO mailbox message."""
        item = QueueMessage(instance=instance_id, name=queue, data=encode_payload(data))
        await self.store.enqueue([item], now_ms=now_ms())

    async def cancel_instance(self, instance_id: str, reason: str | None = None) -> None:
        """Cancel the instance's current execution; children are cancelled in cascade."""
        item = CancelInstance(instance=instance_id, reason=reason or "")
        await self.store.enqueue([item], now_ms=now_ms())

    async def get_status(self, instance_id: str) -> OrchestrationState:
        """The instance's current status."""
        return state_of(instance_id, await self.store.get_instance(instance_id))

    async def wait_for_orchestration(
        self, instance_id: str, timeout_s: float = 30.0
    ) -> OrchestrationState:
        """Wait until the instance completes or fails.

        Raises:
            TimeoutError: It did not finish within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        delay = 0.002
        while True:
            state = await self.get_status(instance_id)
            if state.status in ("Completed", "Failed"):
                return state
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"instance {instance_id!r} still {state.status} after {timeout_s}s"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    async def wait_for_status_change(
        self,
        instance_id: str,
        last_seen_version: int = 0,
        poll_interval_s: float = 0.2,
        timeout_s: float = 30.0,
    ) -> OrchestrationState:
        """Wait until the custom status version is no longer ``last_seen_version``.

        Returns as well once the instance has completed or failed (duroxide's
        ``wait_for_status_change``).

        Raises:
            TimeoutError: Neither happened within ``timeout_s`` (or the instance does
                not exist).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            state = await self.get_status(instance_id)
            if state.status in ("Completed", "Failed"):
                return state
            if state.status != "NotFound" and state.custom_status_version != last_seen_version:
                return state
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"instance {instance_id!r}: custom status still at version "
                    f"{state.custom_status_version} after {timeout_s}s"
                )
            await asyncio.sleep(min(poll_interval_s, remaining))

    async def list_instances(self) -> list[InstanceRow]:
        """Every instance in the store."""
        return await self.store.list_instances()

    async def get_instance(self, instance_id: str) -> InstanceRow | None:
        """One instance's row, or None."""
        return await self.store.get_instance(instance_id)

    async def list_executions(self, instance_id: str) -> list[ExecutionRow]:
        """The instance's executions, oldest first."""
        return await self.store.list_executions(instance_id)

    async def read_history(self, instance_id: str, execution_id: int | None = None) -> list[Event]:
        """One execution's events (the current execution by default)."""
        if execution_id is None:
            row = await self.store.get_instance(instance_id)
            if row is None:
                return []
            execution_id = row.current_execution_id
        return await self.store.read_history(instance_id, execution_id)

    async def list_turns(self, instance_id: str) -> list[TurnRecord]:
        """The instance's captured turns, in order."""
        return await self.store.list_turns(instance_id)

    async def get_instance_tree(self, instance_id: str) -> InstanceTree:
        """The instance and its descendants, breadth first."""
        seen = [instance_id]
        frontier = [instance_id]
        while frontier:
            nxt: list[str] = []
            for parent in frontier:
                for child in await self.store.list_children(parent):
                    if child not in seen:
                        seen.append(child)
                        nxt.append(child)
            frontier = nxt
        return InstanceTree(root_id=instance_id, all_ids=tuple(seen))
