"""``schedule_activity_with_retry``: duroxide-python's policy dict, backoffs, timeouts.

The same behaviour against the real duroxide is in the differential scenarios
``retry_backoffs``, ``retry_timeouts`` and ``retry_refused_policies``.
"""

from __future__ import annotations

from typing import Any

import pytest

from durascope.history import ActivityScheduled, StartOrchestration, TimerCreated, TimerFiredItem
from durascope.runtime import Registry, RetryPolicy, Simulation, TurnInput, process_turn
from durascope.runtime._tasks import RETRY_TIMEOUT_ERROR, PolicyRefusal


@pytest.mark.parametrize(
    ("backoff", "delays"),
    [
        ("exponential", [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]),
        ("fixed", [1000] * 11),
        ("linear", [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100]),
    ],
)
def test_backoff_delays_follow_duroxide(backoff: Any, delays: list[int]) -> None:
    policy = RetryPolicy(max_attempts=12, backoff=backoff)
    assert [policy.delay_ms(a) for a in range(1, 12)] == delays


def test_linear_backoff_is_capped_at_30_s() -> None:
    assert RetryPolicy(backoff="linear").delay_ms(400) == 30_000
    assert RetryPolicy(backoff="exponential").delay_ms(10_000) == 30_000


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        ({}, RetryPolicy(max_attempts=3, timeout_ms=None, backoff="exponential")),
        ({"max_attempts": 5, "backoff": "fixed"}, RetryPolicy(5, None, "fixed")),
        ({"maxAttempts": 2, "backoff": "linear"}, RetryPolicy(2, None, "linear")),
        ({"backoff": "exponential-ish"}, RetryPolicy(3, None, "linear")),
        ({"timeout_ms": 250}, RetryPolicy(3, 250, "exponential")),
        ({"timeoutMs": 250}, RetryPolicy(3, 250, "exponential")),
        # duroxide's with_total_timeout is an alias of the per-attempt timeout, set after it.
        ({"total_timeout_ms": 90}, RetryPolicy(3, 90, "exponential")),
        ({"timeout_ms": 5000, "totalTimeoutMs": 90}, RetryPolicy(3, 90, "exponential")),
    ],
)
def test_policy_dict_is_read_like_duroxide_python(
    retry: dict[str, Any], expected: RetryPolicy
) -> None:
    assert RetryPolicy.from_dict(retry) == expected


@pytest.mark.parametrize(
    ("retry", "refusal"),
    [
        (
            {"backoff": 10},
            PolicyRefusal(
                "OrchestrationFailed",
                "Invalid generator step result: invalid type: integer `10`, expected a string",
            ),
        ),
        (
            {"backoff": {"initial_ms": 100}},
            PolicyRefusal(
                "OrchestrationFailed",
                "Invalid generator step result: invalid type: map, expected a string",
            ),
        ),
        (
            {"max_attempts": None},
            PolicyRefusal(
                "OrchestrationFailed",
                "Invalid generator step result: invalid type: null, expected u32",
            ),
        ),
        (
            {"max_attempts": -1},
            PolicyRefusal(
                "OrchestrationFailed",
                "Invalid generator step result: invalid value: integer `-1`, expected u32",
            ),
        ),
        (
            {"timeout_ms": "1s"},
            PolicyRefusal(
                "OrchestrationFailed",
                'Invalid generator step result: invalid type: string "1s", expected u64',
            ),
        ),
        ({"max_attempts": 0}, PolicyRefusal("Panicked", "max_attempts must be at least 1")),
    ],
)
def test_policies_duroxide_python_refuses(retry: dict[str, Any], refusal: PolicyRefusal) -> None:
    assert RetryPolicy.from_dict(retry).refusal == refusal


def run(orchestration: Any, activities: dict[str, Any]) -> Simulation:
    reg = Registry()
    for name, fn in activities.items():
        reg.add_activity(name, fn)
    reg.add_orchestration("O", orchestration)
    return Simulation(reg)


def catching(policy: dict[str, Any], activity: str = "A") -> Any:
    def orchestration(ctx: Any, x: Any) -> Any:
        try:
            return (yield ctx.schedule_activity_with_retry(activity, x, policy))
        except Exception as exc:
            return f"caught: {exc}"

    return orchestration


def schedules(sim: Simulation, instance: str) -> list[tuple[str, int | None]]:
    """The activity and timer schedules of ``instance``: (kind, timer delay)."""
    return [
        ("timer", e.fire_at_ms - e.timestamp_ms)
        if isinstance(e, TimerCreated)
        else ("activity", None)
        for e in sim.history(instance)
        if isinstance(e, ActivityScheduled | TimerCreated)
    ]


