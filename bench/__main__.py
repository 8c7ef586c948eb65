"""``python -m bench [--quick] [--only NAME]``: run the benchmarks, print and save the tables.

Every benchmark prints one markdown table, headed by the machine it ran on, and
the tables are written to ``bench/RESULTS.md`` (with ``--only``, only that
benchmark's section of the file is replaced).  When ``README.md`` holds the
markers ``<!-- bench-summary:start -->`` and ``<!-- bench-summary:end -->``, the
summary table (one line per target) is written between them.

A slow figure never fails the run; a benchmark that crashes does (exit code 1),
after the others have run.  Benchmarks whose module or optional dependencies are
missing are skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import REPO_ROOT, Row, machine_line, markdown_table

RESULTS = Path(__file__).with_name("RESULTS.md")
README = REPO_ROOT / "README.md"
SUMMARY_START = "<!-- bench-summary:start -->"
SUMMARY_END = "<!-- bench-summary:end -->"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: its module's ``run(size)`` and how to read its rows."""

    name: str
    title: str
    module: str
    full: int
    quick: int
    about: str
    summary: Callable[[list[Row]], list[Row]]
    notes: str = ""


# ─── Summaries: one line per target of the issue ─────────────────


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "NOT met")


def _summary_throughput(rows: list[Row]) -> list[Row]:
    out = []
    for row in rows:
        ratio = row["orch/s ratio"]
        first = row["workload"].endswith("child with 1 activity)")
        out.append(
            {
                "benchmark": "throughput",
                "figure": f"durascope orch/s, {row['workload']}",
                "value": row["durascope orch/s"],
                "baseline": f"duroxide {row['duroxide orch/s']:.1f} orch/s",
                "ratio": ratio,
                "target": "ratio >= 1.0" if first else "-",
                "verdict": _verdict(ratio >= 1.0) if first and ratio is not None else "-",
            }
        )
    return out


def _summary_inspection(rows: list[Row]) -> list[Row]:
    largest = max(r["events"] for r in rows)
    at = {r["measurement"]: r for r in rows if r["events"] == largest}
    load = at["open_model + load_all"]
    loads = sorted(
        (r["events"], r["bytes/event"]) for r in rows if r["measurement"] == load["measurement"]
    )
    growth = loads[-1][1] / loads[0][1] if loads[0][1] else None
    total = at["open + load_all + diagnose"]
    return [
        {
            "benchmark": "inspection",
            "figure": f"open + load_all, {largest:,} events (s)",
            "value": load["seconds"],
            "baseline": "sqlite3 + json.loads, kept",
            "ratio": load["× baseline time"],
            "target": "ratio <= 2",
            "verdict": _verdict(load["× baseline time"] <= 2),
        },
        {
            "benchmark": "inspection",
            "figure": f"memory per event, {loads[0][0]:,} → {largest:,} events (bytes)",
            "value": loads[-1][1],
            "baseline": f"{loads[0][1]:,.0f} bytes/event at {loads[0][0]:,}",
            "ratio": growth,
            "target": "ratio <= 1.25 (linear)",
            "verdict": _verdict(growth is not None and growth <= 1.25),
        },
        {
            "benchmark": "inspection",
            "figure": f"open + load_all + diagnose, {largest:,} events (s)",
            "value": total["seconds"],
            "baseline": "history + turns json.loads",
            "ratio": total["× baseline time"],
            "target": "ratio <= 2",
            "verdict": _verdict(total["× baseline time"] <= 2),
        },
    ]


def _summary_seek(rows: list[Row]) -> list[Row]:
    replay = {r["instance"]: r for r in rows if r["method"].startswith("replay")}
    out = []
    for row in rows:
        if row["method"].startswith("replay"):
            continue
        base = replay[row["instance"]]
        # Opening folds the whole instance once: a cost to report, not a seek.
        is_seek = not row["method"].startswith("open")
        for stat in ("median ms", "p99 ms"):
            out.append(
                {
                    "benchmark": "seek",
                    "figure": f"{row['instance']}, {row['method']}, {stat}",
                    "value": row[stat],
                    "baseline": f"fold from the start {base[stat]:.3g} ms",
                    "ratio": row[stat] / base[stat] if base[stat] else None,
                    "target": "< 10 ms" if is_seek else "-",
                    "verdict": _verdict(row[stat] < 10) if is_seek else "-",
                }
            )
    return out


_TARGET = re.compile(r"<\s*([0-9.]+)\s*(ms|s)\b")


