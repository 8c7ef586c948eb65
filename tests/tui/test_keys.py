"""The stepping keys work on the instance screen whatever has focus.

With the tab bar focused, ←/→ used to switch tabs; with the History table focused,
←/→/home/end moved its cursor instead of stepping.  Each case below focuses one
place and checks that every documented stepping key changes what it says it does,
and that the focused widget and the active tab stay as they were.

``q`` quits from every full screen (it used to be bound on the browser only, so on
the instance screen it did nothing), and is listed with the other actions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widget import Widget
from textual.widgets import Input, TabbedContent, Tabs

from durascope.tui import DurascopeApp
from durascope.tui.screens.help import HelpScreen
from durascope.tui.screens.instance import InstanceScreen
from durascope.tui.screens.jump import JumpScreen
from tests.tui.conftest import instance_screen, settle

# (tab shown, what gets the focus): every table and list, the graph's scroller,
# and the tab bar itself.
FOCUS = [
    ("tab-history", "#history"),
    ("tab-pairs", "#pairs"),
    ("tab-graph", "#tab-graph VerticalScroll"),
    ("tab-findings", "#findings"),
    ("tab-history", "tabs"),
    ("tab-pairs", "tabs"),
    ("tab-history", "#children"),
    ("tab-history", None),
]


def focus(screen: InstanceScreen, tab: str, target: str | None) -> Widget | None:
    screen.query_one(TabbedContent).active = tab
    if target is None:
        screen.set_focus(None)
        return None
    widget = (
        screen.query_one(TabbedContent).query_one(Tabs)
        if target == "tabs"
        else screen.query_one(target)
    )
    widget.focus()
    return widget


@pytest.mark.parametrize(("tab", "target"), FOCUS)
async def test_stepping_keys_whatever_has_focus(
    fixed_store: Path, tab: str, target: str | None
) -> None:
    app = DurascopeApp(fixed_store, instance="legacy-supervisor", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "legacy-supervisor")
        focused = focus(screen, tab, target)
        await pilot.pause()
        assert screen.focused is focused
        tabs = screen.query_one(TabbedContent)
        timeline = screen.timeline
        assert timeline is not None and len(timeline) == 5

        # (key, the turn it must lead to); turns 0-1 are execution 1, 2-4 execution 2,
        # and the only finding (misrouted_notification) is at turn 3.
        for key, expected in [
            ("home", 0),
            ("right", 1),
            ("l", 2),
            ("space", 3),
            ("left", 2),
            ("h", 1),
            ("end", 4),
            ("home", 0),
            ("right_square_bracket", 2),
            ("left_square_bracket", 0),
            ("n", 3),
            ("end", 4),
            ("N", 3),
            ("home", 0),
            ("f", 3),
        ]:
            await pilot.press(key)
            await pilot.pause()
            assert screen.turn == expected, (key, target)
            assert tabs.active == tab, (key, "the tab bar switched tabs")
            if target != "#children":  # the list hides in an execution without children
                assert screen.focused is focused, (key, "focus moved")

        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, JumpScreen)
        await pilot.press("2", "enter")
        await pilot.pause()
        assert app.screen is screen and screen.turn == 1

        await pilot.press("F")
        await pilot.pause()
        assert screen.follow and screen.turn == 4

        await pilot.press("home", "c")  # execution 1 has one child
        child = await instance_screen(app, pilot, "legacy-supervisor::sub::2")
        focus(child, tab, target)
        await pilot.pause()
        await pilot.press("p")
        parent = await instance_screen(app, pilot, "legacy-supervisor")
        assert parent is not screen and parent.turn == 0  # the turn that scheduled it


async def test_up_and_down_still_move_the_focused_table(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="fanout-checkout", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "fanout-checkout")
        table = screen.query_one("#history")
        table.focus()
        await pilot.press("home")
        await pilot.pause()
        start = table.cursor_row  # type: ignore[attr-defined]
        await pilot.press("down")
        await pilot.pause()
        assert table.cursor_row == start + 1  # type: ignore[attr-defined]
        assert screen.turn == 0


@pytest.mark.parametrize("target", ["#history", "tabs", "#findings", None])
async def test_q_quits_from_the_instance_screen(fixed_store: Path, target: str | None) -> None:
    app = DurascopeApp(fixed_store, instance="legacy-loop", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "legacy-loop")
        focus(screen, "tab-findings" if target == "#findings" else "tab-history", target)
        await pilot.pause()
        assert app.return_code is None
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0, "q did not quit"


async def test_q_in_the_browser_filter_is_typed_not_quit(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", "q")
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == "q"
        assert app.return_code is None
        await pilot.press("enter", "q")  # leave the filter: now q quits
        await pilot.pause()
        assert app.return_code == 0


@pytest.mark.parametrize("instance", [None, "legacy-loop"])
async def test_quit_is_in_the_help_and_the_palette(fixed_store: Path, instance: str | None) -> None:
    app = DurascopeApp(fixed_store, instance=instance, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = app.screen if instance is None else await instance_screen(app, pilot, instance)
        [quit_command] = [c for c in app.get_system_commands(screen) if c.help == "key: q"]
        assert quit_command.title == "Quit"
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert re.search(r"\bq +Quit", str(app.screen.query_one("#help-body").render()))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and app.return_code is None
        quit_command.callback()  # as if chosen in the palette
        await pilot.pause()
        assert app.return_code == 0
