"""Bugs in orchestration code fail the orchestration; nothing the code does escapes the turn.

duroxide 0.2.2 (checked with the wheel) fails the orchestration when its code raises
anything, yields what is not a task or a task built from arguments of the wrong type,
and never retries the turn.  An exception out of ``process_turn`` instead makes the
runtime abandon the batch until it is poisoned, and ``durascope replay`` exit 3.
"""

from __future__ import annotations

import contextlib
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
@pytest.mark.parametrize(("step", "expected"), [(lambda ctx: 5, NOT_A_TASK)])
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
