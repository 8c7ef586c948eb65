"""The scenario programs (code + the client calls that drive it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from durascope.history import ActivityFailed, ActivityFailedItem, SubOrchestrationPolicy
from durascope.runtime import Client, Runtime
from durascope.scenarios import demo_orchestrations as code

Driver = Callable[[Client], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    """One scenario.

    Attributes:
        name: Short identifier; instance ids start with it.
        policy: The sub-orchestration policy it runs under.
        summary: One sentence for the demo's output.
        register: Registers the scenario's orchestrations and activities.
        drive: Starts instances and sends them events.
        roots: Every instance id the scenario names other than ``{root}::...``
            children: what its client calls start, raise to or cancel, and the
            explicit child ids of its code.  ``durascope demo`` trusts a store it
            did not finish only with these ids (a test runs the scenarios and
            checks they name no other).
        code_change: Registers replacement code after a restart, if the scenario
            simulates a deployment (the nondeterminism scenario).
        after_change: Client calls made once the changed code runs.
        after_shutdown: Client calls made once no runtime is running (what they
            enqueue stays on the queue).
    """

    name: str
    policy: SubOrchestrationPolicy
    summary: str
    register: Callable[[Runtime], None]
    drive: Driver
    roots: tuple[str, ...]
    code_change: Callable[[Runtime], None] | None = None
    after_change: Driver | None = None
    after_shutdown: Driver | None = None


async def wait_running(client: Client, instance_id: str, timeout_s: float = 5.0) -> None:
    """Wait until an instance exists (its first turn ran)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (await client.get_status(instance_id)).status == "NotFound":
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.01)


