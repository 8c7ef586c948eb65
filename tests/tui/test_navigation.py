"""Parent and child navigation from every place an id is shown."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import OptionList, TabbedContent

from durascope.tui import DurascopeApp
from durascope.tui.screens.child_picker import ChildPickerScreen
from durascope.tui.screens.instance import InstanceScreen
from durascope.tui.widgets.children_list import ChildrenList
from durascope.tui.widgets.findings_list import FindingsList
from durascope.tui.widgets.history_table import HistoryTable
from durascope.tui.widgets.pairs_table import PairsTable
from tests.tui.conftest import instance_screen, settle

FANOUT_CHILDREN = ["fanout-checkout::sub::2", "fanout-checkout::sub::3", "fanout-checkout::sub::4"]


async def test_c_offers_every_child_of_the_execution(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="fanout-checkout", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        parent = await instance_screen(app, pilot, "fanout-checkout")
        await pilot.press("c")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ChildPickerScreen)
        assert picker.choice_ids() == FANOUT_CHILDREN
        options = picker.query_one("#picker", OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(3)]
        assert "instance Failed" in prompts[1] and "instance Completed" in prompts[0]
        await pilot.press("escape")  # back, nothing opened
        await pilot.pause()
        assert app.screen is parent
        await pilot.press("c", "down", "enter")
        child = await instance_screen(app, pilot, "fanout-checkout::sub::3")
        assert child.timeline is not None
        assert child.timeline.instance.status == "Failed"


async def test_p_opens_the_parent_at_the_scheduling_turn(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="healthy-loop::sub::3_2", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await instance_screen(app, pilot, "healthy-loop::sub::3_2")
        await pilot.press("p")
        parent = await instance_screen(app, pilot, "healthy-loop")
        assert parent.turn == 4  # execution 3 scheduled it in its first turn
        assert parent.timeline is not None
        assert parent.timeline.turns[parent.turn].execution_id == 3
        await pilot.press("p")
        await pilot.pause()
        assert app.screen is parent  # a root: nothing to open


async def test_p_on_a_legacy_child_without_a_parent_execution(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="legacy-supervisor::sub::2", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        child = await instance_screen(app, pilot, "legacy-supervisor::sub::2")
        assert child.timeline is not None
        started = child.timeline.instance.executions[0].started
        assert started is not None and started.parent_execution_id is None  # legacy shape
        await pilot.press("p")
        parent = await instance_screen(app, pilot, "legacy-supervisor")
        assert parent.turn == 0


async def test_children_in_the_state_panel_can_be_opened(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="fanout-checkout", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "fanout-checkout")
        await pilot.press("end")
        await pilot.pause()
        children = screen.query_one(ChildrenList)
        assert children.display
        assert children.child_ids() == FANOUT_CHILDREN
        assert "fanout-checkout::sub::3 [failed; instance Failed]" in str(
            children.get_option_at_index(1).prompt
        )
        children.focus()
        children.highlighted = 2
        await pilot.press("enter")
        await instance_screen(app, pilot, "fanout-checkout::sub::4")


async def test_related_instances_of_a_finding_can_be_opened(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="legacy-loop", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "legacy-loop")
        screen.query_one(TabbedContent).active = "tab-findings"
        await pilot.pause()
        findings = screen.query_one(FindingsList)
        ids = findings.option_ids()
        collision = next(
            i
            for i, f in enumerate(app.session.findings_of("legacy-loop"))
            if f.kind == "child_id_collision"
        )
        # Its refs: the id it hit, and the schedule of execution 1 that holds it.
        hit, held_by = ids.index(f"ref-{collision}-0"), ids.index(f"ref-{collision}-1")
        assert "legacy-loop::sub::2" in str(findings.get_option_at_index(hit).prompt)
        findings.focus()
        await pilot.press("end")  # the last turn: the ref to execution 1 must move back
        findings.highlighted = held_by
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and screen.turn == 0  # event 2 of execution 1
        findings.highlighted = hit
        await pilot.press("enter")
        await instance_screen(app, pilot, "legacy-loop::sub::2")


async def test_enter_on_a_child_row_of_the_history_opens_the_child(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="healthy-loop", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "healthy-loop")
        await pilot.press("right")  # turn 2 of execution 1: the child completed
        await pilot.pause()
        table = screen.query_one(HistoryTable)
        table.focus()
        types = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert types[:3] == [
            "OrchestrationStarted",
            "SubOrchestrationScheduled",
            "SubOrchestrationCompleted",
        ]
        table.move_cursor(row=0)
        await pilot.press("enter")  # not about a child: nothing opens
        await pilot.pause()
        assert app.screen is screen
        table.move_cursor(row=2)  # the completion names its schedule, which names the child
        await pilot.press("enter")
        child = await instance_screen(app, pilot, "healthy-loop::sub::2")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and child is not screen
        table.move_cursor(row=1)
        await pilot.press("enter")
        await instance_screen(app, pilot, "healthy-loop::sub::2")


async def test_enter_on_a_child_schedule_in_the_pairs_tab_opens_it(fixed_store: Path) -> None:
    app = DurascopeApp(fixed_store, instance="cancel-pipeline", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "cancel-pipeline")
        screen.query_one(TabbedContent).active = "tab-pairs"
        await pilot.pause()
        pairs = screen.query_one(PairsTable)
        assert [pairs.row_texts(i)[2] for i in range(pairs.row_count)] == [
            "AwaitRelease",
            "AwaitRelease",
        ]
        pairs.focus()
        await pilot.press("down", "down", "up", "down")  # clamped at the last row
        assert pairs.cursor_row == 1
        await pilot.press("enter")
        opened = await instance_screen(app, pilot, "cancel-pipeline::sub::3")
        assert isinstance(opened, InstanceScreen)
