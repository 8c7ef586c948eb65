"""Result types and exceptions of the SQLite store (:mod:`durascope.runtime._store`)."""

from __future__ import annotations

from dataclasses import dataclass

from durascope.history import ActivityExecute, Event, OrchestratorItem, WorkItem


class StoreError(Exception):
    """The store cannot do what was asked (bad file, schema too new, corrupt row...)."""


class StoreBusyError(StoreError):
    """The database stayed locked by other connections through every retry."""


class LockLostError(StoreError):
    """The instance lock expired or was stolen; nothing of the ack was committed."""


@dataclass(frozen=True, slots=True)
class OrchestrationBatch:
    """One instance's visible orchestrator messages, locked for one dispatcher turn.

    Attributes:
        instance: The locked instance.
        lock_token: The token of the instance lock; acks and abandons must present it.
        locked_until_ms: When the lock expires unless renewed.
        message_ids: Queue row ids of ``messages``, index for index.
        messages: The decodable messages, in queue (id) order.
        attempt: The highest ``attempt_count`` in the batch (1 on first delivery).
        instance_exists: Whether an ``instances`` row exists.
        current_execution_id: ``instances.current_execution_id``; 0 without a row.
        orchestration_name: ``instances.orchestration_name``, None without a row.
        orchestration_version: ``instances.orchestration_version``.
        history: The current execution's events in ``event_id`` order (when
            ``history_error`` is set, only the rows that decoded).
        history_error: One line saying which history row did not decode, else None.
        undecodable_message_ids: Fetched rows whose JSON is not a work item; they are
            not in ``messages`` but are deleted by the ack like the others.
        next_turn: The turn number for this batch's turn record (1 + the highest
            recorded turn of the instance, 1 if none).
    """

    instance: str
    lock_token: str
    locked_until_ms: int
    message_ids: tuple[int, ...]
    messages: tuple[OrchestratorItem, ...]
    attempt: int
    instance_exists: bool
    current_execution_id: int
    orchestration_name: str | None
    orchestration_version: str | None
    history: tuple[Event, ...]
    history_error: str | None
    undecodable_message_ids: tuple[int, ...]
    next_turn: int


@dataclass(frozen=True, slots=True)
class WorkBatch:
    """One worker-queue row locked for execution.

    Attributes:
        id: The worker-queue row id.
        lock_token: The row's lock token; acks, abandons and renewals must present it.
        locked_until_ms: When the lock expires unless renewed.
        item: The activity to run.
        attempt: How many times the row has been fetched (1 on first delivery).
    """

    id: int
    lock_token: str
    locked_until_ms: int
    item: ActivityExecute
    attempt: int


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """An ``instances`` row joined with its current execution's status and output."""

    instance_id: str
    orchestration_name: str
    orchestration_version: str | None
    current_execution_id: int
    parent_instance_id: str | None
    custom_status: str | None
    custom_status_version: int
    status: str | None
    """``Running``/``Completed``/``Failed``/``ContinuedAsNew``; None without an execution row."""
    output: str | None
    created_at_ms: int
    updated_at_ms: int


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    """An ``executions`` row with the number of history events it holds."""

    instance_id: str
    execution_id: int
    status: str
    output: str | None
    started_at_ms: int
    completed_at_ms: int | None
    event_count: int


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A row of the orchestrator or worker queue, as the debugger shows it.

    Attributes:
        id: The queue row id.
        instance_id: The row key (the target instance).
        item: The decoded work item, None when ``raw`` does not decode.
        raw: The stored JSON.
        visible_at_ms: When the row becomes (or became) fetchable.
        attempt_count: How many times it was fetched.
        locked: Whether a dispatcher or worker currently holds it.
    """

    id: int
    instance_id: str
    item: WorkItem | None
    raw: str
    visible_at_ms: int
    attempt_count: int
    locked: bool
