"""Scenario programs for the differential tests, written once against duroxide-python's API.

A scenario never imports a runtime.  ``run_scenario`` builds the provider, the
``Runtime`` and the ``Client`` from a runtime module (``duroxide`` or
``durascope.compat.duroxide``) and hands them to the scenario, so the same code
runs on both and can only use what both expose under the same names.

Each scenario:

- ``register(rt, phase)`` registers its activities and orchestrations;
- ``drive(client, phase)`` starts instances, raises events at the right moments
  and returns what it observed through the client (JSON-able);
- ``expected`` maps every instance it creates (children included) to the status
  it must end in; the runner waits for all of them before dumping the store;
- ``phases`` > 1 means a fresh ``Runtime`` on the same file per phase (code change);
- ``options(dx)`` gives the ``RuntimeOptions`` to build each ``Runtime`` with (None:
  the runtime's defaults), from the runtime module ``dx`` under test.

Every scenario is deterministic whatever the scheduling: the driver raises events
only after the orchestration says (through its custom status) that it is
subscribed, several completions only ever arrive while the orchestration waits
for all of them, and races are won by wide margins (an instant activity against
a 60 s timer, a 50 ms timer against an event that never comes or an activity
blocked on a gate that the driver opens only afterwards).  Timer delays are
multiples of 10 ms: the normaliser compares delays to that precision.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from typing import Any, ClassVar

# The runtime, client and contexts come from whichever runtime module is under test.
RuntimeLike = Any
ClientLike = Any
Ctx = Any
Orchestration = Generator[Any, Any, Any]

POLL_TIMEOUT_S = 20.0
"""How long the driver waits for an orchestration to reach a custom status."""

GATE_TIMEOUT_S = 20.0
"""Upper bound for an activity blocked on a gate (the driver opens it much sooner)."""


def wait_custom_status(client: ClientLike, instance_id: str, value: str) -> None:
    """Poll ``get_status`` until the instance's custom status is ``value``.

    Orchestrations set a custom status in the same turn as the subscription the
    driver is about to feed, so the status being visible means the subscription is
    in history.
    """
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        if client.get_status(instance_id).custom_status == value:
            return
        time.sleep(0.02)
    raise TimeoutError(f"{instance_id} never reached custom status {value!r}")


class Scenario:
    """Base class: subclasses set the class attributes and override the hooks."""

    name: ClassVar[str]
    description: ClassVar[str]
    expected: ClassVar[dict[str, str]]
    phases: ClassVar[int] = 1

    inject: Callable[[dict[str, Any]], None]
    """Set by the runner: puts a raw work item on the orchestrator queue (see ``injector``)."""

    def options(self, dx: Any) -> Any:
        """``dx.RuntimeOptions(...)`` for this scenario's runtimes, or None for the defaults."""
        return None

    def register(self, rt: RuntimeLike, phase: int) -> None:
        """Register activities and orchestrations for ``phase`` (0-based)."""
        raise NotImplementedError

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        """Start instances and feed them; return observations (JSON-able)."""
        raise NotImplementedError


SCENARIOS: dict[str, type[Scenario]] = {}


def scenario(cls: type[Scenario]) -> type[Scenario]:
    """Class decorator adding a scenario to ``SCENARIOS`` under its ``name``."""
    SCENARIOS[cls.name] = cls
    return cls


def register_common_activities(rt: RuntimeLike) -> None:
    """Small activities several scenarios share."""

    @rt.register_activity("Inc")
    def inc(ctx: Ctx, x: int) -> int:
        return x + 1

    @rt.register_activity("Double")
    def double(ctx: Ctx, x: int) -> int:
        return x * 2

    @rt.register_activity("Fail")
    def fail(ctx: Ctx, message: str) -> None:
        raise ValueError(message)