async def wait_custom_status(
    client: Client, instance_id: str, value: str, timeout_s: float = 5.0
) -> None:
    """Wait until an instance reports a custom status (a point its code reached)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (await client.get_status(instance_id)).custom_status != value:
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.01)


# The code: every function lives in demo_orchestrations (the module `durascope demo`
# writes beside its store for `durascope replay --module`); these pick what each
# scenario's runtime registers.


def _common(runtime: Runtime) -> None:
    for name in ("Charge", "Echo", "Reserve"):
        runtime.register_activity(name, code.ACTIVITIES[name])
    for name in ("ProcessBatch", "AwaitRelease"):
        runtime.register_orchestration(name, code.ORCHESTRATIONS[name])


def _with(*names: str, approval: Callable[..., Any] | None = None) -> Callable[[Runtime], None]:
    def register(runtime: Runtime) -> None:
        _common(runtime)
        for name in names:
            runtime.register_orchestration(name, code.ORCHESTRATIONS[name])
        if approval is not None:
            runtime.register_orchestration("Approval", approval)

    return register


_can_parent = _with("BatchLoop")
_outliving = _with("Supervisor")
_fanout = _with("ReserveItem", "Checkout")
_cancel = _with("Pipeline")
_approval_v1 = _with(approval=code.approval_before_change)
_approval_v2 = _with(approval=code.approval)
_collision = _with("NightlyReport")


async def _drive_can_parent(prefix: str, client: Client) -> None:
    await client.start_orchestration(f"{prefix}-loop", "BatchLoop", 1)


async def _drive_outliving(prefix: str, client: Client) -> None:
    parent = f"{prefix}-supervisor"
    await client.start_orchestration(parent, "Supervisor", 1)
    await wait_custom_status(client, parent, "execution 2 waiting")
    await client.raise_event(f"{parent}::sub::2", "release", "late result")
    await asyncio.sleep(0.3)
    await client.raise_event(parent, "go", "ok")


async def _drive_fanout(prefix: str, client: Client) -> None:
    await client.start_orchestration(f"{prefix}-checkout", "Checkout", ["A-1", "B-2", "C-3"])


async def _drive_cancel(prefix: str, client: Client) -> None:
    parent = f"{prefix}-pipeline"
    await client.start_orchestration(parent, "Pipeline", None)
    await wait_custom_status(client, f"{parent}::sub::3", "waiting for release")
    await client.cancel_instance(parent, "operator aborted the run")


async def _drive_approval(prefix: str, client: Client) -> None:
    await client.start_orchestration(f"{prefix}-approval", "Approval", "order-17")
    await wait_custom_status(client, f"{prefix}-approval", "awaiting approval")


async def _after_approval(prefix: str, client: Client) -> None:
    await client.raise_event(f"{prefix}-approval", "decision", "approved")


async def _drive_collision(prefix: str, client: Client) -> None:
    builder = f"{prefix}-report-builder"
    await client.start_orchestration(f"{prefix}-report-mon", "NightlyReport", ["mon", builder])
    for _ in range(200):
        state = await client.get_status(f"{prefix}-report-mon")
        if state.status != "Running" and state.status != "NotFound":
            break
        await asyncio.sleep(0.01)
    await client.start_orchestration(f"{prefix}-report-tue", "NightlyReport", ["tue", builder])


async def _drive_orphan(prefix: str, client: Client) -> None:
    await client.cancel_instance(f"{prefix}-does-not-exist", "cleanup script")
    await client.start_orchestration(f"{prefix}-after-orphan", "ProcessBatch", 99)


_early_event = _with("ApprovalWindow")


async def _drive_early_event(prefix: str, client: Client) -> None:
    window = f"{prefix}-window"
    await client.start_orchestration(window, "ApprovalWindow", None)
    await wait_custom_status(client, window, "preparing")
    await client.raise_event(window, "approve", "ok")  # before the wait: never delivered
    await client.wait_for_orchestration(window, 10.0)


_redelivery = _with("Reconcile")


async def _drive_redelivery(prefix: str, client: Client) -> None:
    books = f"{prefix}-books"
    await client.start_orchestration(books, "Reconcile", "sku-9")
    await wait_custom_status(client, books, "reconciled")
    # At-least-once delivery: the worker's failure report arrives a second time.
    failed = next(e for e in await client.read_history(books) if isinstance(e, ActivityFailed))
    again = ActivityFailedItem(
        instance=books,
        execution_id=failed.execution_id,
        id=failed.source_event_id or 0,
        details=failed.details,
    )
    await client.store.enqueue([again], now_ms=int(time.time() * 1000))
    deadline = asyncio.get_running_loop().time() + 5
    while not any(
        v.verdict == "duplicate" for t in await client.list_turns(books) for v in t.messages
    ):
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    await client.raise_event(books, "close", "closed")
    await client.wait_for_orchestration(books, 10.0)


_final_turn = _with("Dispatch")


async def _drive_final_turn(prefix: str, client: Client) -> None:
    dispatcher = f"{prefix}-dispatch"
    await client.start_orchestration(dispatcher, "Dispatch", None)
    await wait_custom_status(client, dispatcher, "waiting for begin")
    await client.enqueue_event(dispatcher, "cache", "cached answer")
    deadline = asyncio.get_running_loop().time() + 5
    while not any(
        e.type == "ExternalEventPersistent" for e in await client.read_history(dispatcher)
    ):
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    await client.raise_event(dispatcher, "begin", "now")
    await client.wait_for_orchestration(dispatcher, 10.0)


_relay = _with("Relay")


async def _drive_relay(prefix: str, client: Client) -> None:
    parent, second = f"{prefix}-relay", f"{prefix}-relay-second"
    await client.start_orchestration(parent, "Relay", [1, second])
    await wait_custom_status(client, second, "waiting for release")
    # The first child finishes while execution 2 waits on the second one.
    await client.raise_event(f"{parent}::sub::2", "release", "from the first child")
    await client.wait_for_orchestration(parent, 10.0)
    await client.raise_event(second, "release", "from the second child")
    await client.wait_for_orchestration(second, 10.0)


_lost_completion = _with("Shipper")


async def _drive_lost_completion(prefix: str, client: Client) -> None:
    parent = f"{prefix}-shipper"
    await client.start_orchestration(parent, "Shipper", 1)
    for _ in range(300):
        children = [i for i in await client.list_instances() if i.parent_instance_id == parent]
        if children and all(c.status == "Completed" for c in children):
            break
        await asyncio.sleep(0.01)


async def _drive_orphan_noop(prefix: str, client: Client) -> None:
    """Nothing to do while the runtime runs."""


async def _after_queued_orphan(prefix: str, client: Client) -> None:
    await client.raise_event(f"{prefix}-ghost", "wake", "nobody is there")


def _bind(driver: Callable[[str, Client], Awaitable[None]], prefix: str) -> Driver:
    async def drive(client: Client) -> None:
        await driver(prefix, client)

    return drive


def scenario(name: str) -> Scenario:
    """The scenario called ``name``.

    Raises:
        KeyError: No such scenario.
    """
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "healthy-loop",
        "fixed",
        "a parent that continues-as-new with a child per execution completes (fixed ids)",
        _can_parent,
        _bind(_drive_can_parent, "healthy"),
        roots=("healthy-loop",),
    ),
    Scenario(
        "legacy-loop",
        "legacy",
        "the same parent under the legacy policy reuses its child id and hangs",
        _can_parent,
        _bind(_drive_can_parent, "legacy"),
        roots=("legacy-loop",),
    ),
    Scenario(
        "fixed-outliving-child",
        "fixed",
        "a child outlives execution 1: its completion is filtered, execution 2 completes",
        _outliving,
        _bind(_drive_outliving, "fixed"),
        roots=("fixed-supervisor",),
    ),
    Scenario(
        "legacy-outliving-child",
        "legacy",
        "the same under legacy: the completion lands on execution 2 and fails it",
        _outliving,
        _bind(_drive_outliving, "legacy"),
        roots=("legacy-supervisor",),
    ),
    Scenario(
        "fanout-failing-child",
        "fixed",
        "a fan-out of three children where one fails",
        _fanout,
        _bind(_drive_fanout, "fanout"),
        roots=("fanout-checkout",),
    ),
    Scenario(
        "cancelled-tree",
        "fixed",
        "a parent cancelled while its children wait; the cancellation cascades",
        _cancel,
        _bind(_drive_cancel, "cancel"),
        roots=("cancel-pipeline",),
    ),
    Scenario(
        "nondeterministic-change",
        "fixed",
        "code changed under a waiting instance: replay diverges after the restart",
        _approval_v1,
        _bind(_drive_approval, "deploy"),
        roots=("deploy-approval",),
        code_change=_approval_v2,
        after_change=_bind(_after_approval, "deploy"),
    ),
    Scenario(
        "explicit-id-collision",
        "fixed",
        "two parents use the same explicit child id: the second fails fast",
        _collision,
        _bind(_drive_collision, "fixed-collision"),
        roots=(
            "fixed-collision-report-mon",
            "fixed-collision-report-tue",
            "fixed-collision-report-builder",
        ),
    ),
    Scenario(
        "legacy-explicit-id-collision",
        "legacy",
        "the same under legacy: the second parent hangs",
        _collision,
        _bind(_drive_collision, "legacy-collision"),
        roots=(
            "legacy-collision-report-mon",
            "legacy-collision-report-tue",
            "legacy-collision-report-builder",
        ),
    ),
    Scenario(
        "orphan-message",
        "fixed",
        "a cancel for an instance that does not exist is discarded without blocking the queue",
        _common,
        _bind(_drive_orphan, "orphan"),
        roots=("orphan-does-not-exist", "orphan-after-orphan"),
    ),
    Scenario(
        "early-event",
        "fixed",
        "an approval raised before the orchestration waits for it is never delivered",
        _early_event,
        _bind(_drive_early_event, "early"),
        roots=("early-window",),
    ),
    Scenario(
        "redelivered-completion",
        "fixed",
        "an activity's failure report delivered twice: the second is recognised and ignored",
        _redelivery,
        _bind(_drive_redelivery, "redelivery"),
        roots=("redelivery-books",),
    ),
    Scenario(
        "final-turn-child",
        "fixed",
        "a child scheduled in the turn that ends its parent is never started",
        _final_turn,
        _bind(_drive_final_turn, "final"),
        roots=("final-dispatch",),
    ),
    Scenario(
        "legacy-misrouted-relay",
        "legacy",
        "a stale child's completion resolves another child's schedule in the next execution",
        _relay,
        _bind(_drive_relay, "legacy"),
        roots=("legacy-relay", "legacy-relay-second"),
    ),
    Scenario(
        "legacy-lost-completion",
        "legacy",
        "a child's completion addressed to the parent's old execution is dropped: it hangs",
        _lost_completion,
        _bind(_drive_lost_completion, "legacy"),
        roots=("legacy-shipper",),
    ),
    Scenario(
        "queued-orphan",
        "fixed",
        "an event for an instance that does not exist, raised while no runtime runs, stays queued",
        _common,
        _bind(_drive_orphan_noop, "queued"),
        roots=("queued-ghost",),
        after_shutdown=_bind(_after_queued_orphan, "queued"),
    ),
)
