"""A runtime process for crash and contention tests: ``python -m tests.programs.mixed_workload``.

``run DB [SECONDS]`` runs a runtime on DB (until killed or for SECONDS);
``start DB N PREFIX`` starts N instances of ``Mixed``.  Each ``Mixed(i)`` uses
activities, a timer, a child and continue-as-new, and its output is a pure
function of ``i`` (``expected_output``), so a test can check every result.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from durascope.runtime import Client, Runtime, RuntimeOptions, SqliteStore

OPTIONS = RuntimeOptions(
    orchestration_lock_ms=1500, worker_lock_ms=1500, worker_id=f"mixed-{os.getpid()}"
)


def expected_output(i: int) -> list[int]:
    """What ``Mixed(i)`` returns."""
    return [i + 1, (i + 1) * 2 + 1, i % 3]


def add_code(runtime: Runtime) -> None:
    """Register the workload's orchestrations and activities."""

    @runtime.register_activity("Inc")
    def inc(ctx: Any, x: int) -> int:
        time.sleep(0.005)  # long enough for a kill to land inside an activity
        return x + 1

    @runtime.register_orchestration("Double")
    def double(ctx: Any, x: int) -> Any:
        y = yield ctx.schedule_activity("Inc", x * 2)
        return y

    @runtime.register_orchestration("Mixed")
    def mixed(ctx: Any, inp: Any) -> Any:
        i, round_ = (inp, 0) if isinstance(inp, int) else (inp[0], inp[1])
        if round_ < i % 3:
            yield ctx.schedule_timer(5)
            return (yield ctx.continue_as_new([i, round_ + 1]))
        a = yield ctx.schedule_activity("Inc", i)
        b = yield ctx.schedule_sub_orchestration("Double", a)
        yield ctx.schedule_timer(5)
        return [a, b, round_]


async def run(db: str, seconds: float | None) -> None:
    """Run a runtime until killed (or for ``seconds``)."""
    store = await SqliteStore.open(db)
    runtime = Runtime(store, OPTIONS)
    add_code(runtime)
    await runtime.start()
    try:
        if seconds is None:
            while True:
                await asyncio.sleep(3600)
        await asyncio.sleep(seconds)
    finally:
        await runtime.shutdown()
        await store.close()


async def start(db: str, n: int, prefix: str) -> None:
    """Start ``n`` instances named ``{prefix}{i}``."""
    store = await SqliteStore.open(db)
    client = Client(store)
    for i in range(n):
        await client.start_orchestration(f"{prefix}{i}", "Mixed", i)
    await store.close()


def main(argv: list[str]) -> None:
    """Command-line entry point."""
    if argv[0] == "run":
        asyncio.run(run(argv[1], float(argv[2]) if len(argv) > 2 else None))
    elif argv[0] == "start":
        asyncio.run(start(argv[1], int(argv[2]), argv[3]))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