def register_child(rt: RuntimeLike) -> None:
    """``Child(x)``: one activity, returns ``x + 1``."""

    @rt.register_orchestration("Child")
    def child(ctx: Ctx, x: int) -> Orchestration:
        return (yield ctx.schedule_activity("Inc", x))


def register_gated_activity(rt: RuntimeLike, gate: threading.Event) -> None:
    """``Gated``: blocks until the driver sets ``gate``, so it is still running when the
    orchestration gives up on it; whatever it returns afterwards is discarded."""

    @rt.register_activity("Gated")
    def gated(ctx: Ctx, x: Any) -> str:
        gate.wait(GATE_TIMEOUT_S)
        return "released"


@scenario
class ActivityChain(Scenario):
    name = "activity_chain"
    description = "three sequential activities, the last returning an object"
    expected: ClassVar[dict[str, str]] = {"chain": "Completed"}

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)

        @rt.register_activity("Describe")
        def describe(ctx: Ctx, x: int) -> dict[str, Any]:
            return {"value": x, "label": f"value={x}"}

        @rt.register_orchestration("Chain")
        def chain(ctx: Ctx, x: int) -> Orchestration:
            a = yield ctx.schedule_activity("Inc", x)
            b = yield ctx.schedule_activity("Double", a)
            return (yield ctx.schedule_activity("Describe", b))

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("chain", "Chain", 1)
        return {}


@scenario
class FanOutFanIn(Scenario):
    name = "fan_out_fan_in"
    description = "ctx.all over four activities, one failing, then an activity on the sum"
    expected: ClassVar[dict[str, str]] = {"fanout": "Completed"}

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)

        @rt.register_activity("Sum")
        def total(ctx: Ctx, xs: list[int]) -> int:
            return sum(xs)

        @rt.register_orchestration("FanOut")
        def fan_out(ctx: Ctx, n: int) -> Orchestration:
            tasks = [ctx.schedule_activity("Inc", i) for i in range(n)]
            tasks.insert(2, ctx.schedule_activity("Fail", "x"))
            results = yield ctx.all(tasks)
            oks = [r["ok"] for r in results if "ok" in r]
            total_ = yield ctx.schedule_activity("Sum", oks)
            return {"results": results, "sum": total_}

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("fanout", "FanOut", 3)
        return {}


@scenario
class Timers(Scenario):
    name = "timers"
    description = "a 50 ms timer, then an activity"
    expected: ClassVar[dict[str, str]] = {"timer": "Completed"}

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)

        @rt.register_orchestration("Sleepy")
        def sleepy(ctx: Ctx, x: int) -> Orchestration:
            fired = yield ctx.schedule_timer(50)
            after = yield ctx.schedule_activity("Inc", x)
            return [fired, after]

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("timer", "Sleepy", 41)
        return {}


@scenario
class Races(Scenario):
    name = "race"
    description = (
        "race(60 s timer, activity): the activity wins and the timer is dropped silently; "
        "race(wait_for_event, 50 ms timer): the timer wins, the wait is cancelled; "
        "race(gated activity, 50 ms timer): the timer wins, the activity is cancelled"
    )
    expected: ClassVar[dict[str, str]] = {"race": "Completed"}

    def __init__(self) -> None:
        self.gate = threading.Event()

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)
        register_gated_activity(rt, self.gate)

        @rt.register_orchestration("Racer")
        def racer(ctx: Ctx, x: Any) -> Orchestration:
            r1 = yield ctx.race(ctx.schedule_timer(60_000), ctx.schedule_activity("Inc", 1))
            r2 = yield ctx.race(ctx.wait_for_event("never"), ctx.schedule_timer(50))
            r3 = yield ctx.race(ctx.schedule_activity("Gated", None), ctx.schedule_timer(50))
            return [r1, r2, r3]

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("race", "Racer", None)
        try:
            client.wait_for_orchestration("race", 20_000)
        finally:
            self.gate.set()  # the dropped activity may now finish; its result is discarded
        return {}


