"""The CLI on every kind of PATH: it says what it opened, and ``history`` shows the history.

- Every command that reads PATH says which kind it opened in one line on stderr
  (``durascope: opened duroxide store PATH (N instances)``), also with ``--json``,
  whose stdout stays pure JSON; an error stays the only line on stderr.
- Loads of many events report progress (a line redrawn with ``\\r``) only when
  stderr is a terminal; in a log or a pipe stderr keeps just its one line.
- ``history --json`` is exactly ``{"instance", "source", "events"}``; for a real
  duroxide store the events are its ``event_data`` JSON, every execution unless
  ``--execution N`` picks one.  The table has one row per event: execution,
  event id, type, source event, a short payload.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from durascope import cli
from durascope.replay import Model, build_bundle, open_model, write_bundle
from tests.reliability.hostile import check_clean, run_cli
from tests.reliability.test_read_only import SCENARIO_CODE

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_STORE = ROOT / "fixtures" / "scenarios.db"
CAN_CHILDREN_CODE = """
import duroxide

rt = duroxide.Runtime(duroxide.SqliteProvider.open("never-opened.db"))


@rt.register_activity("Inc")
def inc(ctx, x):
    return x + 1


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
"""The ``can_children`` scenario's code, as a duroxide-python script (for ``replay``)."""

OPENED = re.compile(r"durascope: opened (durascope store|duroxide store|bundle) (.+) \((.+)\)")


@pytest.fixture(scope="module")
def duroxide_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("duroxide", reason="the real duroxide package writes duroxide stores")
    from tests.replay.duroxide_stores import generate

    return generate(tmp_path_factory.mktemp("duroxide"), ["healthy", "can_children"])


@pytest.fixture(scope="module")
def inputs(
    duroxide_stores: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, str, int]]:
    """``kind -> (path, an instance, how many instances)`` for the three kinds of PATH."""
    bundle = tmp_path_factory.mktemp("bundle") / "scenarios.json.gz"
    model = open_model(SCENARIO_STORE)
    try:
        model.load_all()
        # not redacted: replay refuses a redacted bundle (tests/replay/test_replay_cli.py)
        write_bundle(build_bundle(model), bundle)
        count = len(model.instances)
    finally:
        model.close()
    duroxide = open_model(duroxide_stores["can_children"])
    duroxide_count = len(duroxide.instances)
    duroxide.close()
    return {
        "durascope store": (SCENARIO_STORE, "healthy-loop", count),
        "duroxide store": (duroxide_stores["can_children"], "can-job", duroxide_count),
        "bundle": (bundle, "healthy-loop", count),
    }


def commands(path: Path, instance: str, out: Path, module: Path) -> dict[str, list[Any]]:
    return {
        "history": ["history", path, f"--instance={instance}"],
        "history-json": ["history", path, f"--instance={instance}", "--json"],
        "diagnose": ["diagnose", path],
        "diagnose-json": ["diagnose", path, "--json", f"--instance={instance}"],
        "export": ["export", path, "-o", out / "out.json"],
        "render": ["render", path, f"--instance={instance}", "-o", out / "graph.dot"],
        "replay": ["replay", path, f"--instance={instance}", "--module", module],
    }


