"""Differential scenarios for duroxide's nondeterminism messages.

A code change between two phases, or a completion addressed to the wrong
schedule, fails an orchestration with ``Configuration/Nondeterminism``; the
messages (``schedule mismatch: action=... vs event=...`` in Rust's Debug
rendering, ``custom status mismatch``, ``cancellation mismatch``, ``no matching
schedule for ...``, ``completion without open schedule``) must be the same text
on both runtimes.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from tests.differential.scenarios import (
    POLL_TIMEOUT_S,
    ClientLike,
    Ctx,
    Orchestration,
    RuntimeLike,
    Scenario,
    scenario,
    wait_custom_status,
)


def wait_for_event_kind(client: ClientLike, instance_id: str, kind: str) -> None:
    """Poll the instance's first execution until it holds an event of ``kind``."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(e.kind == kind for e in client.read_execution_history(instance_id, 1)):
            return
        time.sleep(0.02)
    raise TimeoutError(f"{instance_id} never recorded a {kind}")


def waiting(ctx: Ctx) -> Any:
    """Say "waiting" and wait for "go" (the driver's cue to move on)."""
    ctx.set_custom_status("waiting")
    return ctx.wait_for_event("go")


@scenario
class NondeterminismMessages(Scenario):
    name = "nondeterminism_messages"
    description = (
        "phase 2 changes the code under waiting instances: another session id (the event "
        "shows Some(...) for its session and tag), a versioned child instead of an "
        "activity, a child in place of the third activity of a fan-out (placeholder "
        "sub::pending_3), an activity where a custom status was set, and no race where "
        "history dropped a child (cancellation mismatch)"
    )
    expected: ClassVar[dict[str, str]] = {
        "nd-session": "Failed",
        "nd-version": "Failed",
        "nd-pending": "Failed",
        "nd-status": "Failed",
        "nd-cancel": "Failed",
        "nd-cancel::sub::2": "Failed",
    }
    phases = 2

    def options(self, dx: Any) -> Any:
        return dx.RuntimeOptions(worker_tag_filter=dx.TagFilter.ANY)  # runs the tagged activity

    def register(self, rt: RuntimeLike, phase: int) -> None:
        @rt.register_activity("A")
        def act_a(ctx: Ctx, x: Any) -> Any:
            return x

        @rt.register_orchestration("Child")
        def child(ctx: Ctx, x: Any) -> Any:
            return x

        @rt.register_orchestration("Held")
        def held(ctx: Ctx, x: Any) -> Orchestration:
            return (yield ctx.wait_for_event("release"))

        code = self._v1() if phase == 0 else self._v2()
        for name, fn in code.items():
            rt.register_orchestration(name, fn)

    @staticmethod
    def _v1() -> dict[str, Any]:
        def session(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.schedule_activity_on_session("A", x, "s-1").with_tag("t")
            yield waiting(ctx)

        def version(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.schedule_activity("A", x)
            yield waiting(ctx)

        def pending(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.all(
                [
                    ctx.schedule_timer(10),
                    ctx.schedule_activity("A", 1),
                    ctx.schedule_activity("A", 2),
                ]
            )
            yield waiting(ctx)

        def status(ctx: Ctx, x: Any) -> Orchestration:
            yield waiting(ctx)

        def cancel(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.race(ctx.schedule_sub_orchestration("Held", 1), ctx.schedule_timer(10))
            yield waiting(ctx)

        return {"Session": session, "Version": version, "Pending": pending, "Status": status,
                "Cancel": cancel}  # fmt: skip

    @staticmethod
    def _v2() -> dict[str, Any]:
        def session(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.schedule_activity_on_session("A", x, "s-2")
            yield waiting(ctx)

        def version(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.schedule_sub_orchestration_versioned("Child", "1.0.0", x)
            yield waiting(ctx)

        def pending(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.all(
                [
                    ctx.schedule_timer(10),
                    ctx.schedule_activity("A", 1),
                    ctx.schedule_sub_orchestration("Child", 2),
                ]
            )
            yield waiting(ctx)

        def status(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.schedule_activity("A", x)
            yield ctx.wait_for_event("go")

        def cancel(ctx: Ctx, x: Any) -> Orchestration:
            # No race any more: nothing is dropped where history says a child was.
            # (duroxide-python has no nested all(), so the same schedules without the
            # drop cannot be written; returning at once reaches the same check.)
            if x is not None:
                return "changed"
            yield ctx.wait_for_event("go")

        return {"Session": session, "Version": version, "Pending": pending, "Status": status,
                "Cancel": cancel}  # fmt: skip

    INSTANCES: ClassVar[dict[str, str]] = {
        "nd-session": "Session",
        "nd-version": "Version",
        "nd-pending": "Pending",
        "nd-status": "Status",
        "nd-cancel": "Cancel",
    }

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        if phase == 0:
            for instance_id, orchestration in self.INSTANCES.items():
                client.start_orchestration(instance_id, orchestration, "in")
            for instance_id in self.INSTANCES:
                wait_custom_status(client, instance_id, "waiting")
            # The dropped child is cancelled; its failure reaches the parent (and is ignored).
            client.wait_for_orchestration("nd-cancel::sub::2", 20_000)
            wait_for_event_kind(client, "nd-cancel", "SubOrchestrationFailed")
        else:
            for instance_id in self.INSTANCES:
                client.raise_event(instance_id, "go", None)
        return {}


@scenario
class MisaddressedCompletions(Scenario):
    name = "misaddressed_completions"
    description = (
        "completions injected into the queue of waiting instances: one pointing at "
        "OrchestrationStarted, a timer with no TimerCreated, a timer pointing at an "
        "activity, a child completion with no schedule, and an ActivityCompleted for an "
        "activity that already failed (a second ActivityFailed is left out: durascope "
        "drops it as a duplicate, duroxide 0.1.32 records it and fails)"
    )
    ITEMS: ClassVar[dict[str, dict[str, Any]]] = {
        "mc-started": {"ActivityCompleted": {"execution_id": 1, "id": 1, "result": '"r"'}},
        "mc-timer": {"TimerFired": {"execution_id": 1, "id": 77, "fire_at_ms": 0}},
        "mc-kind": {"TimerFired": {"execution_id": 1, "id": 2, "fire_at_ms": 0}},
        "mc-child": {"SubOrchCompleted": {"parent_execution_id": 1, "parent_id": 9, "result": "1"}},
        "mc-completed-after-failed": {
            "ActivityCompleted": {"execution_id": 1, "id": 2, "result": '"late"'}
        },
    }
    expected: ClassVar[dict[str, str]] = dict.fromkeys(ITEMS, "Failed")

    def register(self, rt: RuntimeLike, phase: int) -> None:
        @rt.register_activity("Fails")
        def fails(ctx: Ctx, x: Any) -> None:
            raise ValueError("first")

        @rt.register_orchestration("Waits")
        def waits(ctx: Ctx, x: Any) -> Orchestration:
            try:
                yield ctx.schedule_activity("Fails", x)
            except Exception as exc:
                ctx.trace_info(f"expected: {exc}")
            return (yield waiting(ctx))

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        for instance_id in self.ITEMS:
            client.start_orchestration(instance_id, "Waits", None)
        for instance_id in self.ITEMS:
            wait_custom_status(client, instance_id, "waiting")
        for instance_id, item in self.ITEMS.items():
            [(variant, fields)] = item.items()
            key = "parent_instance" if variant.startswith("SubOrch") else "instance"
            self.inject({variant: {key: instance_id, **fields}})
        return {}
