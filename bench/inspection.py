"""Scale of inspection: open, load and diagnose a durascope store of up to 1,000,000 events.

The store is generated in two steps (``generate``):

1. *Template.*  The real durascope runtime (through the compat facade, on a
   file-backed store) runs eight root ``Order`` orchestrations whose ids start
   with :data:`TEMPLATE_TOKEN`.  Each validates, waits on a timer, charges (a
   failing activity, caught, in some variants), ships through a child
   orchestration (two activities), reserves stock with a fan-out of one to four
   activities, sets a custom status, and continues-as-new once or twice before
   completing; so the template holds several executions, a child per parent
   execution, timers, failures, batches of completions and captured turns.
2. *Replication.*  One ``INSERT … SELECT`` per table copies every template row
   ``replicas`` times, replacing the token in ids and in the JSON of events and
   turn records (``replace(…, token, 'r000123')``), so each copy is a valid tree
   of its own: same shapes, distinct ids, consistent parent links and journal.

Each measurement runs in a fresh subprocess and reports its wall time and its
peak memory (``ru_maxrss`` after the step minus the resident size just before
it, so the interpreter and imports are not counted):

- ``baseline history``: ``sqlite3`` + ``json.loads`` over every
  ``history.event_data`` row, in the loader's order, keeping the decoded dicts
  grouped by execution (what a minimal in-memory loader would hold);
- ``baseline turns``: the same over every ``turns.record`` row;
- ``open_model``: read the index of instances and executions (events stay lazy);
- ``open_model + load_all``: every event decoded into the view model;
- ``diagnose``: the full diagnosis after ``load_all`` (builds each instance's
  timeline from its journal, resolves child links, runs every rule); its memory
  is the peak of the whole open + load + diagnose process.

Run by hand: ``python -m bench.inspection 1000000``.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import Row, ratio, remove_store, run_json

TEMPLATE_TOKEN = "ZqTpl"
"""Prefix of every template instance id; replaced by the replica's id when copying."""

VARIANTS = 8
FULL_SIZE = 1_000_000
QUICK_SIZE = 40_000
REPEATS = 3
REPEATED = frozenset({"scan history", "baseline history", "load_all"})
MEASUREMENTS = (
    "scan history",
    "baseline history",
    "baseline turns",
    "open_model",
    "load_all",
    "diagnose",
)

# ─── The store ───────────────────────────────────────────────────


def make_template(db: Path) -> None:
    """Run the template workload on the real runtime into ``db``."""
    from durascope.compat import duroxide as dx

    remove_store(db)
    provider = dx.SqliteProvider.open(str(db))
    rt = dx.Runtime(provider)

    @rt.register_activity("Validate")
    def validate(ctx: Any, v: int) -> int:
        return v * 10

    @rt.register_activity("Charge")
    def charge(ctx: Any, amount: int) -> int:
        if amount % 3 == 2:
            raise ValueError(f"card declined for {amount}")
        return amount

    @rt.register_activity("Pack")
    def pack(ctx: Any, x: int) -> str:
        return f"parcel-{x}"

    @rt.register_activity("Label")
    def label(ctx: Any, parcel: str) -> str:
        return f"{parcel}/label"

    @rt.register_activity("Reserve")
    def reserve(ctx: Any, item: int) -> int:
        return item + 1

    @rt.register_orchestration("Ship")
    def ship(ctx: Any, x: int) -> Any:
        parcel = yield ctx.schedule_activity("Pack", x)
        return (yield ctx.schedule_activity("Label", parcel))

    @rt.register_orchestration("Order")
    def order(ctx: Any, state: dict[str, int]) -> Any:
        v, round_ = state["v"], state["round"]
        checked = yield ctx.schedule_activity("Validate", v)
        yield ctx.schedule_timer(1)
        try:
            paid = yield ctx.schedule_activity("Charge", v + round_)
        except Exception:
            paid = 0
            ctx.set_custom_status("charge declined")
        shipped = yield ctx.schedule_sub_orchestration("Ship", checked + round_)
        reserved = yield ctx.all(
            [ctx.schedule_activity("Reserve", i) for i in range(1 + (v + round_) % 4)]
        )
        ctx.set_custom_status(f"round {round_} shipped")
        if round_ < 1 + v % 2:
            return (yield ctx.continue_as_new({"v": v, "round": round_ + 1}))
        return {"paid": paid, "shipped": shipped, "reserved": len(dx.parse_result(reserved))}

    rt.start()
    client = dx.Client(provider)
    roots = [f"{TEMPLATE_TOKEN}-{v}" for v in range(VARIANTS)]
    for v, root in enumerate(roots):
        client.start_orchestration(root, "Order", {"v": v, "round": 0})
    for root in roots:
        status = client.wait_for_orchestration(root, 60_000)
        if status.status != "Completed":
            raise RuntimeError(f"template {root} ended {status.status}: {status.error}")
    rt.shutdown()
    provider.close()
    with sqlite3.connect(db) as conn:  # fold the WAL back: a self-contained file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")


