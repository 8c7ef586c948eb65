"""The orchestration context handed to user code.

Method names and meanings follow duroxide-python's ``OrchestrationContext`` so
that a duroxide-python orchestration runs unchanged.  Scheduling methods return
task descriptors (see ``_tasks``) to be yielded; custom status and tracing are
fire-and-forget calls that go straight to the replayer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from durascope.runtime._tasks import (
    SYSCALL_NEW_GUID,
    SYSCALL_UTC_NOW,
    ActivityTask,
    AllTask,
    ContinueAsNewTask,
    DequeueEventTask,
    DetachedStartTask,
    RaceTask,
    RetryPolicy,
    SubOrchestrationTask,
    Task,
    TimerTask,
    WaitEventTask,
    encode_payload,
)

if TYPE_CHECKING:
    from durascope.runtime._replayer import Replayer

_log = logging.getLogger("durascope.orchestration")


def _encode_typed(value: Any) -> str:
    # The *_typed variants pass strings through unchanged (duroxide-python does).
    return value if isinstance(value, str) else encode_payload(value)


class OrchestrationContext:
    """What an orchestration generator receives as ``ctx``.

    Attributes:
        instance_id: This instance's id.
        execution_id: The current execution (1-based; grows on continue-as-new).
        orchestration_name: The registered name.
        orchestration_version: The version this execution is pinned to.
    """

    def __init__(
        self,
        replayer: Replayer,
        *,
        instance_id: str,
        execution_id: int,
        orchestration_name: str,
        orchestration_version: str,
    ) -> None:
        self._replayer = replayer
        self.instance_id = instance_id
        self.execution_id = execution_id
        self.orchestration_name = orchestration_name
        self.orchestration_version = orchestration_version

    # Scheduling: each returns a descriptor to yield.

    def schedule_activity(
        self, name: str, input: Any = None, session_id: str | None = None
    ) -> ActivityTask:
        """Run activity ``name``; yield the result to get its return value."""
        return ActivityTask(name=name, input=encode_payload(input), session_id=session_id)

    def schedule_activity_on_session(self, name: str, input: Any, session_id: str) -> ActivityTask:
        """Run an activity with session affinity."""
        return ActivityTask(name=name, input=encode_payload(input), session_id=session_id)

    def schedule_activity_with_retry(
        self, name: str, input: Any, retry: dict[str, Any] | RetryPolicy
    ) -> ActivityTask:
        """Run an activity, retrying failures with backoff timers."""
        policy = retry if isinstance(retry, RetryPolicy) else RetryPolicy.from_dict(retry)
        return ActivityTask(name=name, input=encode_payload(input), retry=policy)

    def schedule_activity_with_retry_on_session(
        self, name: str, input: Any, retry: dict[str, Any] | RetryPolicy, session_id: str
    ) -> ActivityTask:
        """Run an activity with retries, every attempt on the same session."""
        policy = retry if isinstance(retry, RetryPolicy) else RetryPolicy.from_dict(retry)
        return ActivityTask(
            name=name, input=encode_payload(input), retry=policy, session_id=session_id
        )

    def schedule_timer(self, delay_ms: int) -> TimerTask:
        """A durable timer of ``delay_ms`` milliseconds."""
        # Not converted: duroxide-python fails the orchestration when the yielded
        # delay is not an integer (``"5"``, ``1.5``), and so does the replayer.
        return TimerTask(delay_ms=delay_ms)

    def wait_for_event(self, name: str) -> WaitEventTask:
        """Wait for the next external event ``name`` raised after this wait began."""
        return WaitEventTask(name=name)

    def dequeue_event(self, queue_name: str) -> DequeueEventTask:
        """Take the next message of mailbox ``queue_name`` (FIFO, survives CAN)."""
        return DequeueEventTask(name=queue_name)

    def schedule_sub_orchestration(self, name: str, input: Any = None) -> SubOrchestrationTask:
        """Run a child orchestration with an auto-generated id."""
        return SubOrchestrationTask(name=name, input=encode_payload(input))

    def schedule_sub_orchestration_with_id(
        self, name: str, instance_id: str, input: Any = None
    ) -> SubOrchestrationTask:
        """Run a child orchestration with an explicit id (used verbatim)."""
        return SubOrchestrationTask(
            name=name, input=encode_payload(input), instance=instance_id, explicit_id=True
        )

    def schedule_sub_orchestration_versioned(
        self, name: str, version: str | None = None, input: Any = None
    ) -> SubOrchestrationTask:
        """Run a specific version of a child orchestration (auto id)."""
        return SubOrchestrationTask(name=name, input=encode_payload(input), version=version)

    def schedule_sub_orchestration_versioned_with_id(
        self, name: str, version: str, instance_id: str, input: Any = None
    ) -> SubOrchestrationTask:
        """Run a specific version of a child orchestration with an explicit id."""
        return SubOrchestrationTask(
            name=name,
            input=encode_payload(input),
            instance=instance_id,
            version=version,
            explicit_id=True,
        )

    def start_orchestration(self, name: str, instance_id: str, input: Any = None) -> Task:
        """Start an independent orchestration (fire and forget)."""
        return DetachedStartTask(name=name, instance=instance_id, input=encode_payload(input))

    def start_orchestration_versioned(
        self, name: str, version: str, instance_id: str, input: Any = None
    ) -> Task:
        """Start a specific version of an independent orchestration."""
        return DetachedStartTask(
            name=name, instance=instance_id, input=encode_payload(input), version=version
        )

    def new_guid(self) -> ActivityTask:
        """A deterministic GUID (recorded in history, replayed thereafter)."""
        return ActivityTask(name=SYSCALL_NEW_GUID, input="")

    def utc_now(self) -> ActivityTask:
        """The current time in ms since the epoch (recorded, replayed thereafter)."""
        return ActivityTask(name=SYSCALL_UTC_NOW, input="")

    def continue_as_new(self, input: Any = None) -> ContinueAsNewTask:
        """End this execution and start the next with ``input``."""
        return ContinueAsNewTask(input=encode_payload(input))

    def continue_as_new_versioned(
        self, input: Any, version: str | None = None
    ) -> ContinueAsNewTask:
        """Continue as new on a specific version."""
        return ContinueAsNewTask(input=encode_payload(input), version=version)

    def all(self, tasks: Iterable[Task]) -> AllTask:
        """Wait for every task: ``[{"ok": value} | {"err": message}, ...]``."""
        return AllTask(tasks=tuple(tasks))

    def race(self, *tasks: Task) -> RaceTask:
        """Wait for the first task: ``{"index": i, "value": value}``."""
        return RaceTask(tasks=tuple(tasks))

    # Typed variants (duroxide-python names): inputs that are strings pass through.

    def schedule_activity_typed(
        self, name: str, input: Any = None, result_type: Any = None
    ) -> ActivityTask:
        """Like ``schedule_activity``; a string input is passed through as JSON text."""
        return ActivityTask(name=name, input=_encode_typed(input))

    def schedule_sub_orchestration_typed(
        self, name: str, input: Any = None, result_type: Any = None
    ) -> SubOrchestrationTask:
        """Like ``schedule_sub_orchestration``; a string input passes through."""
        return SubOrchestrationTask(name=name, input=_encode_typed(input))

    def wait_for_event_typed(self, name: str) -> WaitEventTask:
        """Same as ``wait_for_event`` (results are always JSON-decoded)."""
        return WaitEventTask(name=name)

    def dequeue_event_typed(self, queue_name: str) -> DequeueEventTask:
        """Same as ``dequeue_event``."""
        return DequeueEventTask(name=queue_name)

    def all_typed(self, tasks: Iterable[Task]) -> AllTask:
        """Like ``all`` but yields the bare values (``ok`` unwrapped, errors as ``{"err"}``)."""
        return AllTask(tasks=tuple(tasks), unwrap=True)

    def race_typed(self, *tasks: Task) -> RaceTask:
        """Same as ``race``."""
        return RaceTask(tasks=tuple(tasks))

    # Fire-and-forget state.

    @property
    def is_replaying(self) -> bool:
        """True while the code is re-executing events already in history."""
        return self._replayer.is_replaying

    def set_custom_status(self, status: str) -> None:
        """Set the instance's custom status (recorded as ``CustomStatusUpdated``)."""
        self._replayer.record_custom_status(str(status))

    def reset_custom_status(self) -> None:
        """Clear the instance's custom status."""
        self._replayer.record_custom_status(None)

    def get_custom_status(self) -> str | None:
        """The custom status as of this point of the code, across turns and CAN."""
        return self._replayer.custom_status

    def trace_info(self, message: str) -> None:
        """Log at INFO, only when not replaying (so each line is logged once)."""
        self._trace(logging.INFO, message)

    def trace_warn(self, message: str) -> None:
        """Log at WARNING, only when not replaying."""
        self._trace(logging.WARNING, message)

    def trace_error(self, message: str) -> None:
        """Log at ERROR, only when not replaying."""
        self._trace(logging.ERROR, message)

    def trace_debug(self, message: str) -> None:
        """Log at DEBUG, only when not replaying."""
        self._trace(logging.DEBUG, message)

    def _trace(self, level: int, message: str) -> None:
        # Converted here, in the orchestration's own frame, as duroxide-python does:
        # a __str__ that raises fails the orchestration, not a log handler later.
        text = str(message)
        if not self._replayer.is_replaying:
            _log.log(
                level,
                "%s",
                text,
                extra={"instance_id": self.instance_id, "execution_id": self.execution_id},
            )
