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
from typing import Any, Literal

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


BackoffKind = Literal["exponential", "fixed", "linear"]
"""duroxide-python's backoff names; any other string means ``linear``."""

RETRY_TIMEOUT_ERROR = "timeout: activity timed out"
"""What a retried activity fails with when an attempt's timeout fires (never retried)."""


@dataclass(frozen=True)
class PolicyRefusal:
    """Why duroxide-python rejects a retry dict: the orchestration fails (uncatchably).

    Attributes:
        kind: ``OrchestrationFailed`` for a field of the wrong type (duroxide-python
            cannot decode the yielded task), ``Panicked`` for ``max_attempts`` 0.
        message: duroxide's error message.
    """

    kind: Literal["OrchestrationFailed", "Panicked"]
    message: str


@dataclass(frozen=True)
class RetryPolicy:
    """Retry policy for ``schedule_activity_with_retry`` (duroxide's ``RetryPolicy``).

    Attributes:
        max_attempts: Total attempts, the first included (at least 1).
        timeout_ms: Per-attempt timeout: a timer raced against each attempt.  When it
            fires first the retry gives up at once with ``timeout: activity timed out``;
            timeouts are never retried, only activity errors are.
        backoff: Delay before the next attempt: ``exponential`` (100 ms, doubling, at
            most 30 s; the default), ``fixed`` (1 s) or ``linear`` (100 ms times the
            attempt number, at most 30 s).
        refusal: Set when duroxide-python would reject the dict this policy was read
            from; yielding the task then fails the orchestration.
    """

    max_attempts: int = 3
    timeout_ms: int | None = None
    backoff: BackoffKind = "exponential"
    refusal: PolicyRefusal | None = None

    def delay_ms(self, attempt: int) -> int:
        """The backoff after failed attempt ``attempt`` (1-based), as duroxide computes it."""
        if self.backoff == "fixed":
            return 1000
        if self.backoff == "linear":
            return min(100 * attempt, 30_000)
        return int(min(100 * 2 ** min(max(attempt - 1, 0), 20), 30_000))

    @classmethod
    def from_dict(cls, retry: dict[str, Any]) -> RetryPolicy:
        """Read duroxide-python's retry dict (snake_case or camelCase keys).

        ``max_attempts`` defaults to 3 and ``backoff`` to exponential.
        ``total_timeout_ms`` is duroxide's ``with_total_timeout``, an alias of the
        per-attempt timeout; when both are given it wins over ``timeout_ms``.
        """

        def pick(snake: str, camel: str, default: Any = None) -> Any:
            return retry.get(snake, retry.get(camel, default))

        max_attempts = pick("max_attempts", "maxAttempts", 3)
        timeout = pick("timeout_ms", "timeoutMs")
        total = pick("total_timeout_ms", "totalTimeoutMs")
        backoff = retry.get("backoff")
        refusal = (
            type_problem(max_attempts, "u32", optional=False)
            or type_problem(timeout, "u64", optional=True)
            or type_problem(total, "u64", optional=True)
            or type_problem(backoff, "a string", optional=True)
        )
        if refusal is not None:
            return cls(refusal=PolicyRefusal("OrchestrationFailed", refusal))
        if max_attempts == 0:
            return cls(refusal=PolicyRefusal("Panicked", "max_attempts must be at least 1"))
        kind: BackoffKind = "linear"
        if backoff is None or backoff == "exponential":
            kind = "exponential"
        elif backoff == "fixed":
            kind = "fixed"
        chosen = total if total is not None else timeout
        return cls(
            max_attempts=int(max_attempts),
            timeout_ms=None if chosen is None else int(chosen),
            backoff=kind,
        )


def type_problem(value: Any, expected: str, *, optional: bool) -> str | None:
    """The message duroxide fails with when ``value`` does not decode as ``expected``, or None.

    duroxide-python hands each yielded task to its Rust core as JSON, which serde
    decodes field by field; ``expected`` is serde's name of the field's type
    (``a string``, ``u64``, ``u32``).
    """
    if value is None:
        return None if optional else f"{INVALID_STEP}invalid type: null, expected {expected}"
    if expected == "a string":
        if isinstance(value, str):
            return None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = int.__int__(value)  # a plain int: comparing it runs no user __lt__
        if 0 <= number <= _UNSIGNED_MAX.get(expected, U64_MAX):
            return None
        if _I64_MIN <= number <= U64_MAX:
            return f"{INVALID_STEP}invalid value: integer `{number}`, expected {expected}"
    return invalid_type(value, expected)


def invalid_type(value: Any, expected: str) -> str:
    """The message duroxide fails with when a field holds ``value``, not ``expected``."""
    unexpected = serde_unexpected(value)
    if unexpected is None:
        # json.dumps refuses the task, so duroxide-python fails with that TypeError.
        return f"{INVALID_STEP}Object of type {type(value).__name__} is not JSON serializable"
    return f"{INVALID_STEP}invalid type: {unexpected}, expected {expected}"


INVALID_STEP = "Invalid generator step result: "
"""How duroxide-python's driver prefixes a yielded task its Rust core cannot decode."""

U64_MAX = 2**64 - 1
_I64_MIN = -(2**63)
_UNSIGNED_MAX = {"u32": 2**32 - 1, "u64": U64_MAX}


def serde_unexpected(value: Any) -> str | None:
    """The ``Unexpected`` text serde gives for the JSON of ``value`` (None: json.dumps refuses it).

    Builtin methods are called on the base types so that no override in a user's
    subclass runs.
    """
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        number = int.__int__(value)
        if _I64_MIN <= number <= U64_MAX:
            return f"integer `{number}`"
        # serde_json reads an integer outside i64 and u64 as a float.
        try:
            return f"floating point `{float(number)!r}`"
        except OverflowError:
            return "floating point `inf`"
    if isinstance(value, float):
        return f"floating point `{float.__repr__(value)}`"
    if isinstance(value, str):
        return f"string {json.dumps(str.__str__(value), ensure_ascii=False)}"
    if isinstance(value, list | tuple):
        return "sequence"
    if isinstance(value, dict):
        return "map"
    return None


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
    explicit_id: bool = False
    """Set by the ``*_with_id`` calls, whose id duroxide-python decodes as a string: None fails."""


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
    """The attempts of a retried activity as durable tasks, so they replay.

    duroxide's ``schedule_activity_with_retry``: each attempt (raced against the
    timeout timer when there is one) runs the plain activity; an activity error is
    retried after the policy's backoff timer (none when the delay is 0); a timeout
    ends the retry at once; after the last attempt the last error is raised.
    """
    policy = task.retry
    assert policy is not None
    plain = replace(task, retry=None)
    last_error = ""
    for attempt in range(1, policy.max_attempts + 1):
        try:
            if policy.timeout_ms is None:
                return (yield plain)
            raced = yield RaceTask((plain, TimerTask(policy.timeout_ms)))
        except Exception as exc:  # the attempt failed: retry
            last_error = str(exc)
        else:
            if raced["index"] == 1:
                raise Exception(RETRY_TIMEOUT_ERROR)
            return raced["value"]
        if attempt < policy.max_attempts:
            delay = policy.delay_ms(attempt)
            if delay > 0:
                yield TimerTask(delay)
    raise Exception(last_error)
