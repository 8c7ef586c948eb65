"""Loading a user's module for ``replay --module``: the duroxide stand-in.

The module is executed (the user named it), but its runtime, provider and client
calls must run nothing, every other duroxide name must behave as durascope's
facade does, and a script written to be run (the README's example) must load as
it is.  Re-executing the recorded run of such a script with the script itself
finds no divergence.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import durascope.compat
import durascope.compat.duroxide as compat_duroxide
from durascope.replay import SourceError, load_user_code, open_model, reexecute

README_EXAMPLE = """
from durascope.compat.duroxide import Client, Runtime, SqliteProvider

provider = SqliteProvider.open("app.db")
runtime = Runtime(provider)

@runtime.register_activity("Greet")
def greet(ctx, name):
    return f"Hello, {name}!"

@runtime.register_orchestration("Hello")
def hello(ctx, name):
    return (yield ctx.schedule_activity("Greet", name))

runtime.start()
client = Client(provider)
client.start_orchestration("hello-1", "Hello", "world")
print(client.wait_for_orchestration("hello-1").output)   # Hello, world!
runtime.shutdown()
"""
"""The README's "Running your own orchestrations" script, verbatim."""

PARSE_RESULT_SCRIPT = """
import duroxide as dx
from duroxide import ActivityContext, OrchestrationContext

provider = dx.SqliteProvider.open("app.db")
rt = dx.Runtime(provider, dx.RuntimeOptions())

@rt.register_activity("Double")
def double(ctx: ActivityContext, x):
    return 2 * x

@rt.register_orchestration("FanOut")
def fan_out(ctx: OrchestrationContext, n):
    results = yield ctx.all([ctx.schedule_activity("Double", i) for i in range(n)])
    values = dx.parse_result(results)
    ctx.set_custom_status(f"sum {sum(values)}")
    return sum(values)

rt.start()
client = dx.Client(provider)
client.start_orchestration("fan-1", "FanOut", 3)
result = client.wait_for_orchestration("fan-1")
print(result.status, result.output)
rt.shutdown()

if __name__ == "__main__":
    assert result.output == 6, result
    print("checked")
"""
"""A duroxide-python script that uses ``dx.parse_result`` inside orchestration code.

Written against ``duroxide``; ``run_for_real`` runs it on durascope by pointing the
import at the facade, as the README says (change the import line).
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run_for_real(script: Path) -> Path:
    """Run a script on durascope's runtime in its directory; returns the store it wrote."""
    source = script.read_text().replace(
        "import duroxide as dx", "import durascope.compat.duroxide as dx"
    )
    source = source.replace("from duroxide import", "from durascope.compat.duroxide import")
    runnable = script.with_name(f"run_{script.name}")
    runnable.write_text(source)
    proc = subprocess.run(
        [sys.executable, runnable.name],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return script.parent / "app.db"


def test_the_readme_example_loads_as_is_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "code").mkdir()
    module = write(tmp_path / "code", "hello.py", README_EXAMPLE)
    monkeypatch.chdir(tmp_path)
    registry = load_user_code(module)
    assert registry.orchestration_names() == ["Hello"]
    assert list(registry.activities()) == ["Greet"]
    # Nothing was opened or written, in the working directory or beside the module.
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["code", "hello.py"]
    assert capsys.readouterr().out == ""  # the script's print went nowhere


def test_the_readme_example_replays_its_own_run_without_divergence(tmp_path: Path) -> None:
    script = write(tmp_path, "hello.py", README_EXAMPLE)
    store = run_for_real(script)
    model = open_model(store)
    try:
        result = reexecute(model, "hello-1", load_user_code(script))
    finally:
        model.close()
    assert result.divergence is None
    assert result.turns_checked == 2


def test_duroxide_names_pass_through_to_the_facade(tmp_path: Path) -> None:
    module = write(
        tmp_path,
        "names.py",
        """
        import duroxide
        from duroxide import ActivityContext, OrchestrationContext, parse_result, Event
        import durascope.compat.duroxide as facade
        from durascope.compat import duroxide as facade_attribute

        duroxide.init_tracing()  # duroxide-only infrastructure: inert while loading

        def noop(ctx, x):
            return (ActivityContext, OrchestrationContext, parse_result, Event,
                    facade.parse_result, facade_attribute.parse_result)

        rt = duroxide.Runtime(duroxide.SqliteProvider.in_memory())
        rt.register_orchestration("Noop", noop)
        """,
    )
    registry = load_user_code(module)
    resolved = registry.resolve("Noop", None)
    assert resolved is not None
    seen = resolved[1]("ctx", None)  # the names as the module's code sees them afterwards
    assert seen == (
        compat_duroxide.ActivityContext,
        compat_duroxide.OrchestrationContext,
        compat_duroxide.parse_result,
        compat_duroxide.Event,
        compat_duroxide.parse_result,
        compat_duroxide.parse_result,
    )


def test_the_stand_in_is_gone_after_loading(tmp_path: Path) -> None:
    module = write(
        tmp_path,
        "plain.py",
        """
        from durascope.compat.duroxide import Runtime, SqliteProvider
        rt = Runtime(SqliteProvider.open("never.db"))
        rt.register_orchestration("Noop", lambda ctx, x: x)
        """,
    )
    real_duroxide = sys.modules.get("duroxide")
    load_user_code(module)
    assert sys.modules["durascope.compat.duroxide"] is compat_duroxide
    assert durascope.compat.duroxide is compat_duroxide
    assert sys.modules.get("duroxide") is real_duroxide
    assert not (tmp_path / "never.db").exists()


def test_orchestration_code_calling_parse_result_replays_without_divergence(
    tmp_path: Path,
) -> None:
    """``dx.parse_result`` in orchestration code used to fail during re-execution."""
    script = write(tmp_path, "fanout.py", PARSE_RESULT_SCRIPT)
    store = run_for_real(script)
    model = open_model(store)
    try:
        assert model.instance("fan-1").status == "Completed"
        result = reexecute(model, "fan-1", load_user_code(script))
    finally:
        model.close()
    assert result.divergence is None, result.divergence
    assert result.turns_checked >= 2


def test_a_guarded_main_block_does_not_run(tmp_path: Path) -> None:
    module = write(
        tmp_path,
        "guarded.py",
        """
        import duroxide as dx
        rt = dx.Runtime(dx.SqliteProvider.open("x.db"))
        rt.register_orchestration("Noop", lambda ctx, x: x)
        if __name__ == "__main__":
            raise SystemExit("the guarded block ran")
        """,
    )
    assert load_user_code(module).orchestration_names() == ["Noop"]


def test_a_name_neither_duroxide_nor_the_facade_has_is_one_line(tmp_path: Path) -> None:
    module = write(tmp_path, "typo.py", "from duroxide import OrchestrationContxt\n")
    with pytest.raises(SourceError) as err:
        load_user_code(module)
    message = str(err.value)
    assert "OrchestrationContxt" in message and "ImportError" in message
    assert "\n" not in message


def test_a_module_that_raises_is_reported_on_one_line(tmp_path: Path) -> None:
    module = write(tmp_path, "bad.py", 'raise ValueError("first line\\nsecond line")\n')
    with pytest.raises(SourceError) as err:
        load_user_code(module)
    assert str(err.value).endswith("importing it raised ValueError: second line")