_COPIES = {
    "instances": (
        "replace(instance_id, :tok, r.id), orchestration_name, orchestration_version, "
        "current_execution_id, replace(parent_instance_id, :tok, r.id), custom_status, "
        "custom_status_version, created_at_ms + r.k, updated_at_ms + r.k"
    ),
    "executions": (
        "replace(instance_id, :tok, r.id), execution_id, status, output, "
        "started_at_ms + r.k, completed_at_ms + r.k"
    ),
    "history": (
        "replace(instance_id, :tok, r.id), execution_id, event_id, event_type, "
        "replace(event_data, :tok, r.id)"
    ),
    "turns": (
        "replace(instance_id, :tok, r.id), turn, execution_id, timestamp_ms + r.k, "
        "replace(record, :tok, r.id)"
    ),
}


def template_counts(template: Path) -> dict[str, int]:
    """Rows per table of the template store."""
    with sqlite3.connect(f"file:{template}?mode=ro", uri=True) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in _COPIES}


def start_replica_store(template: Path, db: Path, replicas: int) -> sqlite3.Connection:
    """A new ``db`` with the template's schema, inside a write transaction, ready to copy.

    The template is attached as ``tpl``, and ``temp.replica`` holds the replica
    ids ``(k, 'r000000k')`` for ``k < replicas``; the caller inserts the rows
    (see :data:`_COPIES`) and calls :func:`finish_replica_store`.
    """
    remove_store(db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    # The schema is the template's own (the runtime installed it).
    conn.execute("ATTACH DATABASE ? AS tpl", (f"file:{template}?mode=ro",))
    conn.execute("BEGIN")
    for (ddl,) in conn.execute(
        "SELECT sql FROM tpl.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        " ORDER BY type = 'index'"
    ).fetchall():
        conn.execute(ddl)
    conn.execute("INSERT INTO durascope_meta SELECT * FROM tpl.durascope_meta")
    conn.execute("CREATE TEMP TABLE replica (k INTEGER PRIMARY KEY, id TEXT NOT NULL)")
    conn.executemany(
        "INSERT INTO replica VALUES (?, ?)", [(k, f"r{k:07d}") for k in range(replicas)]
    )
    return conn


def finish_replica_store(conn: sqlite3.Connection) -> None:
    """Commit the copy, detach the template and leave an ordinary (rollback-journal) file."""
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE tpl")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = DELETE")


def replicate(template: Path, db: Path, events: int) -> dict[str, int]:
    """Write ``db``: the template's tables copied until about ``events`` history rows.

    Returns:
        Rows per table in the new store.
    """
    per_copy = template_counts(template)["history"]
    conn = start_replica_store(template, db, max(1, round(events / per_copy)))
    try:
        for table, columns in _COPIES.items():
            conn.execute(
                f"INSERT INTO main.{table} SELECT {columns} "  # fixed table names
                f"FROM temp.replica AS r, tpl.{table} ORDER BY r.k",
                {"tok": TEMPLATE_TOKEN},
            )
        finish_replica_store(conn)
        counts = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in _COPIES}
    finally:
        conn.close()
    return counts


