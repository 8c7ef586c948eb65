"""Differential scenarios for activities no runtime process has code for.

duroxide abandons such a work item with a growing backoff (1 s, 2 s, ...), so a
node with the code can pick it up during a rolling deployment; after
``max_attempts`` fetches it fails the activity as ``Poison``, a system error that
fails the scheduling orchestration (and its parent) whatever the code catches.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from tests.differential.scenarios import (
    ClientLike,
    Ctx,
    Orchestration,
    RuntimeLike,
    Scenario,
    scenario,
)


def register_catching_caller(rt: RuntimeLike) -> None:
    """``CallsMissing(x)`` runs activity ``Missing``; ``ParentOfMissing`` runs it as a child."""

    @rt.register_orchestration("CallsMissing")
    def calls_missing(ctx: Ctx, x: Any) -> Orchestration:
        try:
            return (yield ctx.schedule_activity("Missing", x))
        except Exception as exc:  # a poison failure never arrives here
            return {"caught": str(exc)}

    @rt.register_orchestration("ParentOfMissing")
    def parent_of_missing(ctx: Ctx, x: Any) -> Orchestration:
        try:
            return (yield ctx.schedule_sub_orchestration("CallsMissing", x))
        except Exception as exc:
            return {"caught": str(exc)}


@scenario
class UnregisteredActivity(Scenario):
    name = "unregistered_activity"
    description = (
        "an activity nobody registered is retried with backoff and then poisoned "
        "(max_attempts 2): the orchestration and the parent of another one fail with Poison"
    )
    expected: ClassVar[dict[str, str]] = {
        "ua-root": "Failed",
        "ua-parent": "Failed",
        "ua-parent::sub::2": "Failed",
    }

    def options(self, dx: Any) -> Any:
        return dx.RuntimeOptions(max_attempts=2)

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_catching_caller(rt)

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("ua-root", "CallsMissing", 1)
        client.start_orchestration("ua-parent", "ParentOfMissing", 2)
        return {}


@scenario
class RollingDeployment(Scenario):
    name = "rolling_deployment"
    description = (
        "phase 1 runs without the activity's code (the work item waits), phase 2 on the "
        "same store has it: the activity runs and the orchestration completes"
    )
    expected: ClassVar[dict[str, str]] = {"rolling": "Completed"}
    phases = 2

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_catching_caller(rt)
        if phase == 1:

            @rt.register_activity("Missing")
            def missing(ctx: Ctx, x: int) -> int:
                return x * 100

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        if phase == 0:
            client.start_orchestration("rolling", "CallsMissing", 7)
            time.sleep(0.5)  # long enough for a worker to fetch the item and put it back
            return {"phase-1 status": client.get_status("rolling").status}
        return {}
