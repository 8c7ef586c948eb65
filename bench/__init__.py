"""durascope's benchmark harness (``make bench`` / ``python -m bench``).

Benchmarks, not timed tests: every figure is printed next to a baseline
measured in the same run (so a ratio holds on a noisy machine), and nothing
here fails on a slow run.  ``tests/test_bench.py`` runs each benchmark at a
tiny size and checks the shape of its rows.

Each benchmark module exposes ``run(size) -> list[dict]``: one dict per table
row, the same keys in every row.  This module holds what they share: machine
description, statistics, subprocess helpers and markdown rendering.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The checkout the harness runs from (put on ``PYTHONPATH`` of every subprocess)."""

Row = dict[str, Any]


# ─── The machine ─────────────────────────────────────────────────


def cpu_model() -> str:
    """The CPU model from ``/proc/cpuinfo`` (or ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_line(now: _dt.datetime | None = None) -> str:
    """One line describing where the figures were measured."""
    when = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    return (
        f"{cores} cores, {cpu_model()}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}, {when}"
    )


# ─── Statistics ──────────────────────────────────────────────────


def median(values: Sequence[float]) -> float:
    """The median (``nan`` for no values)."""
    return float(statistics.median(values)) if values else math.nan


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), nearest-rank: a value that was actually observed."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the divisor is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


# ─── Subprocesses ────────────────────────────────────────────────


def subprocess_env() -> dict[str, str]:
    """The environment of a measurement subprocess: this checkout first on the path."""
    path = os.environ.get("PYTHONPATH", "")
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT) + (os.pathsep + path if path else ""),
        "RUST_LOG": os.environ.get("RUST_LOG", "error"),
        "PYTHONHASHSEED": "0",
    }


def run_json(args: Sequence[str], timeout: float = 1800) -> Any:
    """Run ``python -m ARGS`` in a fresh interpreter; its last stdout line is JSON.

    Raises:
        RuntimeError: The process failed (with the tail of its stderr).
    """
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit code {proc.returncode}\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{' '.join(args)}: no output\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def remove_store(path: Path) -> None:
    """Delete a SQLite file and its ``-wal`` / ``-shm`` companions."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# ─── Rendering ───────────────────────────────────────────────────


def format_value(value: Any) -> str:
    """A table cell: floats to 3 significant digits (or thousands), None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.1f}"
        if magnitude >= 1:
            return f"{value:.2f}"
        if magnitude == 0:
            return "0"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[Row]) -> str:
    """Rows as a GitHub markdown table (columns: every key, in first-seen order)."""
    if not rows:
        return "_no rows_\n"
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    numeric = {
        c
        for c in columns
        if all(isinstance(r.get(c), int | float) or r.get(c) is None for r in rows)
        and any(isinstance(r.get(c), int | float) for r in rows)
    }
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---:" if c in numeric else "---" for c in columns) + "|"
    body = ["| " + " | ".join(format_value(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body]) + "\n"
