"""Differential scenarios: bugs in orchestration code fail the orchestration.

duroxide-python catches what the user's function raises when it is called and
what ``json.dumps`` raises for an output it cannot encode, and fails the
orchestration with an ``Application`` error whose message is the traceback (an
exception whose ``__str__`` raises shows as ``Bad: <exception str() failed>``); it
does not retry the turn.  A task built from arguments of the wrong type fails it
with serde's message (``Invalid generator step result: invalid type: integer
`123`, expected a string``), whatever the code's finally blocks then do.  (It
fails the orchestration for a yielded value that is not a task and for
``sys.exit()`` too, with messages of its own driver's wording, which durascope
words its own way: tests/runtime/test_engine.py and test_code_bugs.py cover those.)
"""

from __future__ import annotations

import contextlib
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


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")


@scenario
class CodeBugs(Scenario):
    name = "code_bugs"
    description = (
        "an orchestration function that raises before it yields, outputs that "
        "json.dumps refuses (from a plain function and from a generator), an exception "
        "whose __str__ raises, finally blocks that yield, raise or swallow GeneratorExit "
        "after a refused yield or while the code waits"
    )
    expected: ClassVar[dict[str, str]] = {
        "bug-raises-at-call": "Failed",
        "bug-plain-output": "Failed",
        "bug-generator-output": "Failed",
        "bug-unprintable": "Failed",
        "bug-finally-yields": "Failed",
        "bug-finally-raises": "Failed",
        "bug-catches-exit": "Failed",
        "finally-yields-while-waiting": "Completed",
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

        @rt.register_orchestration("Unprintable")
        def unprintable(ctx: Ctx, x: Any) -> Orchestration:
            yield ctx.schedule_activity("Inc", 1)
            raise Unprintable()

        # The refused yield is a bad argument: both runtimes word that failure alike.
        @rt.register_orchestration("FinallyYields")
        def finally_yields(ctx: Ctx, x: Any) -> Orchestration:
            try:
                yield ctx.schedule_activity(123, "a")
            finally:
                yield ctx.schedule_activity("Inc", 1)

        @rt.register_orchestration("FinallyRaises")
        def finally_raises(ctx: Ctx, x: Any) -> Orchestration:
            try:
                yield ctx.schedule_activity(123, "a")
            finally:
                raise ValueError("in finally")

        @rt.register_orchestration("CatchesExit")
        def catches_exit(ctx: Ctx, x: Any) -> Orchestration:
            while True:
                with contextlib.suppress(GeneratorExit):
                    yield ctx.wait_for_event(42)

        # Valid code: each turn that ends while it waits drops (closes) its generator.
        @rt.register_orchestration("FinallyYieldsWhileWaiting")
        def finally_yields_while_waiting(ctx: Ctx, x: int) -> Orchestration:
            try:
                result = yield ctx.schedule_activity("Inc", x)
            finally:
                yield ctx.schedule_activity("Double", x)
            return result

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        client.start_orchestration("bug-raises-at-call", "RaisesAtCall", None)
        client.start_orchestration("bug-plain-output", "PlainOutput", None)
        client.start_orchestration("bug-generator-output", "GeneratorOutput", None)
        client.start_orchestration("bug-unprintable", "Unprintable", None)
        client.start_orchestration("bug-finally-yields", "FinallyYields", None)
        client.start_orchestration("bug-finally-raises", "FinallyRaises", None)
        client.start_orchestration("bug-catches-exit", "CatchesExit", None)
        client.start_orchestration("finally-yields-while-waiting", "FinallyYieldsWhileWaiting", 4)
        return {}


BAD_ARGUMENTS: dict[str, Any] = {
    "activity-name": lambda ctx: ctx.schedule_activity(123, "a"),
    "activity-session": lambda ctx: ctx.schedule_activity("Inc", 1, session_id=5),
    "activity-tag": lambda ctx: ctx.schedule_activity("Inc", 1).with_tag(5),
    "retry-name": lambda ctx: ctx.schedule_activity_with_retry(123, 1, {"max_attempts": "x"}),
    "timer-string": lambda ctx: ctx.schedule_timer("5"),
    "timer-float": lambda ctx: ctx.schedule_timer(1.5),
    "timer-negative": lambda ctx: ctx.schedule_timer(-1),
    "timer-too-big": lambda ctx: ctx.schedule_timer(2**64),
    "event-name": lambda ctx: ctx.wait_for_event(42),
    "queue-name": lambda ctx: ctx.dequeue_event(None),
    "child-name": lambda ctx: ctx.schedule_sub_orchestration(None, "a"),
    "child-id": lambda ctx: ctx.schedule_sub_orchestration_with_id("Inc", None, "a"),
    "child-version": lambda ctx: ctx.schedule_sub_orchestration_versioned("Inc", 5, "a"),
    "detached-id": lambda ctx: ctx.start_orchestration("Inc", None, "a"),
    "continue-version": lambda ctx: ctx.continue_as_new_versioned(1, 5),
    "inside-all": lambda ctx: ctx.all([ctx.schedule_activity("Inc", 1), ctx.wait_for_event(7)]),
}


@scenario
class BadArguments(Scenario):
    name = "code_bug_arguments"
    description = (
        "tasks built from arguments of the wrong type (a number for a name, a string for a "
        "delay, None for an id, ...): the orchestration fails, nothing of the yield is scheduled"
    )
    expected: ClassVar[dict[str, str]] = {f"bad-{case}": "Failed" for case in BAD_ARGUMENTS}

    def register(self, rt: RuntimeLike, phase: int) -> None:
        register_common_activities(rt)
        for case, build in BAD_ARGUMENTS.items():
            rt.register_orchestration(f"Bad-{case}", _yields(build))

    def drive(self, client: ClientLike, phase: int) -> dict[str, Any]:
        for case in BAD_ARGUMENTS:
            client.start_orchestration(f"bad-{case}", f"Bad-{case}", None)
        return {}


def _yields(build: Any) -> Any:
    def orchestration(ctx: Ctx, x: Any) -> Orchestration:
        yield ctx.schedule_activity("Inc", 1)  # a turn that is replayed, then the bad yield
        return (yield build(ctx))

    return orchestration