@pytest.mark.parametrize("kind", ["durascope store", "duroxide store", "bundle"])
def test_every_command_says_what_it_opened(
    kind: str, inputs: dict[str, tuple[Path, str, int]], tmp_path: Path
) -> None:
    path, instance, count = inputs[kind]
    module = tmp_path / "user_code.py"
    module.write_text(CAN_CHILDREN_CODE if kind == "duroxide store" else SCENARIO_CODE)
    for name, args in commands(path, instance, tmp_path, module).items():
        code, stdout, stderr = run_cli(args)
        check_clean(args, code, stdout, stderr)
        assert code in (0, 1), (name, stderr)
        said = [line for line in stderr.splitlines() if line.startswith("durascope: opened")]
        assert len(said) == 1, (name, stderr)
        assert stderr.splitlines()[0] == said[0]  # before anything else the command says
        match = OPENED.fullmatch(said[0])
        assert match is not None, said
        assert match.group(1) == kind and match.group(2) == str(path)
        detail = match.group(3)
        assert detail.endswith(f"{count} instances") or f"{count} instances," in detail
        if kind == "bundle":
            assert detail == f"exported from a durascope store, {count} instances"
        assert "opened" not in stdout
        if name.endswith("json"):
            json.loads(stdout)  # stdout is one JSON document, nothing else
            assert stdout.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["history", "{path}", "--instance=nope"],
        ["history", "{path}", "--instance=healthy-loop", "--execution=99"],
        ["render", "{path}", "--instance=healthy-loop", "-o", "{out}/graph.unknown"],
        ["replay", "{path}", "--instance=healthy-loop", "--module", "{out}/missing.py"],
        ["export", "{path}", "-o", "{path}"],
    ],
)
def test_an_error_is_still_the_only_line(args: list[str], tmp_path: Path) -> None:
    filled = [a.format(path=SCENARIO_STORE, out=tmp_path) for a in args]
    code, stdout, stderr = run_cli(filled)
    check_clean(filled, code, stdout, stderr)
    assert code == 2 and stderr.count("\n") == 1 and "opened" not in stderr


@pytest.mark.parametrize(
    ("instance", "messages"),
    [("queued-ghost", "1 queued message"), ("orphan-does-not-exist", "1 discarded message")],
)
@pytest.mark.parametrize("command", ["history", "render", "export", "replay"])
def test_an_id_with_only_messages_is_named_as_such(
    command: str, instance: str, messages: str, tmp_path: Path
) -> None:
    """Only ``diagnose`` has something to say about it (its orphan_message finding)."""
    module = tmp_path / "code.py"
    module.write_text(SCENARIO_CODE)
    tail = {
        "history": [],
        "render": ["-o", tmp_path / "graph.dot"],
        "export": ["-o", tmp_path / "out.json"],
        "replay": ["--module", module],
    }[command]
    args = [command, SCENARIO_STORE, f"--instance={instance}", *tail]
    code, stdout, stderr = run_cli(args)
    check_clean(args, code, stdout, stderr)
    assert (code, stdout) == (2, "")
    assert stderr == (
        f"durascope: error: no instance {instance!r} in {SCENARIO_STORE} (durascope): the id "
        f"has no history, only {messages} addressed to it (diagnose --instance reports them)\n"
    )
    assert sorted(tmp_path.iterdir()) == [module]  # nothing written


# ─── history ────────────────────────────────────────────────────────


