"""Pilot tests of the TUI flows: open, filter, step, findings, children, live updates."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from textual.widgets import DataTable, Input

from durascope.tui import DurascopeApp
from durascope.tui.screens.browser import BrowserScreen
from durascope.tui.screens.confirm import ConfirmWriteScreen
from durascope.tui.screens.instance import InstanceScreen
from durascope.tui.widgets.graph_panel import GraphPanel
from durascope.tui.widgets.turn_panel import TurnPanel

ROOT = Path(__file__).resolve().parents[2]


def rendered(widget: object) -> str:
    return str(widget.render())  # type: ignore[attr-defined]


async def test_browse_filter_and_open(tui_store: Path) -> None:
    app = DurascopeApp(tui_store, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        browser = app.screen
        assert isinstance(browser, BrowserScreen)
        table = browser.query_one("#instances", DataTable)
        assert table.row_count == len(app.session.model.instances)
        await pilot.press("slash", *"status:failed")
        await pilot.pause()
        failed = [i for i in app.session.model if i.status == "Failed"]
        assert table.row_count == len(failed)
        browser.query_one("#filter", Input).value = "legacy-loop"
        await pilot.pause()
        assert table.row_count == 2  # the loop and its child
        await pilot.press("enter")  # leaves the filter for the table
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InstanceScreen)
        assert screen.instance_id == "legacy-loop"


async def test_step_jump_and_findings(tui_store: Path) -> None:
    app = DurascopeApp(tui_store, instance="legacy-loop", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InstanceScreen)
        total = len(screen.timeline or ())
        assert total == 3
        await pilot.press("right", "right", "right")
        assert screen.turn == total - 1
        await pilot.press("left")
        assert screen.turn == total - 2
        await pilot.press("home", "n")
        await pilot.pause()
        findings = app.session.findings_of("legacy-loop")
        assert {f.kind for f in findings} == {"child_id_collision", "stuck_parent"}
        assert screen.turn == findings[0].turn_index
        assert f"turn {findings[0].turn} of {total}" in rendered(screen.query_one("#stepper"))
        assert "exec 2" in rendered(screen.query_one("#stepper"))
        await pilot.press("home", "g")
        await pilot.pause()
        await pilot.press("3", "enter")
        await pilot.pause()
        assert screen.turn == 2
        turn_text = rendered(screen.query_one(TurnPanel))
        assert "SubOrchestrationScheduled" in turn_text
        from textual.widgets import TabbedContent

        screen.query_one(TabbedContent).active = "tab-graph"  # panels draw when shown
        await pilot.pause()
        graph_text = rendered(screen.query_one(GraphPanel))
        assert "COLLISION" in graph_text and "legacy-loop::sub::2" in graph_text


async def test_first_finding_and_child_parent_navigation(tui_store: Path) -> None:
    app = DurascopeApp(tui_store, select_first_finding=True, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InstanceScreen)
        first = (app.session.findings or [])[0]
        assert (screen.instance_id, screen.turn) == (first.instance, first.turn_index)
        await pilot.press("escape")
        app.open_instance("healthy-loop")
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        child = app.screen
        assert isinstance(child, InstanceScreen)
        assert child.instance_id == "healthy-loop::sub::2"
        await pilot.press("p")
        await pilot.pause()
        parent = app.screen
        assert isinstance(parent, InstanceScreen)
        assert parent.instance_id == "healthy-loop"
        assert parent.turn == 0  # the turn that scheduled the child


async def test_help_and_command_palette_list_the_actions(tui_store: Path) -> None:
    app = DurascopeApp(tui_store, instance="healthy-loop", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        commands = [c.title for c in app.get_system_commands(app.screen)]
        for title in (
            "Next turn",
            "Previous turn",
            "Jump to turn",
            "Next finding",
            "Parent",
            "Child",
        ):
            assert title in commands
        await pilot.press("question_mark")
        await pilot.pause()
        assert "Jump to turn" in str(app.screen.query_one("#help-body").render())


async def test_writes_are_off_unless_allowed(tui_store: Path) -> None:
    app = DurascopeApp(tui_store, instance="legacy-loop", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, InstanceScreen)  # no confirmation: writes are off
    # The same key with the flag asks for the typed id (escape: nothing is written).
    allowed = DurascopeApp(tui_store, instance="legacy-loop", allow_writes=True, poll=False)
    async with allowed.run_test(size=(140, 40)) as pilot:
        await allowed.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(allowed.screen, ConfirmWriteScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(allowed.screen, InstanceScreen)


async def test_live_store_shows_new_instances_and_turns(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = [sys.executable, "-m", "tests.programs.mixed_workload", "start", str(db)]
    subprocess.run([*start, "2", "first"], cwd=ROOT, env=env, check=True)
    runner = subprocess.Popen(
        [sys.executable, "-m", "tests.programs.mixed_workload", "run", str(db)], cwd=ROOT, env=env
    )
    try:
        deadline = time.monotonic() + 20
        app = DurascopeApp(db)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()
            subprocess.run([*start, "3", "second"], cwd=ROOT, env=env, check=True)
            table = app.screen.query_one("#instances", DataTable)
            while time.monotonic() < deadline:
                await pilot.pause(0.2)
                ids = set(app.session.model.instances)
                if {"second0", "second1", "second2"} <= ids:
                    break
            assert {"second0", "second1", "second2"} <= set(app.session.model.instances)
            assert table.row_count == len(app.session.model.instances)
            app.open_instance("second2")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, InstanceScreen)
            await pilot.press("F")  # follow the newest turn
            while time.monotonic() < deadline:
                await pilot.pause(0.2)
                if app.session.model.instance("second2").status == "Completed":
                    break
            await pilot.pause(0.8)
            assert screen.follow
            assert screen.turn == len(screen.timeline or ()) - 1
            assert screen.timeline is not None and screen.timeline.turns[-1].result == "completed"
    finally:
        runner.terminate()
        runner.wait(timeout=30)
