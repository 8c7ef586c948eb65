"""Bugs in orchestration code fail the orchestration; nothing the code does escapes the turn.

duroxide 0.2.2 (checked with the wheel) fails the orchestration when its code raises
anything, yields what is not a task or a task built from arguments of the wrong type,
and never retries the turn.  An exception out of ``process_turn`` instead makes the
runtime abandon the batch until it is poisoned, and ``durascope replay`` exit 3.
"""

from __future__ import annotations

import contextlib
import enum
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from durascope.history import application_error
from durascope.runtime import Simulation, TurnOutcome, process_turn
from tests.runtime.test_engine import code, completed, scheduled_a, start_item, started, turn

# A generator that catches GeneratorExit and yields again cannot be closed: Python reports
# it when it collects it ("Exception ignored in"), as it does under duroxide.  Collecting
# after each test keeps those reports in this module, where they are expected.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(autouse=True)
def collect_refusing_generators() -> Iterator[None]:
    yield
    gc.collect()


INVALID = "Invalid generator step result: "
NOT_A_TASK = (
    "an orchestration yielded int, which is not a task "
    "(yield what ctx.schedule_*/wait_for_event/all/race return)"
)


def first_turn(fn: Any) -> TurnOutcome:
    return process_turn(turn((start_item(),)), code(fn))


def assert_failed_at_once(out: TurnOutcome, output: str | None = None) -> None:
    """The turn records the failure and sends nothing: no abandon, no retry, no poison."""
    assert out.abandon_delay_ms is None
    assert [e.type for e in out.delta] == ["OrchestrationStarted", "OrchestrationFailed"]
    assert out.status == "Failed"
    assert out.worker_items == () and out.orchestrator_items == ()
    if output is not None:
        assert out.output == output
        assert out.delta[-1].details == application_error("OrchestrationFailed", output)  # type: ignore[union-attr]


def last_line(out: TurnOutcome) -> str:
    assert out.output is not None
    return out.output.strip().splitlines()[-1]


# ─── Exceptions the code raises, however odd ──────────────────────


class StrRaises(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")


class StrExits(Exception):
    def __str__(self) -> str:
        raise SystemExit(1)


class NotesRaise(Exception):
    """The traceback module reads ``__notes__`` unguarded: the failure names the class."""

    @property
    def __notes__(self) -> list[str]:
        raise RuntimeError("no notes")


class Boom(BaseException):
    pass


class ItemsRaise(dict[str, Any]):
    """json.dumps asks a dict subclass for its items: this output's encoding raises."""

    def items(self) -> Any:
        raise StrRaises()


def raises_after_a_yield(exc: BaseException) -> Any:
    def orchestration(ctx: Any, x: Any) -> Any:
        yield ctx.schedule_activity("A", x)
        raise exc

    return orchestration


def test_an_exception_whose_str_raises_fails_like_duroxide() -> None:
    """duroxide: ``...Bad: <exception str() failed>``; durascope used to escape the turn."""
    out = process_turn(
        turn((completed(),), (started(), scheduled_a())), code(raises_after_a_yield(StrRaises()))
    )
    assert out.abandon_delay_ms is None
    assert [e.type for e in out.delta] == ["ActivityCompleted", "OrchestrationFailed"]
    assert last_line(out).endswith("StrRaises: <exception str() failed>")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (StrRaises(), "StrRaises: <exception str() failed>"),
        (StrExits(), "StrExits: <exception str() failed>"),
        (NotesRaise("n"), "NotesRaise'>: <exception str() failed>"),
        (Boom("b"), "Boom: b"),
        (GeneratorExit("g"), "GeneratorExit: g"),
    ],
)
def test_whatever_the_code_raises_when_called_fails_the_orchestration(
    exc: BaseException, expected: str
) -> None:
    def orchestration(ctx: Any, x: Any) -> Any:
        raise exc

    out = first_turn(orchestration)
    assert_failed_at_once(out)
    assert last_line(out).endswith(expected)


