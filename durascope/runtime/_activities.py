"""Running one activity work item: user activities and duroxide's system activities."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from typing import Any

from durascope.history import (
    ActivityCompletedItem,
    ActivityExecute,
    ActivityFailedItem,
    PoisonActivity,
    PoisonError,
    application_error,
    work_item_to_json,
)
from durascope.runtime._registry import Registry
from durascope.runtime._tasks import (
    SYSCALL_NEW_GUID,
    SYSCALL_UTC_NOW,
    decode_payload,
    encode_payload,
)

_log = logging.getLogger("durascope.activity")

ActivityOutcome = ActivityCompletedItem | ActivityFailedItem


class ActivityContext:
    """What an activity function receives as ``ctx`` (duroxide-python's names).

    Attributes:
        instance_id: The orchestration instance that scheduled the activity.
        execution_id: The scheduling execution.
        orchestration_name: Name of the scheduling orchestration.
        orchestration_version: Its version.
        activity_name: This activity's registered name.
        worker_id: The worker running it.
        session_id: Session affinity key, if any.
    """

    def __init__(
        self,
        item: ActivityExecute,
        *,
        worker_id: str,
        orchestration_name: str = "",
        orchestration_version: str = "",
        client: Any = None,
    ) -> None:
        self.instance_id = item.instance
        self.execution_id = item.execution_id
        self.orchestration_name = orchestration_name
        self.orchestration_version = orchestration_version
        self.activity_name = item.name
        self.worker_id = worker_id
        self.session_id = item.session_id
        self._tag = item.tag
        self._client = client
        self.cancelled = False

    def tag(self) -> str | None:
        """The routing tag the activity was scheduled with."""
        return self._tag

    def is_cancelled(self) -> bool:
        """True once the orchestration no longer wants this result (lost a race, ended)."""
        return self.cancelled

    def get_client(self) -> Any:
        """A client on the same store (to start orchestrations from an activity)."""
        if self._client is None:
            raise RuntimeError("Activity context has no client")
        return self._client

    def trace_info(self, message: str) -> None:
        """Log at INFO."""
        _log.info("%s", message)

    def trace_warn(self, message: str) -> None:
        """Log at WARNING."""
        _log.warning("%s", message)

    def trace_error(self, message: str) -> None:
        """Log at ERROR."""
        _log.error("%s", message)

    def trace_debug(self, message: str) -> None:
        """Log at DEBUG."""
        _log.debug("%s", message)


def activity_failure_message(name: str, exc: BaseException) -> str:
    """The error text duroxide-python records when an activity raises."""
    return f"Activity '{name}' call failed: {type(exc).__name__}: {exc}"


def activity_poison(item: ActivityExecute, attempt: int, max_attempts: int) -> ActivityFailedItem:
    """The failure duroxide reports for an activity fetched more than ``max_attempts`` times.

    A poison error is a system error: it fails the scheduling orchestration's turn
    (and, through it, its parent), the code never sees it as an exception.
    """
    return ActivityFailedItem(
        instance=item.instance,
        execution_id=item.execution_id,
        id=item.id,
        details=PoisonError(
            attempt_count=attempt,
            max_attempts=max_attempts,
            message_type=PoisonActivity(
                instance=item.instance,
                execution_id=item.execution_id,
                activity_name=item.name,
                activity_id=item.id,
            ),
            message=work_item_to_json(item),
        ),
    )


def _completed(item: ActivityExecute, result: str) -> ActivityCompletedItem:
    return ActivityCompletedItem(
        instance=item.instance, execution_id=item.execution_id, id=item.id, result=result
    )


def _failed(item: ActivityExecute, message: str) -> ActivityFailedItem:
    return ActivityFailedItem(
        instance=item.instance,
        execution_id=item.execution_id,
        id=item.id,
        details=application_error("ActivityFailed", message),
    )


def is_runnable(registry: Registry, name: str) -> bool:
    """Whether this process can run activity ``name`` (registered, or a system activity)."""
    return name in (SYSCALL_NEW_GUID, SYSCALL_UTC_NOW) or registry.activity(name) is not None


def system_activity(item: ActivityExecute, now_ms: int | None = None) -> ActivityOutcome | None:
    """Results of duroxide's system activities, or None for a user activity."""
    if item.name == SYSCALL_NEW_GUID:
        return _completed(item, str(uuid.uuid4()))
    if item.name == SYSCALL_UTC_NOW:
        return _completed(item, str(now_ms if now_ms is not None else int(time.time() * 1000)))
    return None


async def run_activity(
    registry: Registry,
    item: ActivityExecute,
    ctx: ActivityContext,
    *,
    now_ms: int | None = None,
    in_thread: bool = False,
) -> ActivityOutcome | None:
    """Run an activity (plain or ``async``) and turn its result into a completion item.

    Returns None, running nothing, when the activity is not registered here: the
    caller abandons the work item with a backoff (duroxide waits for a node that has
    the code, as in a rolling deployment) until it is poisoned.

    Args:
        registry: Where the activity's code is registered.
        item: The work item.
        ctx: The activity's context.
        now_ms: Clock for ``utc_now`` (the simulator's virtual time); wall clock if None.
        in_thread: Run a plain (non-async) function in a worker thread, so a slow
            activity does not stall the event loop that runs the dispatchers.
    """
    builtin = system_activity(item, now_ms)
    if builtin is not None:
        return builtin
    fn = registry.activity(item.name)
    if fn is None:
        return None
    try:
        arg = decode_payload(item.input)
        if in_thread and not inspect.iscoroutinefunction(fn):
            value = await asyncio.to_thread(fn, ctx, arg)
        else:
            value = fn(ctx, arg)
        if inspect.isawaitable(value):
            value = await value
    except Exception as exc:  # an activity's exception is its result
        return _failed(item, activity_failure_message(item.name, exc))
    try:
        return _completed(item, encode_payload(value))
    except (TypeError, ValueError) as exc:
        return _failed(item, f"Activity '{item.name}' returned a value that is not JSON: {exc}")
