"""The benchmark harness runs, at tiny sizes, and its tables are well formed.

Benchmarks, not timed tests: nothing here checks that a figure is fast, only
that each row has its keys, that figures are positive, that every ratio is
the quotient of the two figures of the same row (measured in the same run),
and that the generated inputs are valid (no error findings, the synthesized
seek history equal to a real simulation's).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import pytest

from bench import __main__ as harness
from bench import inspection, markdown_table, median, percentile, ratio, seek, throughput
from durascope.history import event_to_json, turn_record_to_json
from durascope.replay import Timeline, diagnose, open_model

Row = dict[str, Any]


def _positive(row: Row, *keys: str) -> None:
    for key in keys:
        value = row[key]
        assert isinstance(value, int | float), (key, value)
        assert math.isfinite(value) and value > 0, (key, value)


def _is_quotient(value: float | None, numerator: float, denominator: float) -> None:
    assert value is not None
    assert value == pytest.approx(numerator / denominator, rel=1e-9)


# ─── Helpers ─────────────────────────────────────────────────────


def test_statistics_and_table() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([5.0], 99) == 5.0
    assert ratio(1.0, 0) is None and ratio(None, 1.0) is None
    table = markdown_table([{"a": 1, "b": "x|y"}, {"a": 2.5, "c": None}])
    lines = table.splitlines()
    assert lines[0] == "| a | b | c |"
    assert lines[1] == "|---:|---|---|"
    assert lines[2] == "| 1 | x\\|y | - |"
    assert lines[3] == "| 2.50 | - | - |"


# ─── 1. Throughput ───────────────────────────────────────────────


@pytest.mark.skipif(importlib.util.find_spec("duroxide") is None, reason="duroxide not installed")
def test_throughput_rows() -> None:
    rows = throughput.run(rounds=1, sizes={"parent_child": 4, "fanout": 1, "can_chain": 6})
    assert [r["workload"] for r in rows] == [
        "4 × (activity, then child with 1 activity)",
        "1 × fan-out of 100 activities",
        "continue-as-new chain of 6 executions",
    ]
    expected_turns = {0: 4 * 5, 2: 6}  # parent 3 turns + child 2; one turn per execution
    for i, row in enumerate(rows):
        _positive(
            row,
            "durascope s", "duroxide s", "durascope orch/s", "duroxide orch/s",
            "durascope turns/s", "duroxide turns/s",
        )  # fmt: skip
        _is_quotient(row["orch/s ratio"], row["durascope orch/s"], row["duroxide orch/s"])
        _is_quotient(row["turns/s ratio"], row["durascope turns/s"], row["duroxide turns/s"])
        if i in expected_turns:
            assert row["durascope turns"] == row["duroxide turns"] == expected_turns[i]
        # The journal also counts turns that appended nothing (a filtered or duplicate
        # completion fetched alone), which history cannot show; so it is never fewer.
        assert row["journal turns"] >= row["durascope turns"]


# ─── 2. Inspection ───────────────────────────────────────────────


def test_generated_store_is_valid(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    inspection.make_template(template)
    per_copy = inspection.template_counts(template)
    db = tmp_path / "store.db"
    counts = inspection.replicate(template, db, 3 * per_copy["history"])
    assert counts == {table: 3 * n for table, n in per_copy.items()}
    model = open_model(db)
    try:
        assert model.origin.kind == "durascope"
        assert model.load_all() == counts["history"]
        assert len(model.instances) == counts["instances"]
        assert [f for f in diagnose(model) if f.severity == "error"] == []
        types = {type(e).__name__ for i in model for ex in i.executions for e in ex.events}
        assert {"TimerFired", "ActivityFailed", "SubOrchestrationCompleted"} <= types
        assert "OrchestrationContinuedAsNew" in types
        # Every copy is its own tree, with a captured timeline covering its history.
        copies = [i for i in model if not i.parent_instance_id]
        assert len(copies) == 3 * inspection.VARIANTS
        child = next(i for i in model if i.parent_instance_id)
        assert child.parent_instance_id in model.instances
        assert all(Timeline.of(i).evidence == "captured" for i in model)
    finally:
        model.close()


def test_inspection_rows(tmp_path: Path) -> None:
    rows = inspection.run(sizes=(1_500,), workdir=tmp_path)
    assert len(rows) == 7
    by = {r["measurement"]: r for r in rows}
    base = by["A: sqlite3 + json.loads history, kept"]
    load = by["open_model + load_all"]
    for row in rows:
        assert row["events"] == base["events"] > 1_000
        _positive(row, "seconds", "rows read")
    _positive(load, "peak MiB", "bytes/event", "× baseline time")
    _is_quotient(load["× baseline time"], load["seconds"], base["seconds"])
    _is_quotient(load["bytes/event"], load["peak MiB"] * 2**20, load["events"])
    diag = by["diagnose (after load_all)"]
    turns = by["B: sqlite3 + json.loads turns, kept"]
    _is_quotient(diag["× baseline time"], diag["seconds"], turns["seconds"])
    total = by["open + load_all + diagnose"]
    _is_quotient(total["× baseline time"], total["seconds"], base["seconds"] + turns["seconds"])
    assert "0 errors" in diag["note"]


# ─── 3. Seek ─────────────────────────────────────────────────────


@pytest.mark.parametrize("turns", [2, 3, 7, 16, 31])
def test_synthesized_loop_is_what_the_simulation_writes(turns: int) -> None:
    made = seek.synthesize_loop("x", turns).instance("x")
    real = seek.simulate("x", turns - 1, max_turns=10 * turns).instance("x")
    assert len(made.turns) == turns
    assert [event_to_json(e) for e in made.execution(1).events] == [
        event_to_json(e) for e in real.execution(1).events
    ]
    assert [turn_record_to_json(r) for r in made.turns] == [
        turn_record_to_json(r) for r in real.turns
    ]
    assert (made.status, made.output) == (real.status, real.output)


def test_seek_rows() -> None:
    rows = seek.run(60, seeks=40)
    assert [(r["instance"], r["method"]) for r in rows] == [
        (instance, method)
        for instance in ("one execution", "continue-as-new")
        for method in (
            "open (stepper on a fresh timeline)",
            "first seek after opening",
            "warm (one stepper)",
            "replay from start (baseline)",
        )
    ]
    assert "60 turns, 1 execution(s), 120 events" in rows[0]["note"]
    assert "60 turns, 10 execution(s)" in rows[4]["note"]
    for group in (rows[:4], rows[4:]):
        baseline = group[3]
        for row in group:
            assert row["seeks"] == 40
            _positive(row, "median ms", "p99 ms", "max ms")
            assert row["median ms"] <= row["p99 ms"] <= row["max ms"]
            _is_quotient(row["median speed-up vs replay"], baseline["median ms"], row["median ms"])
            _is_quotient(row["p99 speed-up vs replay"], baseline["p99 ms"], row["p99 ms"])


# ─── The command ─────────────────────────────────────────────────


def test_harness_writes_sections_and_skips_missing_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = harness.Benchmark(
        "fake", "Fake", "bench._no_such_module", 1, 1, "about", lambda rows: []
    )
    seek_small = harness.Benchmark(
        "seek", "Seek", "bench.seek", 30, 30, "about", harness._summary_seek
    )
    monkeypatch.setattr(harness, "BENCHMARKS", (seek_small, fake))
    out = tmp_path / "RESULTS.md"
    assert harness.main(["--quick", "--output", str(out)]) == 0
    text = out.read_text()
    assert "## Summary" in text and "Machine: " in text and " cores, " in text
    assert "<!-- bench:seek -->" in text and "<!-- /bench:fake -->" in text
    assert "skipped: `bench/_no_such_module.py` is not present" in text
    # --only replaces its own section and keeps the others.
    before = text.split("<!-- bench:fake -->")[0]
    assert harness.main(["--quick", "--only", "fake", "--output", str(out)]) == 0
    assert out.read_text().split("<!-- bench:fake -->")[0] == before


def test_readme_summary_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{harness.SUMMARY_START}\nold\n{harness.SUMMARY_END}\nrest\n")
    assert harness.update_readme("| a |\n|---|\n| 1 |\n", "machine", readme)
    text = readme.read_text()
    assert "old" not in text and "| 1 |" in text and text.endswith("rest\n")
    assert not harness.update_readme("| a |\n", "machine", tmp_path / "missing.md")


def test_summary_stamp_names_a_partial_rerun() -> None:
    results = "# Benchmark results\n\nMachine: 2 cores, X, 2026-01-02 03:04 UTC.  \nSizes: full.\n"
    now = "2 cores, X, 2026-01-02 05:06 UTC"
    assert harness.summary_stamp(results, [], now) == now
    assert (
        harness.summary_stamp(results, ["tui", "seek"], now)
        == "2 cores, X, 2026-01-02 03:04 UTC; tui, seek re-run alone at 2026-01-02 05:06 UTC"
    )
    assert harness.summary_stamp("no head", ["tui"], now) == now


# ─── The load fast path the benchmark motivated ──────────────────


def test_load_all_fast_path_decodes_exactly_like_the_union(tmp_path: Path) -> None:
    """``load_all`` trusts the ``event_type`` column only when the result is the union's."""
    import sqlite3

    from durascope.replay._durascope_source import decode_event_row

    template = tmp_path / "template.db"
    inspection.make_template(template)
    db = tmp_path / "hostile.db"
    inspection.replicate(template, db, 1)
    started = (
        '{"event_id":1,"source_event_id":null,"instance_id":"h","execution_id":1,'
        '"timestamp_ms":5,"duroxide_version":"x","type":"OrchestrationStarted","name":"N",'
        '"version":"1","input":"null","parent_instance":null,"parent_id":null}'
    )
    rows = [
        ("OrchestrationStarted", started),  # honest row
        ("ActivityScheduled", started.replace('"event_id":1', '"event_id":2')),  # column lies
        ("ActivityScheduled", '{"event_id":3,"name":"A","input":"1"}'),  # no "type" in JSON
        ("TimerFired", '{"event_id":4,"type":"TimerFired"}'),  # fields missing
        ("Mystery", '{"event_id":5,"type":"Mystery","x":1}'),  # unknown type
        ("ActivityScheduled", '{"event_id":6,"type":5}'),  # a tag of the wrong JSON type
        ("ActivityScheduled", "not json"),
        ("X", started.replace('"event_id":1', '"event_id":8')),  # a column naming no class
    ]
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO instances (instance_id, orchestration_name, created_at_ms, updated_at_ms)"
            " VALUES ('h', 'N', 0, 0)"
        )
        conn.execute(
            "INSERT INTO executions (instance_id, execution_id, started_at_ms) VALUES ('h', 1, 0)"
        )
        for eid, (etype, data) in enumerate(rows, start=1):
            conn.execute("INSERT INTO history VALUES ('h', 1, ?, ?, ?)", (eid, etype, data))
    model = open_model(db)
    try:
        model.load_all()
        loaded = model.instance("h").execution(1).events
        expected = tuple(
            decode_event_row("h", 1, eid, data) for eid, (_, data) in enumerate(rows, start=1)
        )
        assert loaded == expected
        assert [e.model_fields_set for e in loaded] == [e.model_fields_set for e in expected]
        assert [type(e).__name__ for e in loaded][:3] == [
            "OrchestrationStarted",
            "OrchestrationStarted",
            "UnknownEvent",
        ]
    finally:
        model.close()


