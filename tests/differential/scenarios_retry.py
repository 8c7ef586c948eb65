"""Differential scenarios for ``schedule_activity_with_retry``: backoffs, timeouts, bad policies.

duroxide-python reads the retry dict's ``backoff`` as a string (``exponential``:
100 ms doubling; ``fixed``: 1 s; anything else: linear, 100 ms times the attempt;
exponential when absent), races each attempt against ``timeout_ms`` (or
``total_timeout_ms``, its alias, which wins) and gives up at once on a timeout.
A dict it cannot decode fails the orchestration before the code sees anything.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from tests.differential.scenarios import (
    ClientLike,
    Ctx,
    Orchestration,
    RuntimeLike,
    Scenario,
    register_gated_activity,
    scenario,
)


def retrying(name: str, policy: dict[str, Any]) -> Any:
    """An orchestration that retries ``name`` under ``policy`` and returns the result or error."""

    def orchestration(ctx: Ctx, x: Any) -> Orchestration:
        try:
            return (yield ctx.schedule_activity_with_retry(name, x, policy))
        except Exception as exc:
            return {"error": str(exc)}

    return orchestration


def register_flaky(rt: RuntimeLike) -> None:
    """``Flaky(key)`` fails twice per key, then returns its attempt number."""
    attempts: dict[str, int] = {}
    lock = threading.Lock()

    @rt.register_activity("Flaky")
    def flaky(ctx: Ctx, key: str) -> int:
        with lock:
            attempts[key] = attempts.get(key, 0) + 1
            n = attempts[key]
        if n < 3:
            raise ConnectionError(f"attempt {n} of {key}")
        return n


@scenario
class RetryBackoffs(Scenario):
    name = "retry_backoffs"
    description = (
        "an activity that fails twice, retried under each backoff: exponential, fixed, "
        "linear (and an unknown name, which is linear), none given; one policy runs out"
    )
    POLICIES: ClassVar[dict[str, dict[str, Any]]] = {
        "rb-exponential": {"max_attempts": 4, "backoff": "exponential"},
        "rb-fixed": {"max_attempts": 3, "backoff": "fixed"},
        "rb-linear": {"maxAttempts": 3, "backoff": "linear"},
        "rb-unknown": {"max_attempts": 3, "backoff": "jittered"},
        "rb-default": {"max_attempts": 3},
        "rb-exhausted": {"max_attempts": 2, "backoff": "exponential"},
    }
    expected: ClassVar[dict[str, str]] = dict.fromkeys(POLICIES, "Completed")

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_flaky(rt)
        for instance_id, policy in self.POLICIES.items():
            rt.register_orchestration(f"Retry-{instance_id}", retrying("Flaky", policy))

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        for instance_id in self.POLICIES:
            client.start_orchestration(instance_id, f"Retry-{instance_id}", instance_id)
        return {}


@scenario
class RetryTimeouts(Scenario):
    name = "retry_timeouts"
    description = (
        "an activity that outlives its per-attempt timeout (timeout_ms, total_timeout_ms, "
        "both): the retry gives up at once with 'timeout: activity timed out'; a timeout "
        "longer than the activity lets it complete"
    )
    POLICIES: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = {
        "rt-timeout": ("Gated", {"max_attempts": 3, "timeout_ms": 100}),
        "rt-total": ("Gated", {"max_attempts": 3, "total_timeout_ms": 100}),
        "rt-both": ("Gated", {"max_attempts": 3, "timeout_ms": 60_000, "totalTimeoutMs": 100}),
        "rt-in-time": ("Flaky", {"max_attempts": 3, "timeout_ms": 60_000}),
    }
    expected: ClassVar[dict[str, str]] = dict.fromkeys(POLICIES, "Completed")

    def __init__(self) -> None:
        self.gate = threading.Event()

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_flaky(rt)
        register_gated_activity(rt, self.gate)
        for instance_id, (activity, policy) in self.POLICIES.items():
            rt.register_orchestration(f"Retry-{instance_id}", retrying(activity, policy))

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        gated = [i for i, (activity, _) in self.POLICIES.items() if activity == "Gated"]
        for instance_id in gated:
            client.start_orchestration(instance_id, f"Retry-{instance_id}", instance_id)
        try:
            for instance_id in gated:
                client.wait_for_orchestration(instance_id, 20_000)
        finally:
            # The timed-out attempts may now finish (their results are dropped) and
            # free the worker slots they hold.
            self.gate.set()
        client.start_orchestration("rt-in-time", "Retry-rt-in-time", "rt-in-time")
        return {}


@scenario
class RetryRefusedPolicies(Scenario):
    name = "retry_refused_policies"
    description = (
        "retry dicts duroxide-python cannot use (a number as backoff, max_attempts None or "
        "0) fail the orchestration even though its code catches exceptions"
    )
    POLICIES: ClassVar[dict[str, dict[str, Any]]] = {
        "rr-number-backoff": {"max_attempts": 2, "backoff": 10},
        "rr-null-attempts": {"max_attempts": None},
        "rr-zero-attempts": {"max_attempts": 0},
    }
    expected: ClassVar[dict[str, str]] = dict.fromkeys(POLICIES, "Failed")

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_flaky(rt)
        for instance_id, policy in self.POLICIES.items():
            rt.register_orchestration(f"Retry-{instance_id}", retrying("Flaky", policy))

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        for instance_id in self.POLICIES:
            client.start_orchestration(instance_id, f"Retry-{instance_id}", instance_id)
        return {}
