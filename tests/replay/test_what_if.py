"""What-if: the recorded scenario's code under both policies, and what the diff says.

The collision scenario involves two trees (``-mon`` holds the child id ``-tue``
collides with), so both are simulated; the diff names the notification behind
each difference (a discarded or refused start, a filtered or misrouted
completion) and what a hanging parent waits on.  The recorded policy comes
from the one inference re-execution uses too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from durascope.cli import main
from durascope.replay import Model, load_user_code, open_model, reexecute, what_if
from durascope.replay._reexecute import recorded_policy
from durascope.runtime import Registry

FIXTURE_STORE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios.db"

SCENARIO_CODE = """
from durascope.scenarios import SCENARIOS


def register(runtime):
    for scenario in SCENARIOS:
        scenario.register(runtime)
"""

CAN_CHILDREN_CODE = """
import duroxide as dx

rt = dx.Runtime(dx.SqliteProvider.open("x.db"))
rt.register_activity("Inc", lambda ctx, x: x + 1)


@rt.register_orchestration("Child")
def child(ctx, x):
    return (yield ctx.schedule_activity("Inc", x))


@rt.register_orchestration("CanParent")
def parent(ctx, n):
    r = yield ctx.schedule_sub_orchestration("Child", n)
    if n < 3:
        return (yield ctx.continue_as_new(n + 1))
    return r
