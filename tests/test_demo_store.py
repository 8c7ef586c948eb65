"""``durascope demo -o STORE`` replaces only a store the demo wrote.

- Re-running the demo over its own store works (it is idempotent), also after an
  interrupted run (the store is stamped before any scenario runs).
- Anything else at ``-o`` is refused with one line naming the file and suggesting
  another ``-o``, and left exactly as it was: a store of the user's (written by
  ``examples/run_my_orchestrations.py``), a duroxide store, a file that is not
  SQLite, an empty file, a directory, a symlink to a user's store, and a demo store
  into which the user has since started an instance of their own.
- What the user's client queued counts too: a demo store whose queues hold a
  start or an event the demo did not leave is kept, even one addressed to a demo
  instance.  A store the demo did not finish (stamped, but without the record of
  what it wrote) may name only ids the scenarios use, in any table or message.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from durascope.compat.duroxide import Client, Runtime, SqliteProvider
from durascope.runtime import Client as StoreClient
from durascope.runtime import SqliteStore
from durascope.scenarios import (
    SCENARIOS,
    check_replaceable,
    create_demo_store,
    record_demo_instances,
    run_scenarios,
)
from durascope.scenarios._demo_store import is_scenario_instance, read_contents
from tests.directory import snapshot
from tests.reliability.hostile import check_clean, run_cli
from tests.test_examples import run_example

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_STORE = ROOT / "fixtures" / "scenarios.db"


def demo(output: Path) -> tuple[int, str, str]:
    args = ["demo", "-o", str(output), "--no-tui"]
    code, stdout, stderr = run_cli(args)
    check_clean(args, code, stdout, stderr)
    return code, stdout, stderr


def assert_refused(output: Path, reason: str) -> None:
    before = snapshot(output.parent)
    code, stdout, stderr = demo(output)
    assert code == 2, stdout + stderr
    assert stdout == ""  # refused before it said anything about running
    assert stderr.startswith(f"durascope: error: {output.resolve()}: {reason}"), stderr
    assert "refusing to replace it" in stderr and "another -o" in stderr
    assert snapshot(output.parent) == before


def instance_ids(db: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    try:
        return {str(r[0]) for r in conn.execute("SELECT instance_id FROM instances")}
    finally:
        conn.close()


@pytest.mark.slow
def test_the_demo_replaces_its_own_store(tmp_path: Path) -> None:
    store = tmp_path / "durascope-demo.db"
    for _ in range(2):
        code, stdout, stderr = demo(store)
        assert code == 0, stdout + stderr
        assert f"wrote the store {store}" in stdout
    assert "legacy-loop" in instance_ids(store)
    # An interrupted run leaves the stamped, partly written store: the next run replaces it.
    store.unlink()
    create_demo_store(store)
    code, stdout, stderr = demo(store)
    assert code == 0, stdout + stderr


@pytest.mark.slow
def test_a_store_of_the_users_is_refused(tmp_path: Path) -> None:
    """The reviewer's case: ``examples/run_my_orchestrations.py`` wrote ./orders.db."""
    proc = run_example("run_my_orchestrations.py", "--no-tui", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    orders = tmp_path / "orders.db"
    assert "order-0" in instance_ids(orders)
    assert_refused(orders, "it is a durascope store the demo did not write")
    (tmp_path / "link.db").symlink_to(orders.name)  # -o through a symlink: the same store
    assert_refused(tmp_path / "link.db", "it is a durascope store the demo did not write")


def write_text(path: Path) -> Path:
    path.write_text("my notes\n")
    return path


def write_empty(path: Path) -> Path:
    path.touch()
    return path


def write_directory(path: Path) -> Path:
    path.mkdir()
    (path / "inside.txt").write_text("kept\n")
    return path


def write_other_sqlite(path: Path) -> Path:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE mine (x)")
        conn.execute("INSERT INTO mine VALUES (1)")
    conn.close()
    return path


def write_scenario_store(path: Path) -> Path:
    shutil.copyfile(SCENARIO_STORE, path)  # the scenarios' own ids, but not the demo's stamp
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (write_text, "it is not a SQLite store"),
        (write_empty, "it is not a SQLite store"),
        (write_directory, "it is a directory"),
        (write_other_sqlite, "it is not a durascope store"),
        (write_scenario_store, "it is a durascope store the demo did not write"),
    ],
)
def test_anything_else_is_refused(
    make: Callable[[Path], Path], reason: str, tmp_path: Path
) -> None:
    assert_refused(make(tmp_path / "durascope-demo.db"), reason)


def test_a_duroxide_store_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("duroxide", reason="the real duroxide package writes duroxide stores")
    from tests.replay.duroxide_stores import generate

    db = generate(tmp_path / "dx", ["healthy"])["healthy"]
    # As copied for a postmortem: no -shm (whether duroxide's exit left a -wal varies).
    # Reading a store whose -shm is there may touch that index, which the snapshot
    # would see; see tests/reliability/test_read_only.py.
    Path(f"{db}-shm").unlink(missing_ok=True)
    assert_refused(db, "it is not a durascope store")


@pytest.mark.slow
def test_a_demo_store_the_user_added_to_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "durascope-demo.db"
    code, stdout, stderr = demo(store)
    assert code == 0, stdout + stderr
    run_own_order(store)
    assert_refused(store, "it holds 1 instance the demo did not start (my-own-order)")