def raw_events(db: Path, instance: str) -> dict[int, list[dict[str, Any]]]:
    """duroxide's own ``event_data`` JSON, by execution, in event id order (plain sqlite3)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT execution_id, event_data FROM history WHERE instance_id = ? "
            "ORDER BY execution_id, event_id",
            (instance,),
        ).fetchall()
    finally:
        conn.close()
    out: dict[int, list[dict[str, Any]]] = {}
    for execution, data in rows:
        out.setdefault(int(execution), []).append(json.loads(data))
    return out


def history(args: list[Any]) -> str:
    code, stdout, stderr = run_cli(args)
    check_clean(args, code, stdout, stderr)
    assert code == 0, stderr
    return stdout


@pytest.mark.parametrize("name", ["healthy", "can_children"])
def test_history_json_is_duroxides_own_event_json(
    name: str, duroxide_stores: dict[str, Path]
) -> None:
    db = duroxide_stores[name]
    instance = {"healthy": "healthy", "can_children": "can-job"}[name]
    raw = raw_events(db, instance)
    doc = json.loads(history(["history", db, f"--instance={instance}", "--json"]))
    assert list(doc) == ["instance", "source", "events"]
    assert (doc["instance"], doc["source"]) == (instance, "duroxide")
    assert doc["events"] == [e for execution in sorted(raw) for e in raw[execution]]
    assert {e["execution_id"] for e in doc["events"]} == set(raw)  # every execution
    if name == "can_children":
        assert len(raw) == 4
    for execution in raw:
        one = json.loads(
            history(["history", db, f"--instance={instance}", "--json", f"--execution={execution}"])
        )
        assert list(one) == ["instance", "source", "events"]
        assert one["events"] == raw[execution]


ROW = re.compile(r"\s*(\d+)\s{2}\s*(\d+)\s{2}(\S+)\s+(\d*)\s{2}(.*)")


def test_history_table_columns(duroxide_stores: dict[str, Path]) -> None:
    db = duroxide_stores["can_children"]
    raw = raw_events(db, "can-job")
    lines = history(["history", db, "--instance=can-job"]).splitlines()
    assert lines[0].split() == ["can-job", "CanParent", "Completed"]
    assert lines[1].split() == ["exec", "event", "type", "source", "payload"]
    rows = lines[2:]
    expected = [e for execution in sorted(raw) for e in raw[execution]]
    assert len(rows) == len(expected)
    for line, event in zip(rows, expected, strict=True):
        match = ROW.fullmatch(line)
        assert match is not None, line
        execution, event_id, type_, source, payload = match.groups()
        assert int(execution) == event["execution_id"] and int(event_id) == event["event_id"]
        assert type_ == event["type"]
        source_id = event.get("source_event_id")
        assert source == ("" if source_id is None else str(source_id))
        for field in ("input", "result", "output"):  # the short payload shows the value
            if field in event:
                assert f"{field}={event[field]}"[:20] in payload, (line, event)
        if event["type"] == "SubOrchestrationScheduled":
            assert payload.startswith(f"Child instance={event['instance']}")
        assert len(payload) <= 60
    # Execution 2 of 4, filtered.
    two = history(["history", db, "--instance=can-job", "--execution=2"]).splitlines()[2:]
    assert [ROW.fullmatch(r).group(1) for r in two] == ["2"] * len(raw[2])  # type: ignore[union-attr]


def test_history_table_shortens_long_payloads(tmp_path: Path) -> None:
    model = open_model(SCENARIO_STORE)
    try:
        model.load_all()
        doc = json.loads(build_bundle(model, instance_id="healthy-loop").model_dump_json())
    finally:
        model.close()
    started = doc["instances"][0]["executions"][0]["events"][0]
    started["input"] = json.dumps("y" * 5000)
    path = tmp_path / "long.json"
    path.write_text(json.dumps(doc))
    lines = history(["history", path, "--instance=healthy-loop"]).splitlines()
    first = ROW.fullmatch(lines[2])
    assert first is not None
    payload = first.group(5)
    assert payload == 'BatchLoop input="' + "y" * 42 + "…"  # 60 characters in all


# ─── load progress ──────────────────────────────────────────────────


@pytest.mark.parametrize("command", ["diagnose", "export"])
@pytest.mark.parametrize("terminal", [True, False])
def test_load_progress_is_drawn_only_on_a_terminal(
    terminal: bool, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "PROGRESS_THRESHOLD", 0)  # the fixture store counts as large
    load_all = Model.load_all

    def reporting_load_all(self: Model, progress: Any = None) -> int:
        if progress is not None:  # as a load of a million events does every 50,000
            progress(50_000)
        return load_all(self, progress)

    monkeypatch.setattr(Model, "load_all", reporting_load_all)

    class Stderr(io.StringIO):
        def isatty(self) -> bool:
            return terminal

    args = [command, str(SCENARIO_STORE)]
    if command == "export":
        args += ["-o", str(tmp_path / "out.json")]
    err = Stderr()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = cli.main(args)
    assert code in (0, 1)
    lines = err.getvalue().split("\n")
    if terminal:
        assert lines[0] == "\rdurascope: read 50,000 events…"
        assert lines[1].startswith("durascope: opened")
    else:
        assert "\r" not in err.getvalue() and "read 50,000" not in err.getvalue()
        assert lines[0].startswith("durascope: opened")
