"""Runtime throughput: durascope (through the compat facade) against the real ``duroxide``.

The same script drives both runtimes; only the import differs
(``durascope.compat.duroxide`` or ``duroxide``).  Each measurement is a fresh
subprocess with a fresh file-backed SQLite store and default runtime options;
the two runtimes alternate round by round (durascope first in even rounds,
duroxide first in odd ones) so that a noisy neighbour or a thermal drift hits
both, and the table reports the median of the rounds.

Workloads:

- ``parent_child``: ``size`` root orchestrations, each running one activity and
  then one sub-orchestration that runs one activity (all started at once, then
  awaited in order).
- ``fanout``: ``size`` orchestrations, each fanning out 100 activities with
  ``ctx.all`` and returning their sum.
- ``can_chain``: one orchestration that continues-as-new until it has run
  ``size`` executions (one turn each).

What is timed: from the first ``start_orchestration`` to the return of the last
``wait_for_orchestration``, so process start, imports, store creation and
runtime start-up are outside the clock; shutdown is too.

What is counted: *orchestrations* are the roots started (a parent_child root
counts once, although it also runs a child instance); *turns* are orchestration
dispatcher turns counted the same way on both stores, by opening the store
afterwards with :func:`durascope.replay.open_model` and counting the turns
:class:`durascope.replay.Timeline` infers from history (message-derived events
that follow action-derived ones, or a new turn timestamp, start a turn).  duroxide
has no turn journal, so inferring is the only way to count its turns; durascope's
journal (the ``turns`` table) is reported next to it as a cross-check (it also
counts turns that appended nothing, such as a discarded redelivery).

Run one workload by hand: ``python -m bench.throughput parent_child 200``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import Row, median, ratio, remove_store, run_json

RUNTIMES = ("durascope", "duroxide")
WORKLOADS = ("parent_child", "fanout", "can_chain")
FANOUT_WIDTH = 100

FULL_SIZE = 500
QUICK_SIZE = 100
DEADLINE_S = 120.0
"""A run that has not finished this long after its first start has failed (it is retried)."""
ATTEMPTS = 3
"""Runs of one (round, runtime) before the benchmark gives up."""


# ─── The measured process ────────────────────────────────────────


def _register(dx: Any, rt: Any, size: int) -> None:
    @rt.register_activity("Work")
    def work(ctx: Any, x: int) -> int:
        return x + 1

    @rt.register_orchestration("Child")
    def child(ctx: Any, x: int) -> Any:
        return (yield ctx.schedule_activity("Work", x))

    @rt.register_orchestration("Parent")
    def parent(ctx: Any, x: int) -> Any:
        a = yield ctx.schedule_activity("Work", x)
        return (yield ctx.schedule_sub_orchestration("Child", a))

    @rt.register_orchestration("FanOut")
    def fanout(ctx: Any, x: int) -> Any:
        results = yield ctx.all([ctx.schedule_activity("Work", x + i) for i in range(FANOUT_WIDTH)])
        return sum(dx.parse_result(results))

    @rt.register_orchestration("Chain")
    def chain(ctx: Any, n: int) -> Any:
        if n >= size:
            return n
        return (yield ctx.continue_as_new(n + 1))


def measure(runtime: str, workload: str, size: int, db: Path) -> dict[str, Any]:
    """Run one workload on one runtime in this process; return the clock and counts."""
    module = "duroxide" if runtime == "duroxide" else "durascope.compat.duroxide"
    dx = importlib.import_module(module)
    remove_store(db)
    provider = dx.SqliteProvider.open(str(db))
    rt = dx.Runtime(provider)
    _register(dx, rt, size)
    rt.start()
    client = dx.Client(provider)
    if workload == "parent_child":
        starts = [(f"p{i}", "Parent", i) for i in range(size)]
    elif workload == "fanout":
        starts = [(f"f{i}", "FanOut", i) for i in range(size)]
    elif workload == "can_chain":
        starts = [("chain", "Chain", 1)]
    else:
        raise ValueError(f"unknown workload {workload!r}")
    t0 = time.perf_counter()
    deadline = t0 + DEADLINE_S
    for instance, name, arg in starts:
        client.start_orchestration(instance, name, arg)
    for instance, _, _ in starts:
        left_ms = max(1, int((deadline - time.perf_counter()) * 1000))
        try:
            status = client.wait_for_orchestration(instance, left_ms)
        except Exception as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            return {"error": f"{instance}: not finished ({first[:200]})"}
        if status.status != "Completed":
            return {"error": f"{instance} ended {status.status}: {str(status.error)[:200]}"}
    seconds = time.perf_counter() - t0
    rt.shutdown()
    return {"seconds": seconds, "orchestrations": len(starts)}


def count_turns(db: Path) -> dict[str, int | None]:
    """Inferred turns (the same counting for both stores), and journal rows if any."""
    from durascope.replay import Timeline, open_model

    model = open_model(db)
    try:
        model.load_all()
        inferred = 0
        instances = 0
        for instance in model:
            instances += 1
            # Without its journal, a durascope instance's timeline is inferred
            # exactly as a duroxide instance's is.
            bare = dataclasses.replace(instance, _turns=(), _turn_loader=None)
            inferred += len(Timeline.of(bare))
    finally:
        model.close()
    captured: int | None = None
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "turns" in tables:
            captured = int(conn.execute("SELECT count(*) FROM turns").fetchone()[0])
    return {"turns": inferred, "captured_turns": captured, "instances": instances}


def one_run(runtime: str, workload: str, size: int, workdir: Path) -> dict[str, Any]:
    """One measurement in a fresh subprocess, then the turn count from its store."""
    db = workdir / f"{workload}.{runtime}.db"
    args = ["-m", "bench.throughput", "--worker", runtime, workload, str(size), "--db", str(db)]
    result: dict[str, Any] = run_json(args, timeout=DEADLINE_S + 120)
    if "error" not in result:
        result.update(count_turns(db))
    remove_store(db)
    return result


# ─── The table ───────────────────────────────────────────────────


def run_workload(workload: str, size: int, rounds: int, workdir: Path) -> Row:
    """Interleaved rounds of one workload on both runtimes; one table row."""
    runs: dict[str, list[dict[str, Any]]] = {r: [] for r in RUNTIMES}
    failures: dict[str, list[str]] = {r: [] for r in RUNTIMES}
    for round_ in range(rounds):
        order = RUNTIMES if round_ % 2 == 0 else tuple(reversed(RUNTIMES))
        for runtime in order:
            for _ in range(ATTEMPTS):
                result = one_run(runtime, workload, size, workdir)
                if "error" not in result:
                    runs[runtime].append(result)
                    break
                failures[runtime].append(result["error"])
            else:
                raise RuntimeError(
                    f"{runtime} failed {workload} {ATTEMPTS} times: {failures[runtime][-1]}"
                )
    figures: dict[str, dict[str, float]] = {}
    for runtime, results in runs.items():
        turns = results[-1]["turns"]
        seconds = median([r["seconds"] for r in results])
        figures[runtime] = {
            "seconds": seconds,
            "turns": turns,
            "orch_s": median([r["orchestrations"] / r["seconds"] for r in results]),
            "turns_s": median([r["turns"] / r["seconds"] for r in results]),
        }
    paired = [
        d["seconds"] and x["seconds"] / d["seconds"]
        for d, x in zip(runs["durascope"], runs["duroxide"], strict=True)
    ]
    ds, dx = figures["durascope"], figures["duroxide"]
    label = {
        "parent_child": f"{size} × (activity, then child with 1 activity)",
        "fanout": f"{size} × fan-out of {FANOUT_WIDTH} activities",
        "can_chain": f"continue-as-new chain of {size} executions",
    }[workload]
    return {
        "workload": label,
        "rounds": rounds,
        "durascope s": ds["seconds"],
        "duroxide s": dx["seconds"],
        "durascope orch/s": ds["orch_s"],
        "duroxide orch/s": dx["orch_s"],
        "orch/s ratio": ratio(ds["orch_s"], dx["orch_s"]),
        "durascope turns": int(ds["turns"]),
        "duroxide turns": int(dx["turns"]),
        "journal turns": runs["durascope"][-1]["captured_turns"],
        "durascope turns/s": ds["turns_s"],
        "duroxide turns/s": dx["turns_s"],
        "turns/s ratio": ratio(ds["turns_s"], dx["turns_s"]),
        "paired ratio range": f"{min(paired):.2f}–{max(paired):.2f}",
        "failed runs (retried)": " / ".join(f"{r} {len(failures[r])}" for r in RUNTIMES),
        "first failure": next((f"{r}: {failures[r][0]}" for r in RUNTIMES if failures[r]), ""),
    }


def sizes_for(size: int) -> dict[str, int]:
    """Each workload's size from one scale: ``size`` parent/child roots, ``size // 50``
    fan-outs, a chain of ``2 * size`` executions (500 gives 500, 10 and 1,000)."""
    return {"parent_child": size, "fanout": max(1, size // 50), "can_chain": max(2, 2 * size)}


def run(
    size: int = FULL_SIZE,
    *,
    rounds: int = 5,
    workloads: tuple[str, ...] = WORKLOADS,
    sizes: dict[str, int] | None = None,
) -> list[Row]:
    """Every workload on both runtimes in interleaved rounds; one row per workload.

    Args:
        size: The scale (see :func:`sizes_for`); ``sizes`` overrides it per workload.
        rounds: Runs of each workload on each runtime (the median is reported).
        workloads: Which workloads to run.
        sizes: Explicit sizes per workload.

    Ratios are durascope / duroxide (above 1.0: durascope is faster).
    """
    chosen = {**sizes_for(size), **(sizes or {})}
    with tempfile.TemporaryDirectory(prefix="durascope-bench-") as tmp:
        return [run_workload(w, chosen[w], rounds, Path(tmp)) for w in workloads]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path)
    parser.add_argument("args", nargs="*")
    parser.add_argument("--rounds", type=int, default=3)
    ns = parser.parse_args(argv)
    if ns.worker:
        runtime, workload, size = ns.args
        result = measure(runtime, workload, int(size), ns.db)
        print(json.dumps(result), flush=True)
        if "error" in result:  # a stuck instance may hold the runtime's shutdown forever
            os._exit(0)
        return
    from bench import markdown_table

    workload = ns.args[0] if ns.args else "parent_child"
    size = int(ns.args[1]) if len(ns.args) > 1 else sizes_for(FULL_SIZE)[workload]
    print(markdown_table(run(rounds=ns.rounds, workloads=(workload,), sizes={workload: size})))


if __name__ == "__main__":
    main(sys.argv[1:])