@scenario
class RaceThenContinueAsNew(Scenario):
    name = "race_then_continue_as_new"
    description = (
        "a race's losers dropped in the turn that continues as new: a positional wait, a "
        "mailbox wait and a gated activity lose to 50 ms timers, then the execution "
        "continues as new (the subscriptions are cancelled as the execution ends)"
    )
    expected: ClassVar[dict[str, str]] = {"race-can": "Completed"}

    def __init__(self) -> None:
        self.gate = threading.Event()

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)
        register_gated_activity(rt, self.gate)

        @rt.register_orchestration("RaceLoop")
        def race_loop(ctx: Ctx, n: Any) -> Orchestration:
            if n == 0:
                won = yield ctx.race(ctx.wait_for_event("never"), ctx.schedule_timer(50))
            elif n == 1:
                won = yield ctx.race(ctx.dequeue_event("inbox"), ctx.schedule_timer(50))
            elif n == 2:
                won = yield ctx.race(ctx.schedule_activity("Gated", None), ctx.schedule_timer(50))
            else:
                return n
            return (yield ctx.continue_as_new(n + 1 + 0 * len(str(won))))

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("race-can", "RaceLoop", 0)
        try:
            client.wait_for_orchestration("race-can", 20_000)
        finally:
            self.gate.set()
        return {}


@scenario
class ExternalEvents(Scenario):
    name = "external_events"
    description = (
        "an orchestration waits for 'approve', raised once it is subscribed; another "
        "shows that an event raised before its subscription is never delivered"
    )
    expected: ClassVar[dict[str, str]] = {"approval": "Completed", "early": "Completed"}

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)

        @rt.register_orchestration("Approval")
        def approval(ctx: Ctx, x: Any) -> Orchestration:
            ctx.set_custom_status("waiting-approve")
            decision = yield ctx.wait_for_event("approve")
            ctx.set_custom_status("approved")
            return {"decision": decision, "next": (yield ctx.schedule_activity("Inc", 1))}

        @rt.register_orchestration("EarlyEvent")
        def early_event(ctx: Ctx, x: Any) -> Orchestration:
            ctx.set_custom_status("waiting-first")
            first = yield ctx.wait_for_event("first")
            second = yield ctx.race(ctx.wait_for_event("second"), ctx.schedule_timer(200))
            return [first, second]

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("approval", "Approval", None)
        client.start_orchestration("early", "EarlyEvent", None)
        wait_custom_status(client, "approval", "waiting-approve")
        client.raise_event("approval", "approve", {"by": "alice", "ok": True})
        wait_custom_status(client, "early", "waiting-first")
        client.raise_event("early", "second", "too early")
        client.raise_event("early", "first", "one")
        return {}


@scenario
class EventQueues(Scenario):
    name = "event_queues"
    description = (
        "dequeue_event with two messages enqueued before the first dequeue and one "
        "after the third subscription; consumed FIFO"
    )
    expected: ClassVar[dict[str, str]] = {"mailbox": "Completed"}

    def register(self, rt: RuntimeLike, phase: int) -> None:
        @rt.register_orchestration("Mailbox")
        def mailbox(ctx: Ctx, x: Any) -> Orchestration:
            ctx.set_custom_status("waiting-go")
            yield ctx.wait_for_event("go")
            first = yield ctx.dequeue_event("inbox")
            second = yield ctx.dequeue_event("inbox")
            ctx.set_custom_status("waiting-third")
            third = yield ctx.dequeue_event("inbox")
            return [first, second, third]

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("mailbox", "Mailbox", None)
        wait_custom_status(client, "mailbox", "waiting-go")
        client.enqueue_event("mailbox", "inbox", "m1")
        client.enqueue_event("mailbox", "inbox", {"m": 2})
        client.raise_event("mailbox", "go", None)
        wait_custom_status(client, "mailbox", "waiting-third")
        client.enqueue_event("mailbox", "inbox", "m3")
        return {}