def test_only_refreshes_its_summary_lines() -> None:
    text = (
        "# R\n\n## Summary\n\nRatios: ...\n\n| benchmark | figure |\n|---|---|\n"
        "| seek | old a |\n| tui | keep |\n| seek | old b |\n\n<!-- bench:seek -->\n"
    )

    def summary(rows: list[Row]) -> list[Row]:
        return [{"benchmark": "seek", "figure": "new"}]

    bench = harness.Benchmark("seek", "Seek", "bench.seek", 1, 1, "", summary)
    outcome = harness.Outcome(bench, "machine", 1, 0.0, [{"x": 1}])
    out = harness._replace_summary_rows(text, [outcome])
    assert "| seek | new |\n| tui | keep |\n\n<!-- bench:seek -->" in out
    assert "old" not in out
    assert harness.results_summary(out) == (
        "| benchmark | figure |\n|---|---|\n| seek | new |\n| tui | keep |\n"
    )


def test_tui_rows() -> None:
    """The TUI benchmark at a tiny size: exactly the instances asked for, every row timed."""
    pytest.importorskip("textual")
    from bench import bench_tui

    rows = bench_tui.run(60)
    names = [r["benchmark"] for r in rows]
    assert names[0] == "tui first screen" and rows[0]["size"] == "60 instances"
    for kind in ("", ", Pairs tab", ", large state", ", large state, Pairs tab"):
        for stat in ("median", "p99", "max"):
            assert f"tui key to repaint{kind} ({stat})" in names
    for row in rows:
        assert row["value_s"] > 0 and row["baseline_s"] > 0, row
        assert row["target"] in ("< 1 s", "< 50 ms", "-")
    by_name = {r["benchmark"]: r["value_s"] for r in rows}
    for kind in ("", ", Pairs tab", ", large state", ", large state, Pairs tab"):
        median, p99, worst = (
            by_name[f"tui key to repaint{kind} ({stat})"] for stat in ("median", "p99", "max")
        )
        assert median <= p99 <= worst


@pytest.mark.parametrize("timers", [1, 2, 5, 12])
def test_synthesized_fan_out_is_what_the_simulation_writes(timers: int) -> None:
    import asyncio

    from bench import bench_tui
    from durascope.replay import model_from_simulation
    from durascope.runtime import Registry, Simulation

    registry = Registry()
    registry.add_orchestration("FanOut", bench_tui.fan_out)
    sim = Simulation(registry, start_ms=bench_tui.START_MS)
    sim.start("f", "FanOut", timers)
    asyncio.run(sim.run(max_turns=10 * timers + 10))
    real = model_from_simulation(sim).instance("f")
    made = bench_tui.synthesize_fan_out("f", timers).instance("f")
    assert len(made.turns) == timers + 1
    assert [event_to_json(e) for e in made.execution(1).events] == [
        event_to_json(e) for e in real.execution(1).events
    ]
    assert [turn_record_to_json(r) for r in made.turns] == [
        turn_record_to_json(r) for r in real.turns
    ]
    assert (made.status, made.output) == (real.status, real.output)