def _summary_generic(name: str) -> Callable[[list[Row]], list[Row]]:
    """Rows with ``value_s`` / ``baseline_s`` / ``target`` ('< 1 s', '< 50 ms')."""

    def summary(rows: list[Row]) -> list[Row]:
        out = []
        for row in rows:
            value = row.get("value_s")
            if not isinstance(value, int | float):
                continue
            base = row.get("baseline_s")
            match = _TARGET.search(str(row.get("target", "")))
            ok = None
            if match:
                limit = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
                ok = value < limit
            out.append(
                {
                    "benchmark": name,
                    "figure": f"{row.get('benchmark', name)} ({row.get('size', '')}) (s)",
                    "value": value,
                    "baseline": f"{row.get('baseline', '')} {base:.3g} s"
                    if isinstance(base, int | float)
                    else "-",
                    "ratio": value / base if isinstance(base, int | float) and base else None,
                    "target": row.get("target", "-"),
                    "verdict": _verdict(ok),
                }
            )
        return out

    return summary


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "throughput",
        "1. Runtime throughput: durascope vs duroxide",
        "bench.throughput",
        500,
        100,
        "The same script through `durascope.compat.duroxide` and the real `duroxide` "
        "package, default options, file-backed SQLite, a fresh process and store per run, "
        "runtimes alternating round by round; medians of the rounds. Clock: first start to "
        "last completion. Turns: inferred from each store's history by "
        "`durascope.replay.Timeline` (the same counting for both; durascope's journal count "
        "beside it). Ratios are durascope / duroxide; the paired range is the ratio of each "
        "round's two runs.",
        _summary_throughput,
        "Notes. On the fan-out the two runtimes do not take the same number of turns: "
        "durascope runs a turn for whatever completions are visible when it fetches, so "
        "100 completions arrive over dozens of turns, while duroxide gathers them into a "
        "few; turns/s therefore compares different work there, and orch/s is the figure "
        "to compare. Profiled (cProfile, 500 parent/child roots on the async API), "
        "durascope's event-loop thread spends about 40% of the run waiting in `epoll` for "
        "the SQLite connection thread, and about a quarter computing turns "
        "(`process_batch`); the rest is asyncio and store bookkeeping.",
    ),
    Benchmark(
        "inspection",
        "2. Scale of inspection",
        "bench.inspection",
        1_000_000,
        40_000,
        "A durascope store made by running real orchestrations (activities, a caught "
        "failure, timers, a child per execution, fan-outs, custom status, continue-as-new) "
        "on the runtime and replicating the rows under new ids with SQL. Each measurement "
        "runs in a fresh process; peak memory is the growth of the peak RSS over the RSS "
        "before the step. Baselines (the collector paused, as `load_all` pauses it): "
        "`sqlite3` + `json.loads` over the same rows in the same order. The load and the "
        "history baselines run three times, alternating, and the median run is shown.",
        _summary_inspection,
        "Notes. `load_all` pauses the cyclic garbage collector while it decodes (the loaded "
        "events are millions of long-lived objects the collector would otherwise rescan "
        "again and again), validates each row directly against the event class its "
        "`event_type` column names (falling back to the discriminated union whenever that "
        "would not give the identical result), and groups rows as they stream in key "
        "order. `diagnose` pauses the collector too; it decodes the whole turn journal "
        "(pydantic-core reads the externally tagged work items as typed dicts, at about "
        "the speed of `json.loads`: the journal decoding is roughly half of diagnose) and "
        "builds every instance's timeline. At the end of each pause the objects it made "
        "go straight to the oldest generation (`gc.freeze()` then `gc.unfreeze()`), "
        "skipping the young-generation scans that would only promote them; the next full "
        "collection still examines them.",
    ),
    Benchmark(
        "seek",
        "3. Time travel: seek to random turns",
        "bench.seek",
        10_000,
        2_000,
        "1,000 random turns (fixed seed) through `Stepper.seek` (state after the turn), "
        "against `fold` over the execution's events up to the turn.",
        _summary_seek,
        "Notes. *Opening* a stepper folds every execution of the instance once and keeps "
        "checkpoints of the fold (every 64 events, or every len(schedules)/16 events where "
        "the fold holds many schedules, so that their total size stays linear in the "
        "events): that one replay from the start is the cost of opening an instance, and "
        "every seek after it, the first included, folds only from the nearest checkpoint. "
        "The slowest opens and replays (p99, max) include full collections of the cyclic "
        "garbage collector triggered by the fold's allocations; the TUI freezes its "
        "loaded heap (`gc.freeze()`) for that reason, this benchmark of the library does "
        "not.",
    ),
    Benchmark(
        "render",
        "Graph rendering",
        "bench.bench_render",
        500,
        100,
        "Child links, diagnosis, graph model, DOT, SVG and PNG for a generated tree of "
        "executions carrying every failure the graph draws (see `bench/bench_render.py`).",
        lambda rows: [],
    ),
    Benchmark(
        "tui",
        "4. TUI responsiveness",
        "bench.bench_tui",
        10_000,
        1_000,
        "Pilot-driven: time to first screen on a store of many instances, and key to "
        "repaint while stepping (see `bench/bench_tui.py`).",
        _summary_generic("tui"),
        "Notes. Where the large-state tail comes from: the slowest presses are the ones "
        "into and out of the fan-out's start turn, where the left column's content grows "
        "or shrinks by hundreds of lines. Textual then re-lays out the column and its "
        "scrollbar in a third screen refresh that lands 25-35 ms after the key, while "
        "`Stepper.seek` plus `InstanceScreen.redraw` take under 10 ms on every press "
        "(timed separately, with each compositor refresh). Not garbage collection: with "
        "the collector disabled the p99 is the same; an always-shown scrollbar and a "
        "shorter turn panel did not remove the third refresh either.",
    ),
)


