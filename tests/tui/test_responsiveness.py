"""The UI thread never waits for the store: keys are handled while a diagnosis runs.

The diagnosis of a 10,000-instance store (bench/bench_tui.py's generator) is held
at a gate inside its worker, so it is provably still running while the keys below
open an instance and step it; only then is it let go.  With the session's old lock
the instance's timeline waited for the diagnosis, and the UI with it.  Then a live
change arrives, and the browser updates the one new row instead of rebuilding.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from textual.worker import WorkerState

from bench.bench_tui import _instances_store
from durascope.tui import DurascopeApp
from durascope.tui.screens.browser import BrowserScreen
from durascope.tui.session import DebugSession, Snapshot
from durascope.tui.widgets.instance_table import InstanceTable
from tests.tui.conftest import instance_screen, settle

SIZE = 10_000


@pytest.fixture(scope="module")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _instances_store(tmp_path_factory.mktemp("large"), SIZE)


def copy_instance(db: Path, source: str, new_id: str) -> None:
    """Write one more instance into the store: ``source``'s rows, created after the rest."""
    later = {
        "instance_id": "replace(instance_id, :src, :new)",
        "created_at_ms": "(SELECT max(created_at_ms) + 1 FROM instances)",
    }
    with sqlite3.connect(db) as conn:
        for table in ("instances", "executions", "history", "turns"):
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            chosen = ", ".join(later.get(c, c) for c in columns)
            conn.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"SELECT {chosen} FROM {table} WHERE instance_id = :src",
                {"src": source, "new": new_id},
            )


@pytest.mark.slow
async def test_keys_are_handled_while_the_diagnosis_runs(
    large_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "large.db"
    db.write_bytes(large_store.read_bytes())
    started, gate = threading.Event(), threading.Event()
    original = DebugSession.build_snapshot

    def gated(self: DebugSession) -> Snapshot:
        started.set()
        assert gate.wait(120), "the test never opened the gate"
        return original(self)

    monkeypatch.setattr(DebugSession, "build_snapshot", gated)
    app = DurascopeApp(db, poll=False)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            browser = app.screen
            assert isinstance(browser, BrowserScreen)
            table = browser.query_one(InstanceTable)
            assert table.row_count == SIZE
            while not started.is_set():
                await pilot.pause(0.01)
            [diagnosis] = [w for w in app.workers if w.group == "snapshot"]

            await pilot.press("down", "down", "down", "enter")
            instance_id = table.instance_at_cursor()
            assert table.cursor_row == 3 and instance_id is not None
            screen = await instance_screen(app, pilot, instance_id)
            await pilot.press("right")
            await pilot.pause()
            # Every key above was handled while the diagnosis was still held.
            assert screen.turn == 1
            assert diagnosis.state == WorkerState.RUNNING and not gate.is_set()
            assert app.session.findings is None and screen.generation == 0

            gate.set()
            await settle(app, pilot)
            assert app.session.findings is not None
            assert screen.generation == 1 and screen.turn == 1  # reloaded where it was
            assert table.rebuilds == 1  # the findings column was updated in place
            assert table.row_count == SIZE

            copy_instance(db, instance_id, "late-arrival")
            app._start_snapshot(True)  # what the live poll does when the store changed
            await settle(app, pilot)
            assert "late-arrival" in app.session.model.instances
            assert table.row_count == SIZE + 1 and table.rebuilds == 1
            assert table.updated_rows == 1  # only the new instance's row was touched
    finally:
        gate.set()


async def test_a_failing_diagnosis_is_reported_once_and_not_retried_idly(
    fixed_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import durascope.tui.session as session_module

    attempts: list[int] = []

    def broken(model: object) -> list[object]:
        attempts.append(1)
        raise RuntimeError("a rule tripped")

    monkeypatch.setattr(session_module, "diagnose", broken)
    app = DurascopeApp(fixed_store)  # polling, on a store nobody writes to
    notes: list[str] = []
    monkeypatch.setattr(app, "notify", lambda message, **_: notes.append(str(message)))
    async with app.run_test(size=(140, 40)) as pilot:
        while not attempts:
            await pilot.pause(0.05)
        await pilot.pause(1.6)  # three poll ticks
        await settle(app, pilot)
        assert len(attempts) == 1
        assert app.session.findings is None
        assert any("diagnosis failed: RuntimeError: a rule tripped" in n for n in notes)
        table = app.screen.query_one(InstanceTable)
        assert table.row_count == len(app.session.model.instances)  # still browsable
        await pilot.press("enter")
        opened = await instance_screen(app, pilot, table.instance_at_cursor())
        assert opened.timeline is not None and len(opened.timeline) > 0