def test_an_output_whose_encoding_raises_an_unprintable_exception_fails() -> None:
    def orchestration(ctx: Any, x: Any) -> Any:
        yield ctx.all([])
        return ItemsRaise(a=1)

    out = first_turn(orchestration)
    assert_failed_at_once(out)
    assert last_line(out).endswith("StrRaises: <exception str() failed>")


def test_a_keyboard_interrupt_still_stops_the_process() -> None:
    def orchestration(ctx: Any, x: Any) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        first_turn(orchestration)


def test_a_trace_message_whose_str_raises_fails_the_orchestration_as_in_duroxide() -> None:
    """duroxide-python calls ``str(message)`` in the code's frame, so the code raises."""

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    def orchestration(ctx: Any, x: Any) -> Any:
        ctx.trace_info(Unprintable())
        yield ctx.schedule_activity("A", x)

    out = first_turn(orchestration)
    assert_failed_at_once(out)
    assert last_line(out) == "RuntimeError: no str"


# ─── Finally blocks: closing the generator never escapes ─────────


def finally_yields(step: Any) -> Any:
    def orchestration(ctx: Any, x: Any) -> Any:
        try:
            yield step(ctx)
        finally:
            yield ctx.schedule_activity("A", "cleanup")

    return orchestration


def finally_raises(step: Any) -> Any:
    def orchestration(ctx: Any, x: Any) -> Any:
        try:
            yield step(ctx)
        finally:
            raise ValueError("in finally")

    return orchestration


def catches_generator_exit(step: Any) -> Any:
    def orchestration(ctx: Any, x: Any) -> Any:
        while True:
            with contextlib.suppress(GeneratorExit):
                yield step(ctx)

    return orchestration


def finally_sets_a_status(step: Any) -> Any:
    def orchestration(ctx: Any, x: Any) -> Any:
        try:
            yield step(ctx)
        finally:
            ctx.set_custom_status("cleanup")

    return orchestration


@pytest.mark.parametrize(
    "make", [finally_yields, finally_raises, catches_generator_exit, finally_sets_a_status]
)
@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (lambda ctx: 5, NOT_A_TASK),
        (
            lambda ctx: ctx.schedule_activity(123, "a"),
            f"{INVALID}invalid type: integer `123`, expected a string",
        ),
    ],
)
def test_a_refused_yield_fails_whatever_the_finally_blocks_do(
    make: Any, step: Any, expected: str
) -> None:
    """Closing the generator there raised out of the turn (duroxide does not close it)."""
    out = first_turn(make(step))
    assert_failed_at_once(out, expected)
    assert not out.custom_status_changed


def _waits_in_try_finally_yield(ctx: Any, x: Any) -> Any:
    try:
        result = yield ctx.schedule_activity("A", x)
    finally:
        ctx.set_custom_status("in finally")
        yield ctx.schedule_activity("B", "cleanup")
    return result


def _waits_catching_generator_exit(ctx: Any, x: Any) -> Any:
    while True:
        try:
            return (yield ctx.schedule_activity("A", x))
        except GeneratorExit:
            pass


@pytest.mark.parametrize("fn", [_waits_in_try_finally_yield, _waits_catching_generator_exit])
async def test_code_waiting_in_a_try_block_that_yields_on_close_runs_to_the_end(fn: Any) -> None:
    """Every turn that ends while the code waits closes its generator (duroxide drops it).

    A finally block that yields made that close raise out of the turn, so such an
    orchestration (valid on duroxide) was abandoned until poisoned.
    """
    out = first_turn(fn)
    assert out.result == "continue" and out.abandon_delay_ms is None
    assert [e.type for e in out.delta] == ["OrchestrationStarted", "ActivityScheduled"]
    assert not out.custom_status_changed  # the status set while closing is not recorded

    sim = Simulation(code(fn))
    sim.start("f", "O", 7)
    await sim.run()
    assert (sim.instances["f"].status, sim.instances["f"].output) == ("Completed", "7")