# ─── Running ─────────────────────────────────────────────────────


@dataclass
class Outcome:
    """What one benchmark produced: rows, or why there are none."""

    bench: Benchmark
    machine: str
    size: int
    seconds: float
    rows: list[Row]
    note: str = ""
    failed: bool = False
    quick: bool = False


def _load(bench: Benchmark) -> tuple[Callable[[int], list[Row]] | None, str]:
    """The benchmark's ``run``, or None and why (module or optional extra missing)."""
    try:
        module = importlib.import_module(bench.module)
    except ModuleNotFoundError as exc:
        if exc.name == bench.module:
            return None, f"skipped: `{bench.module.replace('.', '/')}.py` is not present"
        return None, f"skipped: the optional dependency `{exc.name}` is not installed"
    except ImportError as exc:
        return None, f"skipped: {exc}"
    run = getattr(module, "run", None)
    if run is None:
        return None, f"skipped: `{bench.module}` has no run(size)"
    return run, ""


def run_one(bench: Benchmark, quick: bool) -> Outcome:
    """Run one benchmark, catching a crash into a note."""
    size = bench.quick if quick else bench.full
    machine = machine_line()
    run, note = _load(bench)
    if run is None:
        return Outcome(bench, machine, size, 0.0, [], note, quick=quick)
    start = time.perf_counter()
    try:
        rows = list(run(size))
    except ModuleNotFoundError as exc:
        return Outcome(
            bench, machine, size, time.perf_counter() - start, [],
            f"skipped: the optional dependency `{exc.name}` is not installed", quick=quick,
        )  # fmt: skip
    except Exception as exc:
        traceback.print_exc()
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return Outcome(
            bench, machine, size, time.perf_counter() - start, [],
            f"FAILED: {type(exc).__name__}: {first}", failed=True, quick=quick,
        )  # fmt: skip
    return Outcome(bench, machine, size, time.perf_counter() - start, rows, quick=quick)


def section(outcome: Outcome) -> str:
    """The markdown section of one benchmark (between its markers)."""
    b = outcome.bench
    lines = [
        f"<!-- bench:{b.name} -->",
        f"## {b.title}",
        "",
        f"Machine: {outcome.machine}.  ",
        f"Size: {outcome.size:,}{' (quick)' if outcome.quick else ''}; "
        f"ran in {outcome.seconds:.0f} s.  ",
        "Reproduce: `python -m bench --only " + b.name + "`.",
        "",
        b.about,
        "",
    ]
    if outcome.note:
        lines += [f"_{outcome.note}_", ""]
    if outcome.rows:
        lines += [markdown_table(outcome.rows)]
        if b.notes:
            lines += [b.notes, ""]
    lines.append(f"<!-- /bench:{b.name} -->")
    return "\n".join(lines) + "\n"


def summary_table(outcomes: list[Outcome]) -> str:
    """One line per target, from the benchmarks that produced rows."""
    rows: list[Row] = []
    for o in outcomes:
        if o.rows:
            try:
                rows += o.bench.summary(o.rows)
            except (KeyError, TypeError, ValueError) as exc:
                rows.append({"benchmark": o.bench.name, "figure": f"no summary ({exc!r})"})
    return markdown_table(rows) if rows else ""