@pytest.mark.slow
def test_without_dot_the_install_hint_is_printed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("graphviz")
    from durascope.viz import INSTALL_HINT

    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code, stdout, stderr = demo(tmp_path / "durascope-demo.db")
    assert code == 0, stdout + stderr
    line = next(x for x in stdout.splitlines() if x.startswith("durascope demo: no .svg graph"))
    assert line.endswith(f"{INSTALL_HINT})"), line
    assert "graph of legacy-loop" in stdout  # the .dot needs nothing installed


QUICK = ["healthy-loop", "queued-orphan"]
"""Two scenarios, one of which leaves an event queued (as the full demo does)."""


def quick_demo_store(path: Path, *, finished: bool = True) -> Path:
    """A store as ``durascope demo`` writes it, with fewer scenarios (fast)."""
    create_demo_store(path)
    asyncio.run(run_scenarios(path, QUICK))
    if finished:
        record_demo_instances(path)
    return path


def client_calls(path: Path, *calls: tuple[str, str, object]) -> None:
    """The user's client, with no runtime running: what it sends stays queued."""

    async def run() -> None:
        store = await SqliteStore.open(path)
        try:
            client = StoreClient(store)
            for kind, instance, arg in calls:
                if kind == "start":
                    await client.start_orchestration(instance, "UserOrder", arg)
                else:
                    await client.raise_event(instance, "payment", arg)
        finally:
            await store.close()

    asyncio.run(run())


def test_a_finished_demo_store_with_its_own_queued_messages_is_replaceable(
    tmp_path: Path,
) -> None:
    store = quick_demo_store(tmp_path / "durascope-demo.db")
    db = sqlite3.connect(store)
    (queued,) = db.execute("SELECT instance_id FROM orchestrator_queue").fetchall()
    db.close()
    assert queued == ("queued-ghost",)  # the demo leaves this one itself
    check_replaceable(store)


@pytest.mark.parametrize(
    ("calls", "reason"),
    [
        (
            [("start", "user-order-42", {"sku": 7}), ("event", "healthy-loop", "paid")],
            "its queues hold 2 messages the demo did not write (for healthy-loop, user-order-42)",
        ),
        ([("start", "user-order-42", 1)], "its queues hold 1 message the demo did not write"),
        # Addressed to a demo instance, but not written by the demo.
        ([("event", "queued-ghost", "mine")], "its queues hold 1 message the demo did not write"),
    ],
)
def test_a_demo_store_with_messages_the_user_queued_is_refused(
    tmp_path: Path, calls: list[tuple[str, str, object]], reason: str
) -> None:
    store = quick_demo_store(tmp_path / "durascope-demo.db")
    client_calls(store, *calls)
    assert_refused(store, reason)


def test_an_interrupted_demo_store_is_replaced_when_it_holds_only_scenario_ids(
    tmp_path: Path,
) -> None:
    check_replaceable(quick_demo_store(tmp_path / "durascope-demo.db", finished=False))


def run_own_order(store: Path) -> None:
    provider = SqliteProvider.open(str(store))
    runtime = Runtime(provider)

    @runtime.register_orchestration("Mine")
    def mine(ctx: Any, x: int) -> Iterator[Any]:
        return (yield ctx.schedule_timer(1))

    runtime.start()
    try:
        Client(provider).start_orchestration("my-own-order", "Mine", 1)
        assert Client(provider).wait_for_orchestration("my-own-order", 30_000).status == "Completed"
    finally:
        runtime.shutdown()
        provider.close()


@pytest.mark.parametrize("scenarios_ran", [False, True])
def test_an_interrupted_demo_store_the_user_ran_an_instance_in_is_refused(
    tmp_path: Path, scenarios_ran: bool
) -> None:
    store = tmp_path / "durascope-demo.db"
    if scenarios_ran:
        quick_demo_store(store, finished=False)
    else:
        create_demo_store(store)  # stamped, then interrupted before any scenario
    run_own_order(store)
    assert_refused(store, "it holds 1 instance the demo did not start (my-own-order)")


def test_an_interrupted_demo_store_with_a_start_the_user_queued_is_refused(
    tmp_path: Path,
) -> None:
    store = tmp_path / "durascope-demo.db"
    create_demo_store(store)
    client_calls(store, ("start", "user-order-42", 1))
    assert_refused(store, "it holds 1 instance the demo did not start (user-order-42)")


def test_the_scenarios_declare_every_instance_id_they_write() -> None:
    """``Scenario.roots`` is what an interrupted demo's store is checked against."""
    db = sqlite3.connect(f"file:{SCENARIO_STORE}?immutable=1", uri=True)
    try:
        tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master")}
        contents = read_contents(lambda sql: db.execute(sql).fetchall(), tables)
    finally:
        db.close()
    named = contents.instances.union(contents.locked, *contents.addressees.values())
    assert named and contents.queued
    assert sorted(i for i in named if not is_scenario_instance(i)) == []
    roots = [r for s in SCENARIOS for r in s.roots]
    assert len(roots) == len(set(roots))
    assert not [r for r in roots if not any(i == r or i.startswith(f"{r}::") for i in named)]
