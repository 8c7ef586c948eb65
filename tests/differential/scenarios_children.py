"""Differential scenarios: sub-orchestrations (auto and explicit ids, children across
continue-as-new, a failing child, a cancelled tree)."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from tests.differential.scenarios import (
    ClientLike,
    Ctx,
    Orchestration,
    RuntimeLike,
    Scenario,
    register_child,
    register_common_activities,
    register_gated_activity,
    scenario,
    wait_custom_status,
)


@scenario
class SubOrchestrationsAutoIds(Scenario):
    name = "sub_orchestrations_auto_ids"
    description = "two children in parallel, then a child that has a grandchild (auto ids)"
    expected: ClassVar[dict[str, str]] = {
        "tree": "Completed",
        "tree::sub::2": "Completed",
        "tree::sub::3": "Completed",
        "tree::sub::6": "Completed",
        "tree::sub::6::sub::2": "Completed",
    }

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)
        register_child(rt)

        @rt.register_orchestration("Nest")
        def nest(ctx: Ctx, x: int) -> Orchestration:
            return (yield ctx.schedule_sub_orchestration("Child", x * 10))

        @rt.register_orchestration("Tree")
        def tree(ctx: Ctx, x: Any) -> Orchestration:
            pair = yield ctx.all(
                [
                    ctx.schedule_sub_orchestration("Child", 1),
                    ctx.schedule_sub_orchestration("Child", 2),
                ]
            )
            nested = yield ctx.schedule_sub_orchestration("Nest", 5)
            return [pair, nested]

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("tree", "Tree", None)
        return {}


@scenario
class SubOrchestrationsExplicitIds(Scenario):
    name = "sub_orchestrations_explicit_ids"
    description = (
        "children with explicit ids (one containing a plain '::') next to an auto-id child"
    )
    expected: ClassVar[dict[str, str]] = {
        "ex-parent": "Completed",
        "ex-child-a": "Completed",
        "tenant::ex-child-b": "Completed",
        "ex-parent::sub::5": "Completed",
    }

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)
        register_child(rt)

        @rt.register_orchestration("ExParent")
        def ex_parent(ctx: Ctx, x: Any) -> Orchestration:
            a = yield ctx.schedule_sub_orchestration_with_id("Child", "ex-child-a", 1)
            rest = yield ctx.all(
                [
                    ctx.schedule_sub_orchestration_with_id("Child", "tenant::ex-child-b", 2),
                    ctx.schedule_sub_orchestration("Child", 3),
                ]
            )
            return [a, rest]

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("ex-parent", "ExParent", None)
        return {}


@scenario
class ContinueAsNewChildren(Scenario):
    name = "continue_as_new_children"
    description = (
        "a parent schedules a child and continues-as-new 3 times (sub::2, sub::2_2, sub::3_2)"
    )
    expected: ClassVar[dict[str, str]] = {
        "can": "Completed",
        "can::sub::2": "Completed",
        "can::sub::2_2": "Completed",
        "can::sub::3_2": "Completed",
    }

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)
        register_child(rt)

        @rt.register_orchestration("Rounds")
        def rounds(ctx: Ctx, state: dict[str, Any]) -> Orchestration:
            if state["round"] >= 3:
                return state["acc"]
            got = yield ctx.schedule_sub_orchestration("Child", state["round"] * 10)
            yield ctx.continue_as_new({"round": state["round"] + 1, "acc": state["acc"] + [got]})

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("can", "Rounds", {"round": 0, "acc": []})
        return {}


@scenario
class ChildFailure(Scenario):
    name = "child_failure"
    description = "a failing child: one parent catches the exception, another lets it propagate"
    expected: ClassVar[dict[str, str]] = {
        "cf-caught": "Completed",
        "cf-caught::sub::2": "Failed",
        "cf-uncaught": "Failed",
        "cf-uncaught::sub::2": "Failed",
    }

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)

        @rt.register_orchestration("BadChild")
        def bad_child(ctx: Ctx, x: int) -> Orchestration:
            yield ctx.schedule_activity("Inc", x)
            raise ValueError("child boom")

        @rt.register_orchestration("CatchingParent")
        def catching_parent(ctx: Ctx, x: Any) -> Orchestration:
            try:
                yield ctx.schedule_sub_orchestration("BadChild", 1)
            except Exception as exc:
                return {"caught": str(exc), "type": type(exc).__name__}
            return "not reached"

        @rt.register_orchestration("PropagatingParent")
        def propagating_parent(ctx: Ctx, x: Any) -> Orchestration:
            return (yield ctx.schedule_sub_orchestration("BadChild", 2))

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("cf-caught", "CatchingParent", None)
        client.start_orchestration("cf-uncaught", "PropagatingParent", None)
        return {}


@scenario
class CancellationCascade(Scenario):
    name = "cancellation_cascade"
    description = (
        "cancel a parent waiting on a child that waits for an event and for a running "
        "activity; the child is canceled too"
    )
    expected: ClassVar[dict[str, str]] = {"cc-parent": "Failed", "cc-parent::sub::2": "Failed"}

    def __init__(self) -> None:
        self.gate = threading.Event()

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_gated_activity(rt, self.gate)

        @rt.register_orchestration("Waiter")
        def waiter(ctx: Ctx, x: Any) -> Orchestration:
            ctx.set_custom_status("waiting")
            return (
                yield ctx.all([ctx.wait_for_event("never"), ctx.schedule_activity("Gated", None)])
            )

        @rt.register_orchestration("WaitingParent")
        def waiting_parent(ctx: Ctx, x: Any) -> Orchestration:
            return (yield ctx.schedule_sub_orchestration("Waiter", None))

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("cc-parent", "WaitingParent", None)
        wait_custom_status(client, "cc-parent::sub::2", "waiting")
        client.cancel_instance("cc-parent", "operator stop")
        try:
            client.wait_for_orchestration("cc-parent::sub::2", 20_000)
        finally:
            self.gate.set()  # the canceled child's activity may now finish; its result is discarded
        return {}
