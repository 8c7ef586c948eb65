r"""The orchestrations and activities of ``durascope demo``, as a user's module.

``durascope demo`` runs these (through :mod:`durascope.scenarios`) and writes this
file beside its store as ``my_orchestrations.py``, so the README's tour can
re-execute the recorded histories against it::

    durascope replay durascope-demo.db --instance deploy-approval \\
        --module my_orchestrations.py --what-if

It is plain code: generator functions, and :func:`register`, which registers the
code as deployed *now* on any runtime with ``register_activity`` and
``register_orchestration`` (durascope's, its duroxide facade, or the recording
stand-in ``durascope replay`` uses).  ``Approval`` is the changed version: the
demo's ``deploy-approval`` instance started under :func:`approval_before_change`,
so re-executing it against this module shows where replay diverges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    # Activities
    "charge",
    "echo",
    "reserve",
    # Orchestrations
    "approval",
    "approval_before_change",
    "approval_window",
    "await_release",
    "batch_loop",
    "checkout",
    "dispatch",
    "nightly_report",
    "pipeline",
    "process_batch",
    "reconcile",
    "relay",
    "reserve_item",
    "shipper",
    "supervisor",
    # Registration
    "ACTIVITIES",
    "ORCHESTRATIONS",
    "register",
]

# ─── Activities ──────────────────────────────────────────────────


def charge(ctx: Any, order: Any) -> Any:
    """Charge an order."""
    return {"order": order, "charged": True}


def echo(ctx: Any, value: Any) -> Any:
    """Return the input."""
    return value


def reserve(ctx: Any, sku: str) -> Any:
    """Reserve stock: always out of stock, so the fan-out has a failing child."""
    raise ValueError(f"sku {sku} is out of stock")


# ─── Orchestrations ──────────────────────────────────────────────


def process_batch(ctx: Any, batch: int) -> Any:
    """One batch: a single activity."""
    receipt = yield ctx.schedule_activity("Charge", batch)
    return receipt


def await_release(ctx: Any, label: str) -> Any:
    """Wait for a ``release`` event."""
    ctx.set_custom_status("waiting for release")
    data = yield ctx.wait_for_event("release")
    return [label, data]


def batch_loop(ctx: Any, n: int) -> Any:
    """Processes one batch per execution through a child, continuing as new."""
    result = yield ctx.schedule_sub_orchestration("ProcessBatch", n)
    if n < 3:
        return (yield ctx.continue_as_new(n + 1))
    return result


def supervisor(ctx: Any, n: int) -> Any:
    """Execution 1 starts a slow child and moves on; execution 2 waits for ``go``."""
    if n == 1:
        yield ctx.race(
            ctx.schedule_sub_orchestration("AwaitRelease", "first"), ctx.schedule_timer(20)
        )
        return (yield ctx.continue_as_new(2))
    ctx.set_custom_status("execution 2 waiting")
    won = yield ctx.race(ctx.wait_for_event("go"), ctx.schedule_timer(600_000))
    return won


def reserve_item(ctx: Any, sku: str) -> Any:
    """Reserve one item (``B-2`` fails)."""
    if sku == "B-2":
        result = yield ctx.schedule_activity("Reserve", sku)
    else:
        result = yield ctx.schedule_activity("Echo", {"sku": sku, "reserved": True})
    return result


def checkout(ctx: Any, skus: list[str]) -> Any:
    """Fan out one child per item; fail if any reservation failed."""
    results = yield ctx.all([ctx.schedule_sub_orchestration("ReserveItem", s) for s in skus])
    failed = [r["err"] for r in results if "err" in r]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(skus)} reservations failed: {failed[0]}")
    return results


def pipeline(ctx: Any, _: Any) -> Any:
    """Two stages that each wait for a release (the demo cancels it while they wait)."""
    results = yield ctx.all(
        [
            ctx.schedule_sub_orchestration("AwaitRelease", "stage-1"),
            ctx.schedule_sub_orchestration("AwaitRelease", "stage-2"),
        ]
    )
    return results


def approval_before_change(ctx: Any, order: str) -> Any:
    """``Approval`` as it was when ``deploy-approval`` started."""
    ctx.set_custom_status("awaiting approval")
    decision = yield ctx.wait_for_event("decision")
    receipt = yield ctx.schedule_activity("Charge", order)
    return [decision, receipt]


def approval(ctx: Any, order: str) -> Any:
    """``Approval`` as deployed now: a fraud check runs before waiting for the decision."""
    yield ctx.schedule_activity("Echo", {"fraud_check": order})
    ctx.set_custom_status("awaiting approval")
    decision = yield ctx.wait_for_event("decision")
    receipt = yield ctx.schedule_activity("Charge", order)
    return [decision, receipt]


def nightly_report(ctx: Any, job: list[str]) -> Any:
    """Build a report through a child with an explicit id (two days share one id)."""
    day, builder = job
    try:
        result = yield ctx.schedule_sub_orchestration_with_id("ProcessBatch", builder, day)
    except Exception as exc:
        return f"failed: {exc}"
    return result


def approval_window(ctx: Any, _: Any) -> Any:
    """Prepares for a while, then opens a window for the approval."""
    ctx.set_custom_status("preparing")
    yield ctx.schedule_timer(300)
    won = yield ctx.race(ctx.wait_for_event("approve"), ctx.schedule_timer(200))
    return "approved" if won["index"] == 0 else "window closed without an approval"


def reconcile(ctx: Any, sku: str) -> Any:
    """Tries to reserve (it fails, and is handled), then waits for the books to close."""
    try:
        reserved = yield ctx.schedule_activity("Reserve", sku)
    except Exception as exc:
        reserved = f"not reserved: {exc}"
    ctx.set_custom_status("reconciled")
    closed = yield ctx.wait_for_event("close")
    return [reserved, closed]


def dispatch(ctx: Any, _: Any) -> Any:
    """Once begun, takes a cached answer from the mailbox or computes it in a child."""
    ctx.set_custom_status("waiting for begin")
    yield ctx.wait_for_event("begin")
    won = yield ctx.race(
        ctx.schedule_sub_orchestration("ProcessBatch", 7), ctx.dequeue_event("cache")
    )
    return won


def relay(ctx: Any, job: list[Any]) -> Any:
    """Execution 1 leaves a slow child behind; execution 2 waits on another at event 2."""
    n, second = job
    if n == 1:
        yield ctx.race(
            ctx.schedule_sub_orchestration("AwaitRelease", "first"), ctx.schedule_timer(20)
        )
        return (yield ctx.continue_as_new([2, second]))
    won = yield ctx.race(
        ctx.schedule_sub_orchestration_with_id("AwaitRelease", second, "second"),
        ctx.schedule_timer(600_000),
    )
    return won


def shipper(ctx: Any, n: int) -> Any:
    """Execution 1 warms up with an activity; execution 2 ships through a child."""
    if n == 1:
        yield ctx.schedule_activity("Echo", "warm up")
        return (yield ctx.continue_as_new(2))
    return (yield ctx.schedule_sub_orchestration("ProcessBatch", n))


ACTIVITIES: dict[str, Callable[..., Any]] = {"Charge": charge, "Echo": echo, "Reserve": reserve}
ORCHESTRATIONS: dict[str, Callable[..., Any]] = {
    "ProcessBatch": process_batch,
    "AwaitRelease": await_release,
    "BatchLoop": batch_loop,
    "Supervisor": supervisor,
    "ReserveItem": reserve_item,
    "Checkout": checkout,
    "Pipeline": pipeline,
    "Approval": approval,
    "NightlyReport": nightly_report,
    "ApprovalWindow": approval_window,
    "Reconcile": reconcile,
    "Dispatch": dispatch,
    "Relay": relay,
    "Shipper": shipper,
}


def register(runtime: Any) -> None:
    """Register every activity and orchestration as deployed now."""
    for name, activity in ACTIVITIES.items():
        runtime.register_activity(name, activity)
    for name, orchestration in ORCHESTRATIONS.items():
        runtime.register_orchestration(name, orchestration)