# ─── Measurements (each in its own process) ──────────────────────


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _baseline(db: Path, table: str, keep: bool) -> int:
    """Decode every row of ``table`` with json.loads (kept grouped like the loader keeps them).

    The collector is paused, as ``load_all`` pauses it, so the baseline is a floor:
    nested turn-record dicts would otherwise cost the baseline several times over.
    """
    if table == "history":
        sql_text = (
            "SELECT instance_id, execution_id, event_data FROM history "
            "ORDER BY instance_id, execution_id, event_id"
        )
    else:
        sql_text = "SELECT instance_id, execution_id, record FROM turns ORDER BY instance_id, turn"
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    grouped: dict[tuple[str, int], list[Any]] = {}
    count = 0
    loads = json.loads
    gc.disable()
    try:
        for inst, ex, data in conn.execute(sql_text):
            value = loads(data)
            count += 1
            if keep:
                key = (inst, ex)
                bucket = grouped.get(key)
                if bucket is None:
                    bucket = grouped[key] = []
                bucket.append(value)
    finally:
        gc.enable()
    conn.close()
    _keep.append(grouped)
    return count


_keep: list[Any] = []
"""Results held until the peak is read (so nothing is freed before it)."""


def measure(kind: str, db: Path) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    from durascope.replay import diagnose, open_model

    gc.collect()
    before = _rss_kib()
    extra: dict[str, Any] = {}
    t0 = time.perf_counter()
    if kind == "scan history":
        extra["rows"] = _baseline(db, "history", keep=False)
    elif kind == "baseline history":
        extra["rows"] = _baseline(db, "history", keep=True)
    elif kind == "baseline turns":
        extra["rows"] = _baseline(db, "turns", keep=True)
    elif kind == "open_model":
        model = open_model(db)
        extra["rows"] = sum(len(i.executions) for i in model)
        _keep.append(model)
    elif kind == "load_all":
        model = open_model(db)
        extra["rows"] = model.load_all()
        _keep.append(model)
    elif kind == "diagnose":
        model = open_model(db)
        extra["rows"] = model.load_all()
        t1 = time.perf_counter()
        findings = diagnose(model)
        extra["diagnose_seconds"] = time.perf_counter() - t1
        extra["findings"] = len(findings)
        extra["errors"] = [f.message for f in findings if f.severity == "error"][:5]
        extra["error_count"] = sum(1 for f in findings if f.severity == "error")
        _keep.append((model, findings))
    else:
        raise ValueError(f"unknown measurement {kind!r}")
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_kib": max(0, peak - before), **extra}


# ─── The table ───────────────────────────────────────────────────


def _generate(template: Path, db: Path, events: int) -> tuple[dict[str, int], float]:
    t0 = time.perf_counter()
    counts = replicate(template, db, events)
    return counts, time.perf_counter() - t0


