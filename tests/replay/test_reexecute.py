"""Re-execution of user code against recorded histories (``reexecute``, ``side_by_side``).

Both kinds of module (durascope-style ``register(runtime)`` and duroxide-python
style registrations) on both kinds of store (a durascope store with its journal
and a real duroxide store written by the ``duroxide`` package): the code that
made the history re-executes without divergence; a changed module diverges, and
the finding names the turn, the history event and what the code emits instead.

None of these histories has a race(wait_for_event, timer) followed by
continue-as-new, the one known engine difference (duroxide writes an
``ExternalSubscribedCancelled`` there, durascope does not), so these tests do not
touch it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from durascope.replay import (
    Model,
    load_user_code,
    open_model,
    reexecute,
    side_by_side,
)
from durascope.replay._reexecute import recorded_policy

FIXTURE_STORE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios.db"

DURASCOPE_STYLE = """
from durascope.scenarios import SCENARIOS


def register(runtime):
    for scenario in SCENARIOS:
        scenario.register(runtime)
"""
"""Every built-in scenario's code, durascope-style."""

BATCH_LOOP_DUROXIDE_STYLE = """
import duroxide as dx

provider = dx.SqliteProvider.open("app.db")
rt = dx.Runtime(provider, dx.RuntimeOptions())


@rt.register_activity("Charge")
def charge(ctx, order):
    return {"order": order, "charged": True}


@rt.register_orchestration("ProcessBatch")
def process_batch(ctx, batch):
    receipt = yield ctx.schedule_activity("Charge", batch)
    return receipt


@rt.register_orchestration("BatchLoop")
def batch_loop(ctx, n):
    result = yield ctx.schedule_sub_orchestration("ProcessBatch", n)
    if n < 3:
        return (yield ctx.continue_as_new(n + 1))
    return result


rt.start()
"""
"""The healthy-loop scenario's code written against duroxide-python's API."""

HEALTHY_DUROXIDE = """
import duroxide as dx

provider = dx.SqliteProvider.open("x.db")
rt = dx.Runtime(provider, dx.RuntimeOptions(dispatcher_poll_interval_ms=10))


@rt.register_activity("Inc")
def inc(ctx, x):
    return x + 1


@rt.register_orchestration("Child")
def child(ctx, x):
    return (yield ctx.schedule_activity("Inc", x))


@rt.register_orchestration("Healthy")
def parent(ctx, x):
    ctx.set_custom_status("working")
    a = yield ctx.schedule_activity("Inc", x)
    yield ctx.schedule_timer(20)
    b = yield ctx.schedule_sub_orchestration("Child", a)
    ctx.set_custom_status("waiting-for-go")
    go = yield ctx.wait_for_event("go")
    ctx.set_custom_status("done")
    return {"a": a, "b": b, "go": go}


rt.start()
client = dx.Client(provider)
client.start_orchestration("healthy", "Healthy", 1)
print(client.wait_for_orchestration("healthy").output)
"""
"""``tests.replay.duroxide_stores.healthy``'s code, as a duroxide-python script."""

CAN_CHILDREN_DURASCOPE_STYLE = """
def register(runtime):
    runtime.register_activity("Inc", lambda ctx, x: x + 1)

    @runtime.register_orchestration("Child")
    def child(ctx, x):
        return (yield ctx.schedule_activity("Inc", x))

    @runtime.register_orchestration("CanParent")
    def parent(ctx, n):
        r = yield ctx.schedule_sub_orchestration("Child", n)
        if n < 3:
            return (yield ctx.continue_as_new(n + 1))
        return r
"""
"""``tests.replay.duroxide_stores.can_children``'s code, durascope-style."""

FLOW_V1 = """
import duroxide as dx

rt = dx.Runtime(dx.SqliteProvider.open("x.db"))
rt.register_activity("Inc", lambda ctx, x: x + 1)


@rt.register_orchestration("Flow")
def flow(ctx, x):
    a = yield ctx.schedule_activity("Inc", x)
    ctx.set_custom_status("subscribed")
    go = yield ctx.wait_for_event("go")
    return [a, go]
"""
"""The first version of the duroxide ``nondeterminism`` scenario's code."""


