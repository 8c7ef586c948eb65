"""Differential scenario: bugs in orchestration code fail the orchestration.

duroxide-python catches what the user's function raises when it is called and
what ``json.dumps`` raises for an output it cannot encode, and fails the
orchestration with an ``Application`` error whose message is the traceback; it
does not retry the turn.  (It does the same for a yielded value that is not a
task and for ``sys.exit()``, with messages of its own driver's wording, which
durascope words its own way: tests/runtime/test_engine.py covers those.)
"""

from __future__ import annotations

from typing import Any, ClassVar

from tests.differential.scenarios import (
    ClientLike,
    Ctx,
    Orchestration,
    RuntimeLike,
    Scenario,
    register_common_activities,
    scenario,
)


@scenario
class CodeBugs(Scenario):
    name = "code_bugs"
    description = (
        "an orchestration function that raises before it yields, and outputs that "
        "json.dumps refuses (from a plain function and from a generator)"
    )
    expected: ClassVar[dict[str, str]] = {
        "bug-raises-at-call": "Failed",
        "bug-plain-output": "Failed",
        "bug-generator-output": "Failed",
    }

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)

        @rt.register_orchestration("RaisesAtCall")
        def raises_at_call(ctx: Ctx, x: Any) -> Any:
            raise ValueError("raised before any yield")

        @rt.register_orchestration("PlainOutput")
        def plain_output(ctx: Ctx, x: Any) -> Any:
            return {1, 2}  # a set: not JSON

        @rt.register_orchestration("GeneratorOutput")
        def generator_output(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.schedule_activity("Inc", 1)
            return {1, 2}

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("bug-raises-at-call", "RaisesAtCall", None)
        client.start_orchestration("bug-plain-output", "PlainOutput", None)
        client.start_orchestration("bug-generator-output", "GeneratorOutput", None)
        return {}
