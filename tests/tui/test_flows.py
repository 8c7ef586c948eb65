"""Pilot tests of flows the first tests left out: a live duroxide store, the name filter,
the tree, execution and finding keys, the Pairs tab, the state panel, the history
table, selecting a finding, and running a command from the palette."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, TabbedContent

from durascope.tui import DurascopeApp
from durascope.tui.screens.browser import BrowserScreen
from durascope.tui.widgets.findings_list import FindingsList
from durascope.tui.widgets.history_table import HistoryTable
from durascope.tui.widgets.instance_table import InstanceTable
from durascope.tui.widgets.instance_tree import InstanceTree
from durascope.tui.widgets.pairs_table import PairsTable
from durascope.tui.widgets.state_panel import StatePanel
from durascope.tui.widgets.stepper_header import StepperHeader
from tests.tui.conftest import instance_screen, screen_text, settle


def rendered(widget: object) -> str:
    return str(widget.render())  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_follows_a_duroxide_store_while_duroxide_writes(tmp_path: Path) -> None:
    pytest.importorskip("duroxide", reason="needs the real duroxide package")
    from tests.replay.duroxide_stores import start_live_writer

    db, out = tmp_path / "live.db", tmp_path / "live.json"
    writer = start_live_writer(db, 6.0, out)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        app = DurascopeApp(db)  # polls the store
        async with app.run_test(size=(140, 40)) as pilot:
            assert app.session.model.origin.kind == "duroxide"
            table = app.screen.query_one(InstanceTable)
            first = len(app.session.model.instances)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (
                len(app.session.model.instances) < first + 5 or app.session.findings is None
            ):
                await pilot.pause(0.1)
            grown = len(app.session.model.instances)
            assert grown >= first + 5, "the browser never saw the new instances"
            assert table.row_count == grown
            assert "duroxide store" in rendered(app.screen.query_one("#browser-title"))
            newest = list(app.session.model.instances)[-1]
            app.open_instance(newest)
            screen = await instance_screen(app, pilot, newest)
            assert screen.timeline is not None and screen.timeline.evidence == "inferred"
            assert all(t.evidence == "inferred" for t in screen.timeline.turns)
            assert "inferred" in rendered(screen.query_one(StepperHeader))
        assert writer.wait(60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()


async def test_name_filter_and_the_tree(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        browser = app.screen
        assert isinstance(browser, BrowserScreen)
        table = browser.query_one(InstanceTable)
        await pilot.press("slash", *"name:reserveitem")
        await pilot.pause()
        shown = [table.instance_at_cursor()]
        assert table.row_count == 3
        ids = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert ids == [
            "fanout-checkout::sub::2",
            "fanout-checkout::sub::3",
            "fanout-checkout::sub::4",
        ]
        assert shown[0] in ids
        browser.query_one("#filter", Input).value = "name:BatchLoop legacy"
        await pilot.press("enter")  # back to the table
        await settle(app, pilot)
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == ["legacy-loop"]

        tree = browser.query_one(InstanceTree)
        assert tree.shown_for == "legacy-loop"
        labels = [str(tree.get_node_at_line(i).label) for i in range(tree.last_line + 1)]
        assert labels[:5] == [
            "legacy-loop",
            "exec 1: continued as new",
            "#2 legacy-loop::sub::2 [Completed]",
            "exec 1: Completed",  # the child's own execution
            "exec 2: Running",
        ]
        assert "(id already taken: start discarded)" in labels[5]
        await pilot.press("t")
        await pilot.pause()
        assert browser.focused is tree
        tree.move_cursor(tree.get_node_at_line(2))
        await pilot.press("enter")
        await instance_screen(app, pilot, "legacy-loop::sub::2")


async def test_execution_and_finding_keys_change_what_is_shown(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="healthy-loop", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "healthy-loop")
        assert screen.timeline is not None
        header = screen.query_one(StepperHeader)

        def execution() -> int:
            assert screen.timeline is not None
            return screen.timeline.turns[screen.turn].execution_id

        assert (screen.turn, execution()) == (0, 1)
        for key, turn, ex in [
            ("right_square_bracket", 2, 2),
            ("right_square_bracket", 4, 3),
            ("right_square_bracket", 4, 3),  # the last execution: stays
            ("left_square_bracket", 2, 2),
            ("right", 3, 2),
            ("left_square_bracket", 2, 2),  # to the start of this execution first
            ("left_square_bracket", 0, 1),
        ]:
            await pilot.press(key)
            await pilot.pause()
            assert (screen.turn, execution()) == (turn, ex), key
            assert f"turn {turn + 1} of 6  exec {ex}" in rendered(header)

    app = DurascopeApp(fixed_store, instance="fixed-supervisor", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "fixed-supervisor")
        [finding] = app.session.findings_of("fixed-supervisor")
        assert finding.turn == 4  # the header's "turn 4 of N": index 3
        await pilot.press("end", "N")
        await pilot.pause()
        assert screen.turn == 3
        assert "filtered_notification" in rendered(screen.query_one("#turn-panel"))
        await pilot.press("N")  # none earlier: stays
        await pilot.pause()
        assert screen.turn == 3


async def test_pairs_tab_state_panel_and_history_contents(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="fanout-checkout", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "fanout-checkout")
        history = screen.query_one(HistoryTable)
        assert history.row_count == 8  # the whole execution, whatever the turn
        assert history.cursor_row == 3  # the last event of turn 1 (started + 3 schedules)
        state = rendered(screen.query_one(StatePanel))
        assert "execution 1: Running" in state and "children (3)" in state

        screen.query_one(TabbedContent).active = "tab-pairs"
        await pilot.pause()
        pairs = screen.query_one(PairsTable)

        def rows() -> list[list[str]]:
            return [pairs.row_texts(i) for i in range(pairs.row_count)]

        assert rows() == [
            ["2", "child", "ReserveItem", "open", ""],
            ["3", "child", "ReserveItem", "open", ""],
            ["4", "child", "ReserveItem", "open", ""],
        ]
        assert pairs.position_text() == "1-3/3"  # no scrollbar: the header says where
        assert "name 1-3/3" in screen_text(app) and " open " in screen_text(app)
        # Each step shows the state after its turn (the completions may come in one
        # turn or several), in place.
        assert screen.timeline is not None
        for turn in range(1, len(screen.timeline)):
            await pilot.press("right")
            await pilot.pause()
            assert screen.turn == turn
            expected = screen.timeline.state_after(turn).schedules
            assert rows() == [
                [str(s.event_id), "child", "ReserveItem", s.status, str(s.closed_by or "")]
                for s in expected
            ]
        assert rows() == [
            ["2", "child", "ReserveItem", "completed", "5"],
            ["3", "child", "ReserveItem", "failed", "6"],
            ["4", "child", "ReserveItem", "completed", "7"],
        ]
        assert " failed " in screen_text(app)  # repainted
        state = rendered(screen.query_one(StatePanel))
        assert "execution 1: Failed" in state and "open schedules (0)" in state
        await pilot.press("home")
        await pilot.pause()
        assert [r[3] for r in rows()] == ["open", "open", "open"]

    app = DurascopeApp(fixed_store, instance="fixed-supervisor", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "fixed-supervisor")
        await pilot.press("right", "right")
        await pilot.pause()
        state = rendered(screen.query_one(StatePanel))
        assert "execution 2: Running" in state
        assert "custom status: execution 2 waiting" in state
        assert "open schedules (2)" in state and "event #3 go" in state and "timer #4" in state
        history = screen.query_one(HistoryTable)
        types = [str(history.get_row_at(i)[1]) for i in range(history.row_count)]
        assert types[:4] == [
            "OrchestrationStarted",
            "CustomStatusUpdated",
            "ExternalSubscribed",
            "TimerCreated",
        ]
        assert history.cursor_row == 3

        screen.query_one(TabbedContent).active = "tab-pairs"
        await pilot.pause()
        pairs = screen.query_one(PairsTable)
        event, timer = (pairs.row_texts(i) for i in range(pairs.row_count))
        assert event == ["3", "event", "go", "open", ""]
        assert timer[:2] == ["4", "timer"] and timer[2].startswith("fires at ")
        assert timer[3:] == ["open", ""]
        painted = pairs.repaints
        await pilot.press("right")  # turn 4 appends nothing to execution 2 (filtered)
        await pilot.pause()
        assert pairs.repaints == painted  # nothing visible changed: no repaint
        await pilot.press("right")  # turn 5: the event is delivered
        await pilot.pause()
        assert pairs.repaints == painted + 1
        assert pairs.row_texts(0)[3:] == ["delivered", "5"]


async def test_selecting_a_finding_jumps_to_its_turn(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="legacy-supervisor", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "legacy-supervisor")
        assert screen.turn == 0
        screen.query_one(TabbedContent).active = "tab-findings"
        await pilot.pause()
        findings = screen.query_one(FindingsList)
        findings.focus()
        findings.highlighted = findings.option_ids().index("finding-0")
        await pilot.press("enter")
        await pilot.pause()
        [finding] = app.session.findings_of("legacy-supervisor")
        assert finding.kind == "misrouted_notification" and finding.turn == 4
        assert screen.turn == 3


async def test_running_a_command_from_the_palette(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="healthy-loop", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "healthy-loop")
        for _ in range(2):
            await pilot.press("ctrl+p")
            await pilot.pause()
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"next exec")
            await settle(app, pilot)
            await pilot.press("enter")
            await settle(app, pilot)
            assert app.screen is screen
        assert screen.turn == 4  # two "Next exec" commands: execution 3