@scenario
class Nondeterminism(Scenario):
    name = "nondeterminism"
    description = (
        "phase 1 runs v1 until the instances wait for 'go'; phase 2 restarts on the same "
        "store with changed code: a different first activity, a changed input, a schedule "
        "removed from a fan-out, and a removed trailing wait (which duroxide does not detect)"
    )
    expected: ClassVar[dict[str, str]] = {
        "nd-swap": "Failed",
        "nd-input": "Failed",
        "nd-drop": "Failed",
        "nd-trailing": "Completed",
    }
    phases = 2

    # instance -> (orchestration name, v1 code); v2 code is registered in ``register``.
    V1: ClassVar[dict[str, tuple[str, str]]] = {
        "nd-swap": ("SwapFirstActivity", "sequential"),
        "nd-input": ("ChangeInput", "sequential"),
        "nd-drop": ("DropScheduleFromFanOut", "fan_out"),
        "nd-trailing": ("DropTrailingWait", "sequential"),
    }

    def register(self, rt: RuntimeLike, phase: int) -> None:
        @rt.register_activity("A")
        def act_a(ctx: Ctx, x: Any) -> str:
            return f"A({x})"

        @rt.register_activity("B")
        def act_b(ctx: Ctx, x: Any) -> str:
            return f"B({x})"

        if phase == 0:
            v1_code = {"sequential": self._v1_sequential, "fan_out": self._v1_fan_out}
            for name, code in self.V1.values():
                rt.register_orchestration(name, v1_code[code])
            return

        @rt.register_orchestration("SwapFirstActivity")
        def swap_first(ctx: Ctx, x: Any) -> Orchestration:
            first = yield ctx.schedule_activity("B", x)
            ctx.set_custom_status("waiting")
            yield ctx.wait_for_event("go")
            return first

        @rt.register_orchestration("ChangeInput")
        def change_input(ctx: Ctx, x: Any) -> Orchestration:
            first = yield ctx.schedule_activity("A", f"{x}!")
            ctx.set_custom_status("waiting")
            yield ctx.wait_for_event("go")
            return first

        @rt.register_orchestration("DropScheduleFromFanOut")
        def drop_schedule(ctx: Ctx, x: Any) -> Orchestration:
            both = yield ctx.all([ctx.schedule_activity("A", x)])
            ctx.set_custom_status("waiting")
            yield ctx.wait_for_event("go")
            return both

        @rt.register_orchestration("DropTrailingWait")
        def drop_trailing_wait(ctx: Ctx, x: Any) -> Orchestration:
            first = yield ctx.schedule_activity("A", x)
            ctx.set_custom_status("waiting")
            return first

    @staticmethod
    def _v1_sequential(ctx: Ctx, x: Any) -> Orchestration:
        """v1: A, custom status, wait for 'go', B."""
        first = yield ctx.schedule_activity("A", x)
        ctx.set_custom_status("waiting")
        event = yield ctx.wait_for_event("go")
        return [first, (yield ctx.schedule_activity("B", event))]

    @staticmethod
    def _v1_fan_out(ctx: Ctx, x: Any) -> Orchestration:
        """v1: all(A, B), custom status, wait for 'go'."""
        both = yield ctx.all([ctx.schedule_activity("A", x), ctx.schedule_activity("B", x)])
        ctx.set_custom_status("waiting")
        yield ctx.wait_for_event("go")
        return both

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        if phase == 0:
            for instance_id, (orchestration, _) in self.V1.items():
                client.start_orchestration(instance_id, orchestration, "in")
            for instance_id in self.V1:
                wait_custom_status(client, instance_id, "waiting")
        else:
            for instance_id in self.V1:
                client.raise_event(instance_id, "go", "event")
        return {}


