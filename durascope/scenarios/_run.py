"""Run scenarios on a store file with the real runtime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from durascope.runtime import Client, Runtime, RuntimeOptions, SqliteStore
from durascope.scenarios._catalog import SCENARIOS, Scenario

Progress = Callable[[str], None]


async def settle(store: SqliteStore, *, quiet_s: float = 0.3, timeout_s: float = 15.0) -> None:
    """Wait until no work is due: nothing visible on either queue for ``quiet_s``.

    Hung instances never finish, so "every instance is terminal" cannot be the test;
    "nothing left to do now" is.
    """
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        now = int(time.time() * 1000)
        due = [
            m for m in await store.pending_orchestrator_messages() if m.visible_at_ms <= now + 50
        ]
        work = await store.pending_work_items()
        if due or work:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        await asyncio.sleep(0.05)


async def _run_group(
    store: SqliteStore, group: Sequence[Scenario], register_attr: str, drive_attr: str
) -> None:
    policy = group[0].policy
    runtime = Runtime(store, RuntimeOptions(policy=policy, worker_id=f"demo-{policy}"))
    for s in group:
        getattr(s, register_attr)(runtime)
    await runtime.start()
    client = runtime.client()
    try:
        await asyncio.gather(*(getattr(s, drive_attr)(client) for s in group))
        await settle(store)
    finally:
        await runtime.shutdown()


async def run_scenarios(
    path: str | Path, names: Sequence[str] | None = None, progress: Progress | None = None
) -> list[Scenario]:
    """Run the named scenarios (all by default) into the store at ``path``.

    Scenarios of one policy share a runtime; a scenario that simulates a deployment
    gets a second runtime with its changed code afterwards.  Last, with no runtime
    running, each scenario's ``after_shutdown`` client calls run (what they enqueue
    stays queued).
    """
    chosen = [s for s in SCENARIOS if names is None or s.name in names]
    store = await SqliteStore.open(path)
    try:
        for policy in ("fixed", "legacy"):
            group = [s for s in chosen if s.policy == policy]
            if not group:
                continue
            if progress:
                progress(f"running {len(group)} scenarios under the {policy} policy")
            await _run_group(store, group, "register", "drive")
            changed = [s for s in group if s.code_change is not None]
            if changed:
                if progress:
                    progress("restarting with changed code: " + ", ".join(s.name for s in changed))
                await _run_group(store, changed, "code_change", "after_change")
        client = Client(store)
        for s in chosen:
            if s.after_shutdown is not None:
                await s.after_shutdown(client)
    finally:
        await store.close()
    return chosen
