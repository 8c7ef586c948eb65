"""Differential scenario: what a final turn sends besides its own ending.

duroxide dispatches a detached start (``ctx.start_orchestration``) from the turn
that completes or fails its orchestration, but not from one that continues as
new (nor from a cancelled one): that start is recorded as ``OrchestrationChained``
and never happens.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tests.differential.scenarios import (
    ClientLike,
    Ctx,
    Orchestration,
    RuntimeLike,
    Scenario,
    register_child,
    register_common_activities,
    scenario,
)


@scenario
class DetachedStartsInFinalTurns(Scenario):
    name = "detached_starts_in_final_turns"
    description = (
        "detached starts in the same turn as continue-as-new (dropped), a completion and "
        "a failure (both started)"
    )
    expected: ClassVar[dict[str, str]] = {
        "fin-can": "Completed",
        "fin-after-can": "Completed",
        "fin-fails": "Failed",
        "fin-after-failure": "Completed",
    }

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)
        register_child(rt)

        @rt.register_orchestration("ChainThenContinue")
        def chain_then_continue(ctx: Ctx, n: int) -> Orchestration:
            if n == 1:
                yield ctx.start_orchestration("Child", "fin-lost-in-can", 1)
                yield ctx.continue_as_new(2)
            yield ctx.start_orchestration("Child", "fin-after-can", 2)
            return n

        @rt.register_orchestration("ChainThenFail")
        def chain_then_fail(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.start_orchestration("Child", "fin-after-failure", 3)
            raise ValueError("failing after a detached start")

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("fin-can", "ChainThenContinue", 1)
        client.start_orchestration("fin-fails", "ChainThenFail", None)
        return {}