@scenario
class Failures(Scenario):
    name = "failures"
    description = (
        "an activity raising ValueError('x'), caught and not caught by its orchestration, "
        "and an orchestration that raises itself"
    )
    expected: ClassVar[dict[str, str]] = {
        "af-caught": "Completed",
        "af-uncaught": "Failed",
        "orch-raises": "Failed",
    }

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)

        @rt.register_orchestration("CatchActivity")
        def catch_activity(ctx: Ctx, x: Any) -> Orchestration:
            try:
                yield ctx.schedule_activity("Fail", "x")
            except Exception as exc:
                return {"caught": str(exc), "type": type(exc).__name__}
            return "not reached"

        @rt.register_orchestration("PropagateActivity")
        def propagate_activity(ctx: Ctx, x: Any) -> Orchestration:
            return (yield ctx.schedule_activity("Fail", "x"))

        @rt.register_orchestration("Raises")
        def raises(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.schedule_activity("Inc", 1)
            raise RuntimeError("orchestration boom")

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("af-caught", "CatchActivity", None)
        client.start_orchestration("af-uncaught", "PropagateActivity", None)
        client.start_orchestration("orch-raises", "Raises", None)
        return {}


@scenario
class CustomStatus(Scenario):
    name = "custom_status"
    description = "set, read back, reset and set again the custom status across turns"
    expected: ClassVar[dict[str, str]] = {"status": "Completed"}

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)

        @rt.register_orchestration("Statuses")
        def statuses(ctx: Ctx, x: Any) -> Orchestration:
            ctx.set_custom_status("step-1")
            yield ctx.schedule_activity("Inc", 1)
            seen = [ctx.get_custom_status()]
            ctx.set_custom_status("step-2")
            ctx.reset_custom_status()
            seen.append(ctx.get_custom_status())
            yield ctx.schedule_activity("Inc", 2)
            ctx.set_custom_status("final")
            seen.append(ctx.get_custom_status())
            return seen

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("status", "Statuses", None)
        client.wait_for_orchestration("status", 20_000)
        status = client.get_status("status")
        return {
            "custom_status": status.custom_status,
            "custom_status_version": status.custom_status_version,
        }


@scenario
class GuidAndTime(Scenario):
    name = "guid_and_time"
    description = "new_guid twice and utc_now; only their shapes are returned"
    expected: ClassVar[dict[str, str]] = {"guid": "Completed"}

    def register(self, rt: RuntimeLike, phase: int) -> None:
        @rt.register_orchestration("Ids")
        def ids(ctx: Ctx, x: Any) -> Orchestration:
            first = yield ctx.new_guid()
            second = yield ctx.new_guid()
            now = yield ctx.utc_now()
            return {
                "guid_length": len(first),
                "guid_dashes": first.count("-"),
                "guids_differ": first != second,
                "now_is_int": isinstance(now, int),
                "now_after_2020": now > 1_577_836_800_000,
            }

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("guid", "Ids", None)
        return {}


@scenario
class DetachedStart(Scenario):
    name = "detached_start"
    description = "ctx.start_orchestration (fire-and-forget) of an independent instance"
    expected: ClassVar[dict[str, str]] = {"launcher": "Completed", "detached-child": "Completed"}

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)
        register_child(rt)

        @rt.register_orchestration("Launcher")
        def launcher(ctx: Ctx, x: Any) -> Orchestration:
            started = yield ctx.start_orchestration("Child", "detached-child", 7)
            after = yield ctx.schedule_activity("Inc", 100)
            return [started, after]

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("launcher", "Launcher", None)
        return {}


# More scenarios live in sibling modules; importing them registers them here.
from tests.differential import (  # noqa: E402, F401
    scenarios_activities,
    scenarios_children,
    scenarios_code_bugs,
    scenarios_errors,
    scenarios_final_turns,
    scenarios_retry,
)


def get(name: str) -> Scenario:
    """A fresh instance of the scenario called ``name``."""
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise KeyError(
            f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}"
        ) from None