"""


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("code")
    (directory / "scenarios.py").write_text(SCENARIO_CODE)
    (directory / "can.py").write_text(textwrap.dedent(CAN_CHILDREN_CODE))
    return directory


@pytest.fixture(scope="module")
def scenario_code(code_dir: Path) -> Registry:
    return load_user_code(code_dir / "scenarios.py")


@pytest.fixture
def fixture_model() -> Iterator[Model]:
    model = open_model(FIXTURE_STORE)
    yield model
    model.close()


@pytest.fixture(scope="module")
def can_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("duroxide", reason="the real duroxide package writes these stores")
    from tests.replay.duroxide_stores import generate

    return generate(tmp_path_factory.mktemp("duroxide"), ["can_children"])


def test_a_collision_simulates_the_tree_holding_the_id(
    fixture_model: Model, scenario_code: Registry
) -> None:
    report = what_if(fixture_model, "legacy-collision-report-tue", scenario_code)
    assert set(report.roots) == {"legacy-collision-report-tue", "legacy-collision-report-mon"}
    tue = report.outcomes["legacy-collision-report-tue"]
    legacy, fixed = tue["legacy"], tue["fixed"]
    # Under legacy the start is discarded and the parent hangs on a child it never gets.
    assert legacy.status == "Running" and not legacy.failed_fast
    assert legacy.waiting_on == (
        "execution 1 waits on child legacy-collision-report-builder (schedule 2), which "
        "belongs to legacy-collision-report-mon#1; this start was discarded",
    )
    # Under the fix the start is refused and the parent is told at once.
    assert fixed.failed_fast and fixed.status == "Completed"
    assert fixed.output is not None and "already exists and is terminal" in fixed.output
    assert any("was refused" in n and "failed fast" in n for n in fixed.notifications)
    assert any("was discarded" in n and "never told" in n for n in legacy.notifications)
    lines = report.differences()
    main_line = next(line for line in lines if line.startswith("legacy-collision-report-tue:"))
    assert "legacy hangs: execution 1 waits on child legacy-collision-report-builder" in main_line
    assert "fixed fails fast" in main_line
    # The tree holding the id behaves the same under both policies.
    mon = report.outcomes["legacy-collision-report-mon"]
    assert mon["legacy"].signature() == mon["fixed"].signature()
    assert not any(line.startswith("legacy-collision-report-mon") for line in lines)


def test_the_same_from_the_holding_side(fixture_model: Model, scenario_code: Registry) -> None:
    report = what_if(fixture_model, "fixed-collision-report-mon", scenario_code)
    assert set(report.roots) == {"fixed-collision-report-mon", "fixed-collision-report-tue"}
    tue = report.outcomes["fixed-collision-report-tue"]
    assert (tue["legacy"].status, tue["fixed"].failed_fast) == ("Running", True)


def test_a_filtered_and_a_misrouted_completion_are_named(
    fixture_model: Model, scenario_code: Registry
) -> None:
    report = what_if(fixture_model, "legacy-supervisor", scenario_code)
    parent = report.outcomes["legacy-supervisor"]
    assert parent["legacy"].misrouted and parent["fixed"].filtered == 1
    assert parent["legacy"].notifications == (
        "child legacy-supervisor::sub::2's completion was addressed to legacy-supervisor "
        "execution 2, which has no child schedule 2: the execution failed (nondeterminism: "
        "no matching schedule for sub-orchestration id=2)",
    )
    assert parent["fixed"].notifications == (
        "child legacy-supervisor::sub::2's completion, addressed to legacy-supervisor "
        "execution 1, was filtered: execution 2 was current, so it was dropped",
    )
    lines = report.differences()
    assert lines[0].startswith("legacy-supervisor: legacy fails on a misrouted completion")
    assert any(
        line.startswith("  under legacy: child legacy-supervisor::sub::2's") for line in lines
    )
    assert any(
        line.startswith("  under fixed: child legacy-supervisor::sub::2's") for line in lines
    )


def test_a_reused_auto_id_names_the_execution_that_holds_it(
    fixture_model: Model, scenario_code: Registry
) -> None:
    report = what_if(fixture_model, "legacy-loop", scenario_code)
    loop = report.outcomes["legacy-loop"]
    assert loop["legacy"].waiting_on == (
        "execution 2 waits on child legacy-loop::sub::2 (schedule 2), which belongs to "
        "legacy-loop#1; this start was discarded",
    )
    assert loop["fixed"].status == "Completed" and loop["fixed"].waiting_on == ()
    assert "legacy-loop::sub::2_2: never started under the legacy policy" in report.differences()


def test_healthy_trees_give_the_same_outcome(fixture_model: Model, scenario_code: Registry) -> None:
    for instance in ("fanout-checkout", "cancel-pipeline", "orphan-after-orphan"):
        assert what_if(fixture_model, instance, scenario_code).differences() == [], instance


def test_the_policy_comes_from_the_journal_when_captured(
    fixture_model: Model, scenario_code: Registry
) -> None:
    for instance, expected in (("legacy-loop", "legacy"), ("healthy-loop", "fixed")):
        report = what_if(fixture_model, instance, scenario_code)
        assert report.policy is not None
        assert (report.recorded_policy, report.policy.evidence) == (expected, "captured")
        assert report.policy.phrase() == f"{expected} policy (from the turn journal)"


def test_one_policy_inference_for_what_if_and_reexecution(
    can_stores: dict[str, Path], code_dir: Path
) -> None:
    """A pre-fix duroxide store is legacy for both; a fixed one is fixed; both say inferred."""
    code = load_user_code(code_dir / "can.py")
    for name, expected in (("pre_fix_shape", "legacy"), ("can_children", "fixed")):
        model = open_model(can_stores[name])
        try:
            report = what_if(model, "can-job", code)
            replayed = reexecute(model, "can-job", code)
            assert report.policy is not None and replayed.policy is not None
            assert report.recorded_policy == replayed.policy.policy == expected
            assert report.policy.evidence == "inferred"
            assert report.policy.phrase().startswith(f"{expected} policy (inferred: ")
            # What each policy does is the same whatever the store recorded.
            loop = report.outcomes["can-job"]
            assert loop["legacy"].status == "Running" and loop["fixed"].status == "Completed"
        finally:
            model.close()


def test_no_child_and_no_journal_means_assumed(can_stores: dict[str, Path]) -> None:
    model = open_model(can_stores["can_children"])
    try:
        child = model.instance("can-job::sub::2")
        # The child alone: its start names a parent execution, so it is inferred fixed.
        assert recorded_policy(model, [child.instance_id]).evidence == "inferred"
        assert recorded_policy(model, []).evidence == "assumed"
        assert recorded_policy(model, []).policy == "fixed"
    finally:
        model.close()


def test_the_cli_says_how_the_policy_is_known(
    can_stores: dict[str, Path], code_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "replay",
            str(can_stores["pre_fix_shape"]),
            "--instance",
            "can-job",
            "--module",
            str(code_dir / "can.py"),
            "--what-if",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "what-if: recorded under the legacy policy (inferred: can-job execution 2 " in out
    assert "  can-job: legacy hangs: execution 2 waits on child can-job::sub::2" in out
    assert "recorded under the fixed policy" not in out


def test_the_cli_what_if_of_the_collision(
    code_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "replay",
            str(FIXTURE_STORE),
            "--instance",
            "legacy-collision-report-tue",
            "--module",
            str(code_dir / "scenarios.py"),
            "--what-if",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "both policies give the same outcome" not in out
    assert "legacy-collision-report-tue: legacy hangs" in out
    assert "fixed fails fast" in out
    assert (
        "simulated under both policies: legacy-collision-report-tue, legacy-collision-report-mon"
        in out
    )


def test_a_misroute_that_resolves_another_childs_schedule(
    fixture_model: Model, scenario_code: Registry
) -> None:
    report = what_if(fixture_model, "legacy-relay", scenario_code)
    relay = report.outcomes["legacy-relay"]
    legacy, fixed = relay["legacy"], relay["fixed"]
    assert legacy.misrouted and legacy.status == "Completed"
    assert legacy.notifications[0] == (
        "child legacy-relay::sub::2's completion was applied to legacy-relay execution 2's "
        "schedule 2, which is child legacy-relay-second"
    )
    assert "child legacy-relay-second's completion was dropped" in legacy.notifications[1]
    assert fixed.filtered == 1 and not fixed.misrouted
    line = next(x for x in report.differences() if x.startswith("legacy-relay:"))
    assert "legacy completes with another child's result (a misrouted completion)" in line


def test_a_dropped_completion_names_the_execution_it_went_to(
    fixture_model: Model, scenario_code: Registry
) -> None:
    report = what_if(fixture_model, "legacy-shipper", scenario_code)
    legacy = report.outcomes["legacy-shipper"]["legacy"]
    assert legacy.waiting_on == (
        "execution 2 waits on child legacy-shipper::sub::2 (schedule 2), which ended "
        "completed, but its notification never arrived",
    )
    assert legacy.notifications == (
        "child legacy-shipper::sub::2's completion, addressed to legacy-shipper execution 1, "
        "was filtered: execution 2 was current, so it was dropped",
    )
    assert report.outcomes["legacy-shipper"]["fixed"].status == "Completed"


async def test_what_if_works_inside_a_running_event_loop(
    fixture_model: Model, scenario_code: Registry
) -> None:
    """As in a notebook, whose event loop is already running."""
    report = what_if(fixture_model, "legacy-loop", scenario_code)
    assert report.outcomes["legacy-loop"]["legacy"].status == "Running"
    assert report.outcomes["legacy-loop"]["fixed"].status == "Completed"


def test_what_if_refuses_code_that_lacks_a_child_of_the_tree(
    can_stores: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The parent re-executes (it is registered); its children would fail alike under
    # both policies and the diff would wrongly say upgrading changes nothing.
    without_child = CAN_CHILDREN_CODE.replace('@rt.register_orchestration("Child")\n', "")
    (tmp_path / "parent_only.py").write_text(textwrap.dedent(without_child))
    args = ["replay", str(can_stores["pre_fix_shape"]), "--instance", "can-job"]
    args += ["--module", str(tmp_path / "parent_only.py")]
    assert main(args) == 0  # re-execution alone needs only the parent's code
    capsys.readouterr()
    assert main([*args, "--what-if"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("durascope: error: can-job::sub::")
    assert "runs orchestration 'Child', which " in captured.err
    assert "parent_only.py does not register (its orchestrations: CanParent)" in captured.err
    assert captured.err.count("\n") == 1
