"""Durascope stores in states a test needs, written by the durascope runtime itself.

:func:`queued_child_starts` stops a tree mid-flight: turns are taken one at a
time (fetch, process, ack, as a dispatcher does), so the store ends with a
child's ``StartOrchestration`` queued and not yet processed, deterministically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from durascope.runtime import Runtime, RuntimeOptions, SqliteStore
from durascope.runtime._dispatchers import Dispatchers, now_ms

ROOT_ID = "tree-root"
MIDDLE_ID = "tree-root::sub::3"
"""The root's child (auto id), created: its start was processed."""
GRANDCHILD_ID = "tree-root::sub::3::sub::2"
"""The middle child's child (auto id): its start is queued, the instance does not exist."""
BYSTANDER_ID = "bystander"
"""An unrelated root whose start is queued too."""


def register_tree(runtime: Runtime) -> None:
    """Root -> middle -> leaf, each scheduling its child with an auto id."""

    @runtime.register_orchestration("Root")
    def root(ctx: Any, x: Any) -> Any:
        ctx.set_custom_status("root waiting")
        return (yield ctx.schedule_sub_orchestration("Middle", x))

    @runtime.register_orchestration("Middle")
    def middle(ctx: Any, x: Any) -> Any:
        return (yield ctx.schedule_sub_orchestration("Leaf", x))

    @runtime.register_orchestration("Leaf")
    def leaf(ctx: Any, x: Any) -> Any:
        return x
        yield  # a generator


async def take_turn(store: SqliteStore, dispatchers: Dispatchers, instance: str) -> None:
    """Fetch the batch at the queue head (it must be ``instance``'s) and process it."""
    batch = await store.fetch_orchestration_batch(now_ms=now_ms(), lock_ms=30_000)
    assert batch is not None and batch.instance == instance, batch
    outcome = await dispatchers.process_batch(batch)
    assert outcome is not None


async def queued_child_starts(db: Path) -> None:
    """A store whose grandchild start (and a bystander's start) are queued, unprocessed."""
    store = await SqliteStore.open(db)
    try:
        runtime = Runtime(store, RuntimeOptions(worker_id="stepped"))
        register_tree(runtime)
        client = runtime.client()
        dispatchers = Dispatchers(store, runtime.registry, runtime.options)
        await client.start_orchestration(ROOT_ID, "Root", "root input")
        await take_turn(store, dispatchers, ROOT_ID)  # schedules the middle child
        await client.start_orchestration(BYSTANDER_ID, "Leaf", "bystander input")
        await take_turn(store, dispatchers, MIDDLE_ID)  # starts it; it schedules the leaf
    finally:
        await store.close()


def durascope_secrets(db: Path) -> None:
    """:func:`~tests.replay.duroxide_stores.secret_payloads` on the durascope runtime."""
    import durascope.compat.duroxide as dx
    from tests.replay.duroxide_stores import secret_payloads

    provider = dx.SqliteProvider.open(str(db))
    try:
        secret_payloads(dx, provider, dx.Runtime(provider))
    finally:
        provider.close()