# ─── Tasks built from arguments of the wrong type ─────────────────


class Millis(enum.IntEnum):
    FIVE = 5


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            lambda ctx: ctx.schedule_activity(123, "a"),
            "invalid type: integer `123`, expected a string",
        ),
        (lambda ctx: ctx.schedule_activity(None, "a"), "invalid type: null, expected a string"),
        (
            lambda ctx: ctx.schedule_activity(1.5),
            "invalid type: floating point `1.5`, expected a string",
        ),
        (
            lambda ctx: ctx.schedule_activity(True),
            "invalid type: boolean `true`, expected a string",
        ),
        (lambda ctx: ctx.schedule_activity([1]), "invalid type: sequence, expected a string"),
        (lambda ctx: ctx.schedule_activity({"a": 1}), "invalid type: map, expected a string"),
        (
            lambda ctx: ctx.schedule_activity(object()),
            "Object of type object is not JSON serializable",
        ),
        (
            lambda ctx: ctx.schedule_activity("A", 1, session_id=5),
            "invalid type: integer `5`, expected a string",
        ),
        (
            lambda ctx: ctx.schedule_activity("A", 1).with_tag(5),
            "invalid type: integer `5`, expected a string",
        ),
        (
            lambda ctx: ctx.schedule_activity_with_retry(123, 1, {"max_attempts": "x"}),
            "invalid type: integer `123`, expected a string",
        ),
        (
            lambda ctx: ctx.schedule_activity_with_retry("A", 1, {"max_attempts": "x"}),
            'invalid type: string "x", expected u32',
        ),
        (lambda ctx: ctx.schedule_timer("5"), 'invalid type: string "5", expected u64'),
        (lambda ctx: ctx.schedule_timer(1.5), "invalid type: floating point `1.5`, expected u64"),
        (lambda ctx: ctx.schedule_timer(5.0), "invalid type: floating point `5.0`, expected u64"),
        (lambda ctx: ctx.schedule_timer(-1), "invalid value: integer `-1`, expected u64"),
        (lambda ctx: ctx.schedule_timer(True), "invalid type: boolean `true`, expected u64"),
        (lambda ctx: ctx.schedule_timer(None), "invalid type: null, expected u64"),
        (
            lambda ctx: ctx.schedule_timer(2**64),
            "invalid type: floating point `1.8446744073709552e+19`, expected u64",
        ),
        (
            lambda ctx: ctx.schedule_timer(10**30),
            "invalid type: floating point `1e+30`, expected u64",
        ),
        (lambda ctx: ctx.wait_for_event(42), "invalid type: integer `42`, expected a string"),
        (lambda ctx: ctx.wait_for_event(None), "invalid type: null, expected a string"),
        (lambda ctx: ctx.dequeue_event(42), "invalid type: integer `42`, expected a string"),
        (
            lambda ctx: ctx.schedule_sub_orchestration(None, "a"),
            "invalid type: null, expected a string",
        ),
        (
            lambda ctx: ctx.schedule_sub_orchestration_with_id("C", None),
            "invalid type: null, expected a string",
        ),
        (
            lambda ctx: ctx.schedule_sub_orchestration_with_id("C", 5),
            "invalid type: integer `5`, expected a string",
        ),
        (
            lambda ctx: ctx.schedule_sub_orchestration_with_id(1, 5),
            "invalid type: integer `1`, expected a string",
        ),
        (
            lambda ctx: ctx.schedule_sub_orchestration_versioned("C", 5),
            "invalid type: integer `5`, expected a string",
        ),
        (
            lambda ctx: ctx.schedule_sub_orchestration_versioned_with_id("C", 7, 5),
            "invalid type: integer `7`, expected a string",
        ),
        (
            lambda ctx: ctx.start_orchestration(5, "x"),
            "invalid type: integer `5`, expected a string",
        ),
        (lambda ctx: ctx.start_orchestration("C", None), "invalid type: null, expected a string"),
        (
            lambda ctx: ctx.start_orchestration_versioned("C", 3, "x"),
            "invalid type: integer `3`, expected a string",
        ),
        (
            lambda ctx: ctx.continue_as_new_versioned(1, 5),
            "invalid type: integer `5`, expected a string",
        ),
        (
            lambda ctx: ctx.all([ctx.schedule_activity("A", 1), ctx.schedule_activity(123)]),
            "invalid type: integer `123`, expected a string",
        ),
        (
            lambda ctx: ctx.race(ctx.schedule_timer(5), ctx.wait_for_event(42)),
            "invalid type: integer `42`, expected a string",
        ),
    ],
)
def test_a_task_with_an_argument_of_the_wrong_type_fails_with_duroxides_message(
    body: Any, expected: str
) -> None:
    """The messages are duroxide 0.2.2's; nothing of the yield is scheduled."""

    def orchestration(ctx: Any, x: Any) -> Any:
        yield body(ctx)

    assert_failed_at_once(first_turn(orchestration), INVALID + expected)


