"""TUI responsiveness, driven with Textual's Pilot (a benchmark, not a timed test).

- first screen: from constructing the app on a store with ``size`` instances to the
  browser's table holding every row (diagnosis still running in its worker);
- key to repaint: stepping through an instance whose history has ~``size`` events,
  timed from the key press until the app is idle again (messages handled, panels
  redrawn); median and p99 over many presses.

Baselines measured in the same run: opening the store's view model alone (what the
first screen must at least do), and one ``Timeline.state_after`` per step (what a
step must at least compute).

Run by hand: ``python -m bench.bench_tui 10000``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import median, percentile


def _instances_store(directory: Path, size: int) -> Path:
    """A durascope store with about ``size`` instances (replicated real histories)."""
    from bench.inspection import make_template, replicate, template_counts

    template = directory / "template.db"
    make_template(template)
    counts = template_counts(template)
    per_instance = max(counts["history"] // max(counts["instances"], 1), 1)
    db = directory / "instances.db"
    replicate(template, db, size * per_instance)
    return db


def _long_history_bundle(directory: Path, events: int) -> tuple[Path, str]:
    """A bundle holding one instance with about ``events`` history events."""
    from durascope.replay import build_bundle, model_from_simulation, write_bundle
    from durascope.runtime import Registry, Simulation

    def long_running(ctx: Any, n: int) -> Any:
        total = 0
        for i in range(n):
            total += yield ctx.schedule_activity("Inc", i)
        return total

    registry = Registry()
    registry.add_orchestration("LongRunning", long_running)
    registry.add_activity("Inc", lambda ctx, x: x + 1)
    sim = Simulation(registry)
    sim.start("long", "LongRunning", events // 2)
    asyncio.run(sim.run(max_turns=events + 10))
    path = directory / "long.json"
    write_bundle(build_bundle(model_from_simulation(sim)), path)
    return path, "long"


async def _first_screen(db: Path) -> float:
    from textual.widgets import DataTable

    from durascope.tui import DurascopeApp

    start = time.perf_counter()
    app = DurascopeApp(db, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one("#instances", DataTable)
        while table.row_count < len(app.session.model.instances):
            await pilot.pause(0.005)
        elapsed = time.perf_counter() - start
        await app.workers.wait_for_complete()
    return elapsed


async def _key_to_repaint(bundle: Path, instance: str, presses: int) -> list[float]:
    """From the key press to the end of the screen refresh that shows the new turn.

    The end is taken when the screen's compositor has finished rendering the update
    (Pilot's own waits for idleness are not counted).
    """
    from durascope.tui import DurascopeApp

    app = DurascopeApp(bundle, instance=instance, poll=False)
    timings: list[float] = []
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        refreshed: list[float] = []
        original = screen._compositor_refresh

        def timed_refresh() -> None:
            original()
            refreshed.append(time.perf_counter())

        screen._compositor_refresh = timed_refresh  # type: ignore[method-assign]
        for i in range(presses):
            key = "right" if (i // 50) % 2 == 0 else "left"
            refreshed.clear()
            start = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            await pilot.pause(0.02)  # let the screen's refresh timer run
            if refreshed:
                timings.append(refreshed[-1] - start)
    return timings


def run(size: int = 10_000) -> list[dict[str, Any]]:
    """Measure first screen and key-to-repaint at ``size`` instances / events."""
    from durascope.replay import Timeline, open_model

    with tempfile.TemporaryDirectory(prefix="durascope-bench-tui-") as tmp:
        directory = Path(tmp)
        db = _instances_store(directory, size)
        start = time.perf_counter()
        model = open_model(db)
        instances = len(model.instances)
        model.close()
        open_only = time.perf_counter() - start
        first = asyncio.run(_first_screen(db))

        bundle, instance = _long_history_bundle(directory, size)
        presses = 200 if size >= 1000 else 20
        timings = asyncio.run(_key_to_repaint(bundle, instance, presses))
        model = open_model(bundle)
        timeline = Timeline.of(model.instance(instance))
        events = len(model.instance(instance).execution(1).events)
        steps = []
        for i in range(presses):
            t0 = time.perf_counter()
            timeline.state_after(min(i, len(timeline) - 1))
            steps.append(time.perf_counter() - t0)
    return [
        {
            "benchmark": "tui first screen",
            "size": f"{instances} instances",
            "value_s": first,
            "baseline": "open_model alone",
            "baseline_s": open_only,
            "target": "< 1 s",
        },
        {
            "benchmark": "tui key to repaint (median)",
            "size": f"{events} events",
            "value_s": median(timings),
            "baseline": "state_after (median)",
            "baseline_s": median(steps),
            "target": "< 50 ms",
        },
        {
            "benchmark": "tui key to repaint (p99)",
            "size": f"{events} events",
            "value_s": percentile(timings, 99),
            "baseline": "state_after (p99)",
            "baseline_s": percentile(steps, 99),
            "target": "< 50 ms",
        },
    ]


if __name__ == "__main__":
    for row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000):
        print(row)
