"""``durascope replay``: exit codes, one-line errors, and redacted bundles refused."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from durascope.cli import main
from durascope.replay import (
    SourceError,
    UnregisteredOrchestration,
    load_user_code,
    open_model,
    reexecute,
    what_if,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
REDACTED = FIXTURES / "scenarios.redacted.bundle.json.gz"
BUNDLE = FIXTURES / "scenarios.bundle.json.gz"
OPENED_BUNDLE = (
    f"durascope: opened bundle {BUNDLE} (exported from a durascope store, 33 instances)\n"
)

SCENARIO_CODE = """
from pathlib import Path

from durascope.scenarios import SCENARIOS

Path(__file__).with_name("IMPORTED").write_text("the module ran")


def register(runtime):
    for scenario in SCENARIOS:
        scenario.register(runtime)
"""


@pytest.fixture
def scenario_module(tmp_path: Path) -> Path:
    path = tmp_path / "scenarios.py"
    path.write_text(SCENARIO_CODE)
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def replay_checkout(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, int, str, str]:
    """``replay`` of the bundle's fanout-checkout with a module holding ``source``."""
    module = tmp_path / "mine.py"
    module.write_text(source)
    argv = ["replay", str(BUNDLE), "--instance", "fanout-checkout", "--module", str(module)]
    return (module, *run(argv, capsys))


