"""The instance screen: the turn stepper and everything about the current turn."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, OptionList, TabbedContent, TabPane

from durascope.history import target_instance
from durascope.replay import Finding, Stepper, Timeline
from durascope.tui.screens.confirm import ConfirmWriteScreen, WriteRequest
from durascope.tui.screens.jump import JumpScreen
from durascope.tui.widgets.findings_list import FindingsList
from durascope.tui.widgets.graph_panel import GraphPanel
from durascope.tui.widgets.history_table import HistoryTable, PairsTable
from durascope.tui.widgets.state_panel import StatePanel
from durascope.tui.widgets.stepper_header import StepperHeader
from durascope.tui.widgets.turn_panel import TurnPanel
from durascope.viz import build_graph

if TYPE_CHECKING:
    from durascope.tui.app import DurascopeApp


class InstanceScreen(Screen[None]):
    """Steps through one instance's turns; ``turn`` is the current turn index."""

    BINDINGS = [
        Binding("right,l,space", "step(1)", "Next turn", id="instance.next"),
        Binding("left,h", "step(-1)", "Previous turn", id="instance.previous"),
        Binding("home", "seek_first", "First", show=False, id="instance.first"),
        Binding("end", "seek_last", "Last", show=False, id="instance.last"),
        Binding("g", "jump", "Jump to turn", id="instance.jump"),
        Binding("right_square_bracket", "execution(1)", "Next exec", id="instance.next_execution"),
        Binding(
            "left_square_bracket", "execution(-1)", "Prev exec", id="instance.previous_execution"
        ),
        Binding("n", "finding(1)", "Next finding", id="instance.next_finding"),
        Binding("N", "finding(-1)", "Prev finding", show=False, id="instance.previous_finding"),
        Binding("p", "open_parent", "Parent", id="instance.parent"),
        Binding("c", "open_child", "Child", id="instance.child"),
        Binding("F", "toggle_follow", "Follow", id="instance.follow"),
        Binding("e", "write('raise')", "Raise event", show=False, id="instance.raise"),
        Binding("x", "write('cancel')", "Cancel instance", show=False, id="instance.cancel"),
        Binding("question_mark", "help", "Help", id="instance.help"),
        Binding("escape", "app.pop_screen", "Back", id="instance.back"),
    ]

    turn: reactive[int] = reactive(0, init=False)
    follow: reactive[bool] = reactive(False, init=False)

    def __init__(self, instance_id: str, start_turn: int | None = None) -> None:
        super().__init__()
        self.instance_id = instance_id
        self._start_turn = start_turn
        self.timeline: Timeline | None = None
        self.stepper: Stepper | None = None

    @property
    def durascope(self) -> DurascopeApp:
        from durascope.tui.app import DurascopeApp

        assert isinstance(self.app, DurascopeApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield StepperHeader(id="stepper")
        with Horizontal():
            with VerticalScroll(id="left"):
                yield TurnPanel(id="turn-panel")
                yield StatePanel(id="state-panel")
            with Vertical(id="right"), TabbedContent(id="tabs"):
                with TabPane("History", id="tab-history"):
                    yield HistoryTable(id="history")
                with TabPane("Pairs", id="tab-pairs"):
                    yield PairsTable(id="pairs")
                with TabPane("Graph", id="tab-graph"), VerticalScroll():
                    yield GraphPanel(id="graph")
                with TabPane("Findings", id="tab-findings"):
                    yield FindingsList(id="findings")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def load(self) -> None:
        """(Re)build the timeline from the session and redraw."""
        session = self.durascope.session
        self.timeline = session.timeline(self.instance_id)
        findings = self.findings()
        self.stepper = (
            Stepper(self.timeline, [f.turn for f in findings if f.turn is not None])
            if len(self.timeline)
            else None
        )
        self.query_one(FindingsList).show(findings)
        start = self._start_turn if self._start_turn is not None else self.turn
        self._start_turn = None
        if self.follow:
            start = len(self.timeline) - 1
        self.turn = self.validate_turn(start)
        self.redraw()

    def findings(self) -> list[Finding]:
        """This instance's findings."""
        return self.durascope.session.findings_of(self.instance_id)

    def validate_turn(self, turn: int) -> int:
        total = len(self.timeline) if self.timeline is not None else 0
        return max(0, min(turn, total - 1)) if total else 0

    def watch_turn(self) -> None:
        self.redraw()

    def watch_follow(self) -> None:
        if self.follow and self.timeline is not None:
            self.turn = len(self.timeline) - 1
        self.redraw()

    def redraw(self) -> None:
        """Draw every panel for the current turn."""
        if self.timeline is None or self.stepper is None:
            return
        view = self.stepper.seek(self.turn)
        inst = self.timeline.instance
        model = self.durascope.session.model
        self.query_one(StepperHeader).show(
            inst.instance_id, inst.orchestration_name, view.turn, view.total, self.follow
        )
        here = [f for f in self.findings() if f.turn == view.turn.index]
        self.query_one(TurnPanel).show(view.turn, here)
        self.query_one(StatePanel).show(view.state, model)
        # Only the visible tab is drawn (a long history has thousands of schedules);
        # switching tabs draws the newly visible one.
        active = self.query_one(TabbedContent).active
        if active == "tab-history":
            events = inst.execution(view.turn.execution_id).events
            self.query_one(HistoryTable).show(events, view.turn.events_after)
        elif active == "tab-pairs":
            self.query_one(PairsTable).show(view.state)
        elif active == "tab-graph":
            graph = build_graph(
                model,
                focus=inst.instance_id,
                findings=self.durascope.session.findings,
                turn=view.turn,
            )
            self.query_one(GraphPanel).show(graph)

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self) -> None:
        self.redraw()

    # Actions.

    def action_step(self, count: int) -> None:
        self.follow = False
        self.turn = self.validate_turn(self.turn + count)

    def action_seek_first(self) -> None:
        self.follow = False
        self.turn = 0

    def action_seek_last(self) -> None:
        self.turn = self.validate_turn(10**9)

    def action_execution(self, direction: int) -> None:
        if self.stepper is None:
            return
        self.stepper.seek(self.turn)
        view = self.stepper.next_execution() if direction > 0 else self.stepper.previous_execution()
        self.turn = view.position

    def action_finding(self, direction: int) -> None:
        if self.stepper is None:
            return
        self.stepper.seek(self.turn)
        view = self.stepper.next_finding() if direction > 0 else self.stepper.previous_finding()
        if view is None:
            self.notify("No more findings in that direction.")
            return
        self.turn = view.position

    def action_jump(self) -> None:
        total = len(self.timeline) if self.timeline else 0

        def done(number: int | None) -> None:
            if number is not None:
                self.follow = False
                self.turn = self.validate_turn(number - 1)

        self.app.push_screen(JumpScreen(total), done)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_open_parent(self) -> None:
        link = self.durascope.session.model.scheduling_link(self.instance_id)
        if link is None:
            self.notify("This instance has no parent.")
            return
        parent_timeline = self.durascope.session.timeline(link.parent_instance)
        turn = parent_timeline.turn_of_event(link.parent_execution, link.event_id)
        self.durascope.open_instance(link.parent_instance, turn.index if turn else None)

    def action_open_child(self) -> None:
        """Open the first child this turn sent to, else the first child in the state."""
        if self.stepper is None:
            return
        view = self.stepper.seek(self.turn)
        model = self.durascope.session.model
        candidates = [
            target_instance(s.item)
            for s in view.turn.sent
            if target_instance(s.item) != self.instance_id
        ] + [s.detail for s in view.state.children]
        for child in candidates:
            if child in model.instances:
                self.durascope.open_instance(child)
                return
        self.notify("No child instance at this turn.")

    @on(OptionList.OptionSelected, "#findings")
    def _finding_selected(self, event: OptionList.OptionSelected) -> None:
        turn = (event.option.id or "").split(":")[-1]
        if turn.isdigit():
            self.follow = False
            self.turn = self.validate_turn(int(turn))

    def action_write(self, action: str) -> None:
        session = self.durascope.session
        if not session.writable:
            self.notify(
                "Writes are off: start with --allow-writes on a durascope store.",
                severity="warning",
            )
            return

        def done(request: WriteRequest | None) -> None:
            if request is not None:
                self.durascope.perform_write(request)

        self.app.push_screen(ConfirmWriteScreen(action, self.instance_id), done)

    def action_help(self) -> None:
        self.durascope.show_help(self)

    @staticmethod
    def parse_data(text: str) -> object:
        """The JSON a user typed for an event (plain text when it is not JSON)."""
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