def run(
    size: int = FULL_SIZE,
    *,
    sizes: tuple[int, ...] | None = None,
    workdir: Path | None = None,
) -> list[Row]:
    """Generate stores of ``size / 4``, ``size / 2`` and ``size`` events and measure each.

    Args:
        size: Events in the largest store.
        sizes: Explicit store sizes instead.
        workdir: Where the stores are generated (a temporary directory by default).

    Returns:
        Per store size: the baselines, then durascope's open, load and diagnose, each
        with seconds, peak memory, bytes per event and its ratio to the baseline named
        in the row, measured on the same store in the same run.
    """
    if sizes is None:
        sizes = (size // 4, size // 2, size)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="durascope-inspect-", dir=workdir) as tmp:
        template = Path(tmp) / "template.db"
        run_json(["-m", "bench.inspection", "--template", str(template)])
        for events in sizes:
            db = Path(tmp) / f"store-{events}.db"
            counts, gen_seconds = _generate(template, db, events)
            results = _measure_all(db)
            rows += _rows(counts, gen_seconds, results)
            remove_store(db)
    return rows


def _measure_all(db: Path) -> dict[str, dict[str, Any]]:
    """Each measurement in its own process; the load and its baselines :data:`REPEATS` times.

    The repeated ones alternate (scan, baseline, load, scan, baseline, load, ...) and
    report the run with the median time, so the load's ratio to its baseline does not
    hang on one noisy sample.
    """
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in MEASUREMENTS}
    for round_ in range(REPEATS):
        for kind in MEASUREMENTS:
            if round_ == 0 or kind in REPEATED:
                runs[kind].append(run_json(["-m", "bench.inspection", "--measure", kind, str(db)]))
    return {k: sorted(v, key=lambda r: r["seconds"])[(len(v) - 1) // 2] for k, v in runs.items()}


def _rows(counts: dict[str, int], gen_seconds: float, results: dict[str, Any]) -> list[Row]:
    """The table rows of one store size, each ratio against a baseline of the same run."""
    events = counts["history"]
    diag = results["diagnose"]
    if diag["error_count"]:
        raise RuntimeError(f"the generated store has error findings: {diag['errors']}")
    a, b = results["baseline history"], results["baseline turns"]
    both = {"seconds": a["seconds"] + b["seconds"], "peak_kib": a["peak_kib"] + b["peak_kib"]}
    store = (
        f"{counts['instances']:,} instances, {counts['executions']:,} executions, "
        f"{counts['turns']:,} turns; generated in {gen_seconds:.1f}s"
    )
    found = f"{diag['findings']} findings ({diag['error_count']} errors)"
    spec: list[tuple[str, int, float, int | None, str, dict[str, Any] | None, str]] = [
        # label, rows read, seconds, peak KiB, baseline name, baseline figures, note
        ("scan: sqlite3 + json.loads history, discarded", events,
         results["scan history"]["seconds"], None, "-", None, "the floor: read and parse"),
        ("A: sqlite3 + json.loads history, kept", events, a["seconds"], a["peak_kib"],
         "-", None, store),
        ("B: sqlite3 + json.loads turns, kept", counts["turns"], b["seconds"], b["peak_kib"],
         "-", None, "the journal diagnose reads"),
        ("open_model (index only)", counts["executions"], results["open_model"]["seconds"],
         results["open_model"]["peak_kib"], "A", a, "events stay lazy"),
        ("open_model + load_all", events, results["load_all"]["seconds"],
         results["load_all"]["peak_kib"], "A", a,
         f"{events / results['load_all']['seconds']:,.0f} events/s"),
        ("diagnose (after load_all)", events, diag["diagnose_seconds"], None, "B", b,
         f"{found}; decodes the journal, builds every timeline"),
        ("open + load_all + diagnose", events, diag["seconds"], diag["peak_kib"], "A+B", both,
         "memory: the whole process peak"),
    ]  # fmt: skip
    rows: list[Row] = []
    for label, read, seconds, peak_kib, base_name, base, note in spec:
        peak = peak_kib * 1024 if peak_kib is not None else None
        rows.append(
            {
                "events": events,
                "measurement": label,
                "rows read": read,
                "seconds": seconds,
                "baseline": base_name,
                "× baseline time": ratio(seconds, base["seconds"]) if base else None,
                "peak MiB": peak / 2**20 if peak is not None else None,
                "bytes/event": peak / events if peak is not None else None,
                "× baseline memory": (
                    ratio(peak, base["peak_kib"] * 1024) if base and peak is not None else None
                ),
                "note": note,
            }
        )
    return rows


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inspection")
    parser.add_argument("--template", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("EVENTS", "DB"), help="write a store")
    parser.add_argument("sizes", nargs="*", type=int)
    ns = parser.parse_args(argv)
    if ns.template:
        make_template(ns.template)
        print(json.dumps(template_counts(ns.template)))
        return
    if ns.measure:
        print(json.dumps(measure(ns.measure[0], Path(ns.measure[1]))))
        return
    if ns.generate:
        with tempfile.TemporaryDirectory() as tmp:
            template = Path(tmp) / "template.db"
            run_json(["-m", "bench.inspection", "--template", str(template)])
            print(json.dumps(replicate(template, Path(ns.generate[1]), int(ns.generate[0]))))
        return
    from bench import markdown_table

    print(markdown_table(run(sizes=tuple(ns.sizes) or None)))


if __name__ == "__main__":
    main(sys.argv[1:])