@pytest.mark.parametrize(
    "body",
    [
        lambda ctx: ctx.schedule_timer(0),
        lambda ctx: ctx.schedule_timer(Millis.FIVE),
        lambda ctx: ctx.schedule_timer(2**64 - 1),
        lambda ctx: ctx.schedule_sub_orchestration_versioned("C", None),
        lambda ctx: ctx.schedule_activity("A", 1, session_id=None).with_tag(None),
        lambda ctx: ctx.continue_as_new_versioned(1, None),
    ],
)
def test_arguments_duroxide_accepts_are_accepted(body: Any) -> None:
    def orchestration(ctx: Any, x: Any) -> Any:
        yield body(ctx)

    out = first_turn(orchestration)
    assert out.status != "Failed", out.output


def test_a_fire_time_past_u64_saturates_as_in_duroxide() -> None:
    def orchestration(ctx: Any, x: Any) -> Any:
        yield ctx.schedule_timer(2**64 - 1)

    out = first_turn(orchestration)
    assert out.delta[1].fire_at_ms == 2**64 - 1  # type: ignore[union-attr]
    assert [i.fire_at_ms for i in out.orchestrator_items] == [2**64 - 1]  # type: ignore[union-attr]


class Name(str):
    """A str subclass whose comparison the engine must not call."""

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        raise AssertionError("the engine compared a user's str subclass")


def test_fields_are_stored_as_plain_strings() -> None:
    def orchestration(ctx: Any, x: Any) -> Any:
        return (yield ctx.schedule_activity(Name("A"), x))

    out = first_turn(orchestration)
    scheduled = out.delta[1]
    assert type(scheduled.name) is str and scheduled.name == "A"  # type: ignore[union-attr]
    assert [type(w.name) for w in out.worker_items] == [str]
    replayed = process_turn(turn((completed(),), (started(), scheduled_a())), code(orchestration))
    assert replayed.status == "Completed"


def nested(ctx: Any, depth: int) -> Any:
    task = ctx.schedule_timer(5)
    for _ in range(depth):
        task = ctx.all([task])
    return task


def test_all_and_race_nest_100_deep_and_no_deeper() -> None:
    def orchestration(ctx: Any, depth: int) -> Any:
        yield nested(ctx, depth)

    item = start_item().model_copy(update={"input": "100"})
    ok = process_turn(turn((item,)), code(orchestration))
    assert [e.type for e in ok.delta] == ["OrchestrationStarted", "TimerCreated"]
    for depth in (101, 100_000):  # never a RecursionError out of the turn
        item = start_item().model_copy(update={"input": str(depth)})
        out = process_turn(turn((item,)), code(orchestration))
        assert_failed_at_once(
            out, f"{INVALID}recursion limit exceeded: all/race nested more than 100 deep"
        )