def test_a_redacted_bundle_is_refused_before_any_code_runs(
    scenario_module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra in ([], ["--what-if"]):
        argv = ["replay", str(REDACTED), "--instance", "healthy-loop", "--module"]
        code, out, err = run([*argv, str(scenario_module), *extra], capsys)
        assert code == 2
        assert out == ""
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith("durascope: error: ") and "is a redacted bundle" in err
        assert "nondeterminism" not in err
    assert not scenario_module.with_name("IMPORTED").exists()


def test_the_library_refuses_a_redacted_bundle_too(scenario_module: Path) -> None:
    code = load_user_code(scenario_module)
    model = open_model(REDACTED)
    try:
        assert model.origin.redacted
        with pytest.raises(SourceError, match="redacted bundle"):
            reexecute(model, "legacy-loop", code)
        with pytest.raises(SourceError, match="redacted bundle"):
            what_if(model, "legacy-loop", code)
    finally:
        model.close()


def test_the_same_bundle_unredacted_replays(
    scenario_module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", str(BUNDLE), "--instance", "healthy-loop", "--module", str(scenario_module)]
    code, out, err = run(argv, capsys)
    assert (code, err) == (0, OPENED_BUNDLE)
    assert out == (
        f"healthy-loop: 6 turns re-executed with {scenario_module}: no divergence\n"
        "re-executed under the fixed policy (from the turn journal)\n"
    )


def test_a_divergence_exits_1_and_prints_the_finding_and_the_table(
    scenario_module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", str(BUNDLE), "--instance", "deploy-approval", "--module"]
    code, out, err = run([*argv, str(scenario_module)], capsys)
    assert (code, err) == (1, OPENED_BUNDLE)
    lines = out.splitlines()
    assert lines[0].startswith(
        "ERROR   nondeterminism           deploy-approval#1 event 5 (turn 2)"
    )
    assert "turn 2 of deploy-approval, execution 1 (captured)" in lines
    assert sum(line.startswith(">>") for line in lines) == 1
    assert lines[-1] == "re-executed under the fixed policy (from the turn journal)"


GREETER_ONLY = """
def greet(ctx, name):
    return (yield ctx.schedule_activity("Greet", name))


def register(runtime):
    runtime.register_orchestration("Greeter", greet)
"""

CHECKOUT_V2_ONLY = """
def checkout(ctx, items):
    return (yield ctx.schedule_activity("Charge", items))


def register(runtime):
    runtime.register_orchestration_versioned("Checkout", "2.0.0", checkout)
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            GREETER_ONLY,
            "fanout-checkout runs orchestration 'Checkout', which {module} does not register "
            "(its orchestrations: Greeter)",
        ),
        (
            CHECKOUT_V2_ONLY,
            "fanout-checkout runs version 1.0.0 of orchestration 'Checkout', which {module} "
            "does not register (its versions: 2.0.0)",
        ),
    ],
)
def test_a_module_without_the_orchestration_is_a_usage_error_not_a_divergence(
    source: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module, code, out, err = replay_checkout(source, tmp_path, capsys)
    assert (code, out) == (2, "")
    assert err == f"durascope: error: {expected.format(module=module)}\n"


def test_the_library_raises_unregistered_orchestration(tmp_path: Path) -> None:
    module = tmp_path / "mine.py"
    module.write_text(GREETER_ONLY)
    code = load_user_code(module)
    model = open_model(BUNDLE)
    try:
        with pytest.raises(UnregisteredOrchestration) as raised:
            reexecute(model, "legacy-loop", code)  # three executions: the first is named
    finally:
        model.close()
    exc = raised.value
    assert isinstance(exc, SourceError)
    assert (exc.instance_id, exc.execution_id, exc.name, exc.version) == (
        "legacy-loop",
        1,
        "BatchLoop",
        None,
    )
    assert str(exc) == (
        "legacy-loop execution 1 runs orchestration 'BatchLoop', which the code does not "
        "register (its orchestrations: Greeter)"
    )


YIELDS_A_NUMBER = """
def checkout(ctx, items):
    yield 42


def register(runtime):
    runtime.register_orchestration("Checkout", checkout)
"""


def test_code_that_yields_a_non_task_fails_like_the_runtime_and_diverges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """duroxide and durascope's runtime fail such an orchestration: so does its re-run."""
    _, code, out, err = replay_checkout(YIELDS_A_NUMBER, tmp_path, capsys)
    assert (code, err) == (1, OPENED_BUNDLE)
    lines = out.splitlines()
    assert lines[0] == "ERROR   nondeterminism           fanout-checkout#1 event 2 (turn 1)"
    assert "history has event 2 SubOrchestrationScheduled ReserveItem" in lines[1]
    assert lines[1].endswith(
        "the code fails instead: an orchestration yielded int, which is not a task "
        "(yield what ctx.schedule_*/wait_for_event/all/race return)"
    )
    [marked] = [line for line in lines if line.startswith(">>")]
    assert "| 2 OrchestrationFailed: an orchestration yielded int" in marked


CHECKOUT_WITH_A_BUG = """
class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no str")


def checkout(ctx, items):
{body}


def register(runtime):
    runtime.register_orchestration("Checkout", checkout)
"""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    ("body", "failure"),
    [
        ("    raise Unprintable()\n    yield", "Unprintable: <exception str() failed>"),
        (
            "    try:\n        yield 5\n    finally:\n        yield ctx.schedule_timer(1)",
            "an orchestration yielded int, which is not a task",
        ),
        (
            "    try:\n        yield 5\n    finally:\n        raise ValueError('in finally')",
            "an orchestration yielded int, which is not a task",
        ),
        (
            "    while True:\n        try:\n            yield 5\n"
            "        except GeneratorExit:\n            pass",
            "an orchestration yielded int, which is not a task",
        ),
        (
            "    yield ctx.schedule_activity(123, items)",
            "Invalid generator step result: invalid type: integer `123`, expected a string",
        ),
        (
            "    yield ctx.schedule_sub_orchestration(None, items)",
            "Invalid generator step result: invalid type: null, expected a string",
        ),
        (
            "    yield ctx.wait_for_event(42)",
            "Invalid generator step result: invalid type: integer `42`, expected a string",
        ),
        (
            '    yield ctx.schedule_timer("5")',
            'Invalid generator step result: invalid type: string "5", expected u64',
        ),
    ],
)
def test_code_with_a_bug_is_a_divergence_never_an_internal_error(
    body: str, failure: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """These raised out of the turn: replay ended in "internal error" (exit 3)."""
    _, code, out, err = replay_checkout(CHECKOUT_WITH_A_BUG.format(body=body), tmp_path, capsys)
    assert (code, err) == (1, OPENED_BUNDLE)
    lines = out.splitlines()
    assert lines[0] == "ERROR   nondeterminism           fanout-checkout#1 event 2 (turn 1)"
    assert "history has event 2 SubOrchestrationScheduled ReserveItem" in lines[1]
    assert "the code fails instead: " in lines[1] and failure in lines[1]
    gc.collect()  # Python reports the generator that will not close here, not in a later test


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('raise RuntimeError("at import")\n', "importing it raised RuntimeError: at import"),
        ("import no_such_module_here\n", "ModuleNotFoundError: No module named"),
        ("def broken(:\n", "importing it raised SyntaxError: invalid syntax"),
        ("import sys\nsys.exit(3)\n", "importing it raised SystemExit: 3"),
        (
            "class E(Exception):\n    def __str__(self):\n        raise ValueError\nraise E()\n",
            "importing it raised E",
        ),
        (
            "def register(runtime):\n    raise LookupError('in register')\n",
            "importing it raised LookupError: in register",
        ),
    ],
)
def test_a_module_that_raises_while_loading_is_one_line_and_exit_2(
    source: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module, code, out, err = replay_checkout(source, tmp_path, capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"durascope: error: {module}: ") and err.count("\n") == 1
    assert expected in err


@pytest.mark.parametrize(
    ("argv_tail", "expected"),
    [
        (["--instance", "nobody"], "no instance 'nobody'"),
        (["--instance", "healthy-loop", "--module", "/nonexistent/code.py"], "no such module file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv_tail: list[str], expected: str, scenario_module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", str(BUNDLE), *argv_tail]
    if "--module" not in argv:
        argv += ["--module", str(scenario_module)]
    code, out, err = run(argv, capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and expected in err


def test_a_directory_as_module_says_it_is_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["replay", str(BUNDLE), "--instance", "healthy-loop", "--module", str(tmp_path)]
    code, out, err = run(argv, capsys)
    assert (code, out) == (2, "")
    assert (
        err
        == f"durascope: error: {tmp_path}: is a directory, not a module file (name the .py file)\n"
    )