def module(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def duroxide_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("duroxide", reason="the real duroxide package writes these stores")
    from tests.replay.duroxide_stores import generate

    return generate(
        tmp_path_factory.mktemp("duroxide"),
        ["healthy", "can_children", "cancelled_tree", "nondeterminism"],
    )


@pytest.fixture
def fixture_model() -> Iterator[Model]:
    model = open_model(FIXTURE_STORE)
    yield model
    model.close()


@contextmanager
def opened(path: Path) -> Iterator[Model]:
    model = open_model(path)
    try:
        yield model
    finally:
        model.close()


# ─── the code that made the history: no divergence ──────────────────


def test_every_scenario_replays_with_its_own_code(tmp_path: Path, fixture_model: Model) -> None:
    code = load_user_code(module(tmp_path, "scenarios.py", DURASCOPE_STYLE))
    results = {i: reexecute(fixture_model, i, code) for i in fixture_model.instances}
    diverged = {i for i, r in results.items() if r.divergence is not None}
    # deploy-approval's history was written by two versions of its code (the deployment).
    assert diverged == {"deploy-approval"}
    assert all(r.evidence == "captured" for r in results.values())
    assert results["healthy-loop"].turns_checked == 6


def test_a_duroxide_style_module_replays_a_durascope_store(
    tmp_path: Path, fixture_model: Model
) -> None:
    code = load_user_code(module(tmp_path, "loop.py", BATCH_LOOP_DUROXIDE_STYLE))
    for instance in ("healthy-loop", "healthy-loop::sub::2", "healthy-loop::sub::3_2"):
        result = reexecute(fixture_model, instance, code)
        assert result.divergence is None, (instance, result.divergence)
        assert result.turns_checked >= 2


def test_a_duroxide_style_module_replays_a_duroxide_store(
    tmp_path: Path, duroxide_stores: dict[str, Path]
) -> None:
    code = load_user_code(module(tmp_path, "healthy.py", HEALTHY_DUROXIDE))
    with opened(duroxide_stores["healthy"]) as model:
        result = reexecute(model, "healthy", code)
        assert result.divergence is None, result.divergence
        assert result.evidence == "inferred"
        assert result.turns_checked == 5
        child = next(i for i in model.instances if i != "healthy")
        assert reexecute(model, child, code).divergence is None


def test_a_durascope_style_module_replays_a_duroxide_store(
    tmp_path: Path, duroxide_stores: dict[str, Path]
) -> None:
    code = load_user_code(module(tmp_path, "can.py", CAN_CHILDREN_DURASCOPE_STYLE))
    with opened(duroxide_stores["can_children"]) as model:
        for instance in model.instances:
            result = reexecute(model, instance, code)
            assert result.divergence is None, (instance, result.divergence)
        assert reexecute(model, "can-job", code).turns_checked == 8


def test_a_cancelled_duroxide_tree_replays(
    tmp_path: Path, duroxide_stores: dict[str, Path]
) -> None:
    code = load_user_code(
        module(
            tmp_path,
            "tree.py",
            """
            import duroxide as dx
            rt = dx.Runtime(dx.SqliteProvider.open("x.db"))

            @rt.register_orchestration("TreeChild")
            def child(ctx, x):
                ctx.set_custom_status("subscribed")
                return (yield ctx.wait_for_event("never"))

            @rt.register_orchestration("TreeParent")
            def parent(ctx, x):
                return (yield ctx.schedule_sub_orchestration("TreeChild", x))
            """,
        )
    )
    with opened(duroxide_stores["cancelled_tree"]) as model:
        for instance in ("tree", "tree::sub::2"):
            assert reexecute(model, instance, code).divergence is None, instance


# ─── changed code: a divergence, named ──────────────────────────────


def test_a_renamed_child_diverges_in_the_first_turn(tmp_path: Path, fixture_model: Model) -> None:
    changed = BATCH_LOOP_DUROXIDE_STYLE.replace(
        'schedule_sub_orchestration("ProcessBatch", n)', 'schedule_sub_orchestration("Batch", n)'
    ).replace('register_orchestration("ProcessBatch")', 'register_orchestration("Batch")')
    code = load_user_code(module(tmp_path, "renamed.py", changed))
    result = reexecute(fixture_model, "healthy-loop", code)
    d = result.divergence
    assert d is not None
    assert (d.turn.number, d.execution_id, d.position) == (1, 1, 1)
    assert d.recorded_event is not None and d.recorded_event.type == "SubOrchestrationScheduled"
    assert d.produced_event is not None and d.produced_event.name == "Batch"  # type: ignore[union-attr]
    finding = d.finding(result.evidence, "renamed.py")
    assert (finding.kind, finding.severity, finding.instance, finding.execution) == (
        "nondeterminism",
        "error",
        "healthy-loop",
        1,
    )
    assert (finding.event_id, finding.turn, finding.evidence) == (2, 1, "captured")
    assert "turn 1 (execution 1)" in finding.message
    assert "history has event 2 SubOrchestrationScheduled ProcessBatch" in finding.message
    assert "the code emits event 2 SubOrchestrationScheduled Batch" in finding.message
    table = side_by_side(d).splitlines()
    assert table[0] == "turn 1 of healthy-loop, execution 1 (captured)"
    marked = [row for row in table if row.startswith(">>")]
    assert len(marked) == 1
    left, right = marked[0].split(" | ")
    assert "SubOrchestrationScheduled ProcessBatch" in left
    assert "SubOrchestrationScheduled Batch" in right


def test_an_extra_schedule_diverges_where_it_is_emitted(
    tmp_path: Path, duroxide_stores: dict[str, Path]
) -> None:
    changed = HEALTHY_DUROXIDE.replace(
        '    ctx.set_custom_status("waiting-for-go")\n',
        '    yield ctx.schedule_activity("Inc", 100)\n'
        '    ctx.set_custom_status("waiting-for-go")\n',
    )
    assert changed != HEALTHY_DUROXIDE
    code = load_user_code(module(tmp_path, "extra.py", changed))
    with opened(duroxide_stores["healthy"]) as model:
        result = reexecute(model, "healthy", code)
        d = result.divergence
        assert d is not None
        assert d.turn.evidence == "inferred" and d.turn.number == 4
        assert d.recorded_event is not None and d.recorded_event.type == "CustomStatusUpdated"
        assert d.produced_event is not None and d.produced_event.type == "ActivityScheduled"
        finding = d.finding(result.evidence, "extra.py")
        assert finding.evidence == "inferred"
        assert finding.event_id == d.recorded_event.event_id
        assert "turn 4 (execution 1)" in finding.message
        assert "CustomStatusUpdated status=waiting-for-go" in finding.message
        assert "ActivityScheduled Inc input=100" in finding.message


def test_a_renamed_activity_in_a_duroxide_history(
    tmp_path: Path, duroxide_stores: dict[str, Path]
) -> None:
    changed = HEALTHY_DUROXIDE.replace('schedule_activity("Inc", x)', 'schedule_activity("Add", x)')
    code = load_user_code(
        module(tmp_path, "renamed.py", changed + "\nrt.register_activity('Add', inc)\n")
    )
    with opened(duroxide_stores["healthy"]) as model:
        d = reexecute(model, "healthy", code).divergence
        assert d is not None
        assert d.turn.number == 1
        assert d.describe(d.recorded_event).startswith("event 3 ActivityScheduled Inc")
        assert d.describe(d.produced_event).startswith("event 3 ActivityScheduled Add")


def test_code_that_now_raises_is_one_line_not_a_traceback(
    tmp_path: Path, duroxide_stores: dict[str, Path]
) -> None:
    changed = HEALTHY_DUROXIDE.replace(
        '    ctx.set_custom_status("done")\n',
        '    ctx.set_custom_status("done")\n    missing_helper()\n',
    )
    code = load_user_code(module(tmp_path, "raises.py", changed))
    with opened(duroxide_stores["healthy"]) as model:
        d = reexecute(model, "healthy", code).divergence
        assert d is not None
        message = d.finding("inferred", "raises.py").message
        assert "the code fails instead: NameError: name 'missing_helper' is not defined" in message
        assert "Traceback" not in message and "\n" not in message


def test_the_new_version_of_a_deployed_flow_diverges_at_the_first_turn(
    tmp_path: Path, duroxide_stores: dict[str, Path]
) -> None:
    """duroxide's own nondeterminism scenario: v1 wrote the history, v2 failed on it."""
    v2 = FLOW_V1.replace(
        """    a = yield ctx.schedule_activity("Inc", x)
    ctx.set_custom_status("subscribed")
""",
        """    yield ctx.schedule_timer(10)
""",
    ).replace("return [a, go]", "return [x, go]")
    with opened(duroxide_stores["nondeterminism"]) as model:
        d1 = reexecute(model, "flow", load_user_code(module(tmp_path, "v1.py", FLOW_V1))).divergence
        # v1 matches until the turn where v2 recorded its failure.
        assert d1 is not None and d1.recorded_event is not None
        assert d1.recorded_event.type == "OrchestrationFailed"
        assert "the recorded failure is itself a nondeterminism error" in d1.summary()
        d2 = reexecute(model, "flow", load_user_code(module(tmp_path, "v2.py", v2))).divergence
        assert d2 is not None and d2.turn.number == 1
        assert d2.recorded_event is not None and d2.recorded_event.type == "ActivityScheduled"
        assert d2.produced_event is not None and d2.produced_event.type == "TimerCreated"


def test_a_mismatch_found_by_the_engine_names_the_emitted_action(
    tmp_path: Path, fixture_model: Model
) -> None:
    """Code whose choice changes between runs: the engine's own ``schedule mismatch``."""
    flaky = module(
        tmp_path,
        "flaky.py",
        """
        from durascope.scenarios import scenario

        RUNS = []


        def register(runtime):
            scenario("healthy-loop").register(runtime)

            @runtime.register_orchestration("BatchLoop")
            def batch_loop(ctx, n):
                RUNS.append(n)
                name = "ProcessBatch" if len(RUNS) == 1 else "Other"
                result = yield ctx.schedule_sub_orchestration(name, n)
                if n < 3:
                    return (yield ctx.continue_as_new(n + 1))
                return result
        """,
    )
    result = reexecute(fixture_model, "healthy-loop", load_user_code(flaky))
    d = result.divergence
    assert d is not None and d.turn.number == 2
    assert d.emitted_action is not None and "Other" in d.emitted_action
    message = d.finding(result.evidence, "flaky.py").message
    assert "the code emits" in message and "Other" in message and "schedule mismatch" in message
    assert "emitted action: " in side_by_side(d)


# ─── the policy the turns re-run under ──────────────────────────────


def test_reexecution_uses_the_recorded_policy(
    fixture_model: Model, duroxide_stores: dict[str, Path], tmp_path: Path
) -> None:
    code = load_user_code(module(tmp_path, "scenarios.py", DURASCOPE_STYLE))
    legacy = reexecute(fixture_model, "legacy-loop", code).policy
    assert legacy is not None and (legacy.policy, legacy.evidence) == ("legacy", "captured")
    can = load_user_code(module(tmp_path, "can.py", CAN_CHILDREN_DURASCOPE_STYLE))
    for name, expected in (("can_children", "fixed"), ("pre_fix_shape", "legacy")):
        with opened(duroxide_stores[name]) as model:
            policy = reexecute(model, "can-job", can).policy
            assert policy == recorded_policy(model, model.instances)
            assert policy is not None and (policy.policy, policy.evidence) == (expected, "inferred")