async def test_default_backoff_is_exponential_from_100_ms() -> None:
    calls: list[int] = []

    def flaky(ctx: Any, x: int) -> int:
        calls.append(x)
        if len(calls) < 4:
            raise ConnectionError("later")
        return len(calls)

    sim = run(catching({"max_attempts": 5}), {"A": flaky})
    sim.start("r", "O", 1)
    await sim.run()
    assert sim.instances["r"].output == "4"
    assert schedules(sim, "r") == [
        ("activity", None),
        ("timer", 100),
        ("activity", None),
        ("timer", 200),
        ("activity", None),
        ("timer", 400),
        ("activity", None),
    ]


def test_a_timeout_gives_up_at_once_without_retrying() -> None:
    """The timer wins attempt 1: no backoff, no attempt 2, the activity is cancelled."""
    reg = Registry()
    reg.add_orchestration("O", catching({"max_attempts": 5, "timeout_ms": 50}))
    first = process_turn(
        TurnInput(
            instance="t",
            current_execution_id=0,
            history=(),
            messages=(StartOrchestration(instance="t", orchestration="O", input="1"),),
            now_ms=1000,
        ),
        reg,
    )
    assert [e.type for e in first.delta] == [
        "OrchestrationStarted",
        "ActivityScheduled",
        "TimerCreated",
    ]
    timer = first.delta[2]
    assert isinstance(timer, TimerCreated) and timer.fire_at_ms == 1050
    fired = TimerFiredItem(instance="t", execution_id=1, id=3, fire_at_ms=1050)
    last = process_turn(
        TurnInput(
            instance="t",
            current_execution_id=1,
            history=first.delta,
            messages=(fired,),
            now_ms=1050,
        ),
        reg,
    )
    assert last.output == f'"caught: {RETRY_TIMEOUT_ERROR}"'
    assert [(e.type, e.source_event_id) for e in last.delta] == [
        ("TimerFired", 3),
        ("ActivityCancelRequested", 2),
        ("OrchestrationCompleted", None),
    ]
    assert last.cancelled_activities == (2,)


async def test_an_error_before_the_timeout_is_retried() -> None:
    calls: list[int] = []

    def flaky(ctx: Any, x: int) -> int:
        calls.append(x)
        if len(calls) < 2:
            raise ConnectionError("once")
        return 7

    sim = run(catching({"max_attempts": 3, "timeout_ms": 10_000, "backoff": "fixed"}), {"A": flaky})
    sim.start("r", "O", 1)
    await sim.run(until_ms=sim.now_ms + 5000)
    assert sim.instances["r"].output == "7"
    assert schedules(sim, "r") == [
        ("activity", None),
        ("timer", 10_000),
        ("timer", 1000),
        ("activity", None),
        ("timer", 10_000),
    ]


async def test_running_out_of_attempts_raises_the_last_error() -> None:
    calls: list[int] = []

    def always(ctx: Any, x: int) -> int:
        calls.append(x)
        raise ValueError(f"no {len(calls)}")

    sim = run(catching({"max_attempts": 3, "backoff": "linear"}), {"A": always})
    sim.start("r", "O", 1)
    await sim.run()
    assert sim.instances["r"].output == "\"caught: Activity 'A' call failed: ValueError: no 3\""
    assert [d for kind, d in schedules(sim, "r") if kind == "timer"] == [100, 200]


@pytest.mark.parametrize(
    ("retry", "output"),
    [
        (
            {"max_attempts": 2, "backoff": 10},
            "Invalid generator step result: invalid type: integer `10`, expected a string",
        ),
        ({"max_attempts": 0}, "orchestration panicked: max_attempts must be at least 1"),
    ],
)
async def test_a_refused_policy_fails_the_orchestration_uncatchably(
    retry: dict[str, Any], output: str
) -> None:
    sim = run(catching(retry), {"A": lambda ctx, x: x})
    sim.start("r", "O", 1)
    await sim.run()
    assert sim.instances["r"].status == "Failed"
    assert sim.instances["r"].output == output
    assert [e.type for e in sim.history("r")] == ["OrchestrationStarted", "OrchestrationFailed"]


async def test_retry_keeps_session_and_tag_on_every_attempt() -> None:
    calls: list[int] = []

    def flaky(ctx: Any, x: int) -> str:
        calls.append(x)
        if len(calls) < 2:
            raise ConnectionError("once")
        return f"{ctx.session_id}/{ctx.tag()}"

    def orchestration(ctx: Any, x: Any) -> Any:
        task = ctx.schedule_activity_with_retry_on_session("A", x, {"max_attempts": 2}, "s-1")
        return (yield task.with_tag("gpu"))

    sim = run(orchestration, {"A": flaky})
    sim.start("r", "O", 1)
    await sim.run()
    assert sim.instances["r"].output == '"s-1/gpu"'
    attempts = [e for e in sim.history("r") if isinstance(e, ActivityScheduled)]
    assert [(e.session_id, e.tag) for e in attempts] == [("s-1", "gpu"), ("s-1", "gpu")]
