"""Task descriptors: what orchestration code yields.

``ctx.schedule_activity(...)`` and friends do nothing by themselves; they return
an immutable descriptor that the orchestration yields, exactly as in
duroxide-python where they return dicts.  The replayer turns a yielded
descriptor into actions (schedule events) and a future to wait on.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

SYSCALL_NEW_GUID = "__duroxide_syscall:new_guid"
"""duroxide's system activity behind ``new_guid``."""
SYSCALL_UTC_NOW = "__duroxide_syscall:utc_now_ms"
"""duroxide's system activity behind ``utc_now``."""


def encode_payload(value: Any) -> str:
    """JSON-encode a user value the way duroxide-python does (``json.dumps``)."""
    return json.dumps(value)


def decode_payload(raw: str | None) -> Any:
    """Decode a stored payload; a payload that is not JSON is returned as is."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        return raw


@dataclass(frozen=True)
class RetryPolicy:
    """Retry policy for ``schedule_activity_with_retry``.

    Attributes:
        max_attempts: Total attempts, the first included.
        timeout_ms: Per-attempt timeout (a timer raced against the attempt), if any.
        total_timeout_ms: Give up once this much time has passed since the first attempt.
        backoff_ms: Delay before attempt n+1 is ``backoff_ms * 2**(n-1)``.
    """

    max_attempts: int = 3
    timeout_ms: int | None = None
    total_timeout_ms: int | None = None
    backoff_ms: int = 1000

    @classmethod
    def from_dict(cls, retry: dict[str, Any]) -> RetryPolicy:
        """Accept duroxide-python's retry dict (snake_case or camelCase keys)."""

        def pick(snake: str, camel: str) -> Any:
            return retry.get(snake, retry.get(camel))

        backoff = retry.get("backoff")
        backoff_ms = 1000
        if isinstance(backoff, int | float):
            backoff_ms = int(backoff)
        elif isinstance(backoff, dict):
            raw = backoff.get("initial_ms", backoff.get("initialMs", backoff.get("delay_ms")))
            backoff_ms = int(raw) if raw is not None else 1000
        return cls(
            max_attempts=int(pick("max_attempts", "maxAttempts") or 3),
            timeout_ms=pick("timeout_ms", "timeoutMs"),
            total_timeout_ms=pick("total_timeout_ms", "totalTimeoutMs"),
            backoff_ms=backoff_ms,
        )


@dataclass(frozen=True)
class ActivityTask:
    """Run an activity; yields its result or raises its error."""

    name: str
    input: str
    session_id: str | None = None
    tag: str | None = None
    retry: RetryPolicy | None = None

    def with_tag(self, tag: str) -> ActivityTask:
        """Route the activity to workers with this tag (duroxide-python's builder)."""
        return replace(self, tag=tag)


@dataclass(frozen=True)
class TimerTask:
    """A durable timer; yields None when it fires."""

    delay_ms: int


@dataclass(frozen=True)
class WaitEventTask:
    """Wait for the next positional external event of this name."""

    name: str


@dataclass(frozen=True)
class DequeueEventTask:
    """Take the next FIFO mailbox message of this name."""

    name: str


@dataclass(frozen=True)
class SubOrchestrationTask:
    """Run a child orchestration; ``instance`` None means an auto id."""

    name: str
    input: str
    instance: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class DetachedStartTask:
    """Start an independent orchestration (fire and forget); yields None at once."""

    name: str
    instance: str
    input: str
    version: str | None = None


@dataclass(frozen=True)
class ContinueAsNewTask:
    """End this execution and start the next with ``input``; never resumes."""

    input: str
    version: str | None = None


@dataclass(frozen=True)
class AllTask:
    """Wait for every task; yields ``[{"ok": value} | {"err": message}, ...]``.

    With ``unwrap`` (duroxide-python's ``all_typed``) it yields the bare ``ok`` values.
    """

    tasks: tuple[Task, ...]
    unwrap: bool = False


@dataclass(frozen=True)
class RaceTask:
    """Wait for the first task; yields ``{"index": i, "value": value}``.

    A failed winner raises its error; losers are dropped (and cancelled).
    """

    tasks: tuple[Task, ...]


Task = (
    ActivityTask
    | TimerTask
    | WaitEventTask
    | DequeueEventTask
    | SubOrchestrationTask
    | DetachedStartTask
    | ContinueAsNewTask
    | AllTask
    | RaceTask
)
"""Anything an orchestration may yield."""


def retry_attempts(task: ActivityTask) -> Generator[Task, Any, Any]:
    """The attempts of a retried activity, as durable tasks (so they replay)."""
    policy = task.retry
    assert policy is not None
    plain = replace(task, retry=None)
    last_error = "activity failed"
    for attempt in range(1, max(policy.max_attempts, 1) + 1):
        try:
            if policy.timeout_ms:
                raced = yield RaceTask((plain, TimerTask(int(policy.timeout_ms))))
                if raced["index"] == 1:
                    raise Exception(
                        f"activity '{task.name}' timed out after {policy.timeout_ms} ms"
                    )
                return raced["value"]
            return (yield plain)
        except Exception as exc:
            last_error = str(exc)
            if attempt < policy.max_attempts:
                yield TimerTask(policy.backoff_ms * 2 ** (attempt - 1))
    raise Exception(last_error)