def write_results(
    outcomes: list[Outcome], path: Path, *, replace_only: bool, quick: bool = False
) -> str:
    """Write RESULTS.md; with ``replace_only``, keep the other benchmarks' sections."""
    sections = {o.bench.name: section(o) for o in outcomes}
    if replace_only and path.exists():
        text = path.read_text()
        for name, body in sections.items():
            pattern = re.compile(
                rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n?",
                re.S,
            )
            if pattern.search(text):
                text = pattern.sub(lambda _m, body=body: body, text)
            else:
                text = text.rstrip("\n") + "\n\n" + body
        text = _replace_summary_rows(text, outcomes)
        path.write_text(text)
        return text
    summary = summary_table(outcomes)
    head = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench`); every figure is measured next to its "
        "baseline in the same run, so the ratios hold on a noisy machine. Benchmarks, not "
        "timed tests: nothing fails on a slow run.",
        "",
        f"Machine: {machine_line()}.  ",
        "Sizes: "
        + ("**quick** (`--quick`: small sizes, not the issue's)" if quick else "full")
        + ".",
        "",
    ]
    if summary:
        head += [
            "## Summary",
            "",
            "Ratios: for throughput, durascope / duroxide (above 1: durascope is faster); "
            "for times, the figure / its baseline (below 1: faster than the baseline).",
            "",
            summary,
        ]
    text = "\n".join(head) + "\n" + "\n".join(sections[o.bench.name] for o in outcomes)
    path.write_text(text)
    return text


def _summary_span(lines: list[str]) -> tuple[int, int] | None:
    """Line indexes (first, end) of the summary table's body rows, if there is a table."""
    if "## Summary" not in lines:
        return None
    i = lines.index("## Summary")
    while i < len(lines) and not lines[i].startswith("|"):
        i += 1
    end = i
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return (i + 2, end) if end - i >= 2 else None


def _replace_summary_rows(text: str, outcomes: list[Outcome]) -> str:
    """Swap the rerun benchmarks' lines of the summary table for fresh ones."""
    lines = text.split("\n")
    span = _summary_span(lines)
    if span is None:
        return text
    fresh = summary_table(outcomes).splitlines()[2:]
    names = {o.bench.name for o in outcomes}
    rows: list[str] = []
    placed = False
    for row in lines[span[0] : span[1]]:
        if row.split("|")[1].strip() in names:
            if not placed:
                rows += fresh
                placed = True
            continue
        rows.append(row)
    if not placed:
        rows += fresh
    return "\n".join([*lines[: span[0]], *rows, *lines[span[1] :]])


def results_summary(text: str) -> str:
    """The summary table of a RESULTS.md text ('' if it has none)."""
    lines = text.split("\n")
    span = _summary_span(lines)
    return "\n".join(lines[span[0] - 2 : span[1]]) + "\n" if span else ""


def summary_stamp(results: str, rerun: list[str], now: str) -> str:
    """Where and when the summary's figures were measured (``now``: this run's machine line).

    After ``--only``, RESULTS.md keeps the full run's machine line and only the
    re-run benchmarks' rows are newer, so the stamp names both times.
    """
    head = re.search(r"^Machine: (.+)\.  $", results, re.M)
    if not rerun or head is None:
        return now
    when = now.rsplit(", ", 1)[1]
    return f"{head.group(1)}; {', '.join(rerun)} re-run alone at {when}"


def update_readme(summary: str, machine: str, readme: Path = README) -> bool:
    """Put the summary between the README's markers, if it has them."""
    if not summary or not readme.exists():
        return False
    text = readme.read_text()
    start, end = text.find(SUMMARY_START), text.find(SUMMARY_END)
    if start < 0 or end < start:
        return False
    block = (
        f"{SUMMARY_START}\n_{machine}; ratios: throughput durascope / duroxide, times figure / "
        f"baseline; details in [bench/RESULTS.md](bench/RESULTS.md)._\n\n{summary}{SUMMARY_END}"
    )
    readme.write_text(text[:start] + block + text[end + len(SUMMARY_END) :])
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    parser.add_argument(
        "--only",
        action="append",
        choices=[b.name for b in BENCHMARKS],
        help="run only this benchmark (repeatable); its section of RESULTS.md is replaced",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the tables")
    ns = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not ns.only or b.name in ns.only]
    outcomes = []
    for bench in chosen:
        print(f"running {bench.name} ...", file=sys.stderr, flush=True)
        outcome = run_one(bench, ns.quick)
        outcomes.append(outcome)
        print(section(outcome), flush=True)
    text = write_results(outcomes, ns.output, replace_only=bool(ns.only), quick=ns.quick)
    if not ns.quick and ns.output == RESULTS and "**quick**" not in text:
        update_readme(results_summary(text), summary_stamp(text, ns.only or [], machine_line()))
    print(f"wrote {ns.output}", file=sys.stderr)
    return 1 if any(o.failed for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
