"""The instance screen: the turn stepper and everything about the current turn.

The stepping keys are screen bindings with ``priority``: they step whatever has
focus (the tab bar, a table, the findings list); ↑/↓ still scroll the focused
table.  The timeline is built in a worker unless it is small and in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from durascope.replay import SourceError, Stepper, Timeline, safe_text
from durascope.tui.messages import InstanceChosen, TurnChosen
from durascope.tui.navigation import AtEvent, StartAt, resolve_start
from durascope.tui.screens.child_picker import ChildChoice, ChildPickerScreen
from durascope.tui.screens.jump import JumpScreen
from durascope.tui.session import Snapshot
from durascope.tui.widgets.children_list import ChildrenList, own_status
from durascope.tui.widgets.findings_list import FindingsList
from durascope.tui.widgets.graph_panel import GraphPanel
from durascope.tui.widgets.history_table import HistoryTable
from durascope.tui.widgets.pairs_table import PairsTable
from durascope.tui.widgets.state_panel import StatePanel
from durascope.tui.widgets.stepper_header import StepperHeader
from durascope.tui.widgets.turn_panel import TurnPanel
from durascope.viz import build_graph

if TYPE_CHECKING:
    from durascope.tui.app import DurascopeApp

__all__ = ["AtEvent", "InstanceScreen", "StartAt"]


def _step(keys: str, action: str, description: str, id: str, show: bool = True) -> Binding:
    return Binding(keys, action, description, show=show, id=id, priority=True)


class InstanceScreen(Screen[None]):
    """Steps through one instance's turns; ``turn`` is the current turn index."""

    BINDINGS = [
        _step("right,l,space", "step(1)", "Next turn", "instance.next"),
        _step("left,h", "step(-1)", "Previous turn", "instance.previous"),
        _step("home", "seek_first", "First", "instance.first", show=False),
        _step("end", "seek_last", "Last", "instance.last", show=False),
        _step("g", "jump", "Jump to turn", "instance.jump"),
        _step("right_square_bracket", "execution(1)", "Next exec", "instance.next_execution"),
        _step("left_square_bracket", "execution(-1)", "Prev exec", "instance.previous_execution"),
        _step("n", "finding(1)", "Next finding", "instance.next_finding"),
        _step("N", "finding(-1)", "Prev finding", "instance.previous_finding", show=False),
        _step("f", "first_finding", "First finding", "instance.first_finding", show=False),
        _step("p", "open_parent", "Parent", "instance.parent"),
        _step("c", "open_child", "Child", "instance.child"),
        _step("F", "toggle_follow", "Follow", "instance.follow"),
        Binding("question_mark", "help", "Help", id="instance.help"),
        Binding("escape", "app.pop_screen", "Back", id="instance.back"),
    ]

    turn: reactive[int] = reactive(0, init=False)
    follow: reactive[bool] = reactive(False, init=False)

    @dataclass
    class TimelineReady(Message):
        """A timeline built in a worker from ``snapshot`` (or why it could not be)."""

        snapshot: Snapshot
        timeline: Timeline | None
        error: str = ""

    def __init__(self, instance_id: str, start: StartAt | None = None) -> None:
        super().__init__()
        self.instance_id = instance_id
        self._start = start
        self.timeline: Timeline | None = None
        self.stepper: Stepper | None = None
        self.generation = -1
        """The generation of the snapshot the timeline was built from."""

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
                yield ChildrenList(id="children")
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

    # Loading.

    def load(self) -> None:
        """(Re)build the timeline from the session's current snapshot and redraw."""
        snapshot = self.durascope.session.snapshot
        self.query_one(FindingsList).show(snapshot.findings_of(self.instance_id))
        if self.timeline is None:
            self.query_one(StepperHeader).show_loading(self.instance_id)
        if not snapshot.quick_timeline(self.instance_id):
            self.load_timeline(snapshot)
            return
        try:
            timeline = snapshot.timeline(self.instance_id)
        except SourceError as exc:
            self.query_one(StepperHeader).show_failed(self.instance_id, safe_text(exc, 200))
            return
        self._install(snapshot, timeline)

    @work(thread=True, exclusive=True, group="timeline", exit_on_error=False)
    def load_timeline(self, snapshot: Snapshot) -> None:
        """Build the timeline off the UI thread (it reads and folds the whole history)."""
        try:
            timeline = snapshot.timeline(self.instance_id)
        except SourceError as exc:  # a retired snapshot, a store that went away
            self.post_message(self.TimelineReady(snapshot, None, safe_text(exc, 200)))
            return
        self.post_message(self.TimelineReady(snapshot, timeline))

    def on_instance_screen_timeline_ready(self, message: TimelineReady) -> None:
        if message.snapshot is not self.durascope.session.snapshot:
            return  # built from a snapshot retired since; the current one is loading
        if message.timeline is None:
            self.query_one(StepperHeader).show_failed(self.instance_id, message.error)
            return
        self._install(message.snapshot, message.timeline)

    def _install(self, snapshot: Snapshot, timeline: Timeline) -> None:
        findings = snapshot.findings_of(self.instance_id)
        self.timeline = timeline
        self.generation = snapshot.generation
        self.stepper = (
            Stepper(timeline, [f.turn_index for f in findings if f.turn_index is not None])
            if len(timeline)
            else None
        )
        turn = self.turn
        if self._start is not None:
            resolved = resolve_start(timeline, self._start)
            turn = resolved if resolved is not None else turn
            self._start = None
        if self.follow:
            turn = len(timeline) - 1
        self.set_reactive(InstanceScreen.turn, self.validate_turn(turn))
        self.redraw()

    def validate_turn(self, turn: int) -> int:
        total = len(self.timeline) if self.timeline is not None else 0
        return max(0, min(turn, total - 1)) if total else 0

    def watch_turn(self) -> None:
        self.redraw()

    def watch_follow(self) -> None:
        if self.follow and self.timeline is not None:
            self.turn = len(self.timeline) - 1
        self.redraw()

    # Drawing.

    def redraw(self) -> None:
        """Draw every panel for the current turn."""
        if self.timeline is None:
            return
        if self.stepper is None:
            self.query_one(StepperHeader).show_failed(self.instance_id, "no turns recorded")
            return
        view = self.stepper.seek(self.turn)
        inst = self.timeline.instance
        snapshot = self.durascope.session.snapshot
        self.query_one(StepperHeader).show(
            inst.instance_id, inst.orchestration_name, view.turn, view.total, self.follow
        )
        here = [
            f for f in snapshot.findings_of(self.instance_id) if f.turn_index == view.turn.index
        ]
        self.query_one(TurnPanel).show(view.turn, here)
        self.query_one(StatePanel).show(view.state)
        self.query_one(ChildrenList).show(view.state.children, snapshot.model)
        # Only the visible tab is drawn (a long history has thousands of schedules);
        # switching tabs draws the newly visible one.
        active = self.query_one(TabbedContent).active
        if active == "tab-history":
            execution_id = view.turn.execution_id
            self.query_one(HistoryTable).show(
                inst.instance_id,
                execution_id,
                inst.execution(execution_id).events,
                view.turn.events_after,
            )
        elif active == "tab-pairs":
            self.query_one(PairsTable).show(view.state)
        elif active == "tab-graph":
            graph_panel = self.query_one(GraphPanel)
            if snapshot.findings is None or inst.instance_id not in snapshot.model.instances:
                graph_panel.waiting()  # drawn from the loaded, diagnosed snapshot
            else:
                graph = build_graph(
                    snapshot.model,
                    focus=inst.instance_id,
                    findings=snapshot.findings,
                    turn=view.turn,
                )
                graph_panel.show(graph)

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self) -> None:
        self.redraw()

    # Stepping.

    def _go(self, turn: int) -> None:
        self.follow = False
        self.turn = self.validate_turn(turn)

    def action_step(self, count: int) -> None:
        if self.stepper is not None:
            self._go(self.turn + count)

    def action_seek_first(self) -> None:
        if self.stepper is not None:
            self._go(0)

    def action_seek_last(self) -> None:
        if self.stepper is not None:
            self._go(len(self.stepper) - 1)

    def action_execution(self, direction: int) -> None:
        if self.stepper is None:
            return
        self.stepper.seek(self.turn)
        view = self.stepper.next_execution() if direction > 0 else self.stepper.previous_execution()
        self._go(view.position)

    def action_finding(self, direction: int) -> None:
        if self.stepper is None:
            return
        self.stepper.seek(self.turn)
        view = self.stepper.next_finding() if direction > 0 else self.stepper.previous_finding()
        if view is None:
            self.notify("No more findings in that direction.")
            return
        self._go(view.position)

    def action_first_finding(self) -> None:
        """This instance's most severe finding at its turn; else the store's first finding."""
        findings = self.durascope.session.findings_of(self.instance_id)
        turns = [f.turn_index for f in findings if f.turn_index is not None]
        if turns and self.stepper is not None:
            self._go(turns[0])
        else:
            self.durascope.open_first_finding()

    def action_jump(self) -> None:
        if self.stepper is None:
            return

        def done(number: int | None) -> None:
            if number is not None:
                self._go(number - 1)

        self.app.push_screen(JumpScreen(len(self.stepper)), done)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    # Parent and children.

    def action_open_parent(self) -> None:
        """Open the parent at the turn that scheduled this instance."""
        if self.timeline is None:
            return  # its start event is read with the timeline
        inst = self.timeline.instance
        started = inst.executions[0].started if inst.executions else None
        parent = (started.parent_instance if started else None) or inst.parent_instance_id
        if not parent:
            self.notify("This instance has no parent.")
            return
        start = None
        if started is not None and started.parent_id is not None:
            start = AtEvent(started.parent_id, started.parent_execution_id, self.instance_id)
        self.durascope.open_instance(parent, start)

    def action_open_child(self) -> None:
        """Open a child of the current execution: the only one, or the one picked."""
        if self.stepper is None or self.timeline is None:
            return
        view = self.stepper.seek(self.turn)
        execution_id = view.turn.execution_id
        events = self.timeline.instance.execution(execution_id).events
        children = self.timeline.state_of(execution_id, len(events)).children
        if not children:
            self.notify(f"Execution {execution_id} has no children.")
            return
        if len(children) == 1:
            self.durascope.open_instance(children[0].detail)
            return
        model = self.durascope.session.model
        sent_now = {e.event_id for e in view.turn.delta if e.type == "SubOrchestrationScheduled"}
        choices = [
            ChildChoice(s.detail, s.event_id, s.status, own_status(model, s.detail))
            for s in children
        ]
        highlight = next((i for i, s in enumerate(children) if s.event_id in sent_now), 0)

        def done(child: str | None) -> None:
            if child is not None:
                self.durascope.open_instance(child)

        self.app.push_screen(ChildPickerScreen(execution_id, choices, highlight), done)

    @on(InstanceChosen)
    def _instance_chosen(self, message: InstanceChosen) -> None:
        message.stop()
        if message.instance_id != self.instance_id:
            self.durascope.open_instance(message.instance_id, message.start)
        elif message.start is not None and self.timeline is not None:
            turn = resolve_start(self.timeline, message.start)
            if turn is not None:
                self._go(turn)

    @on(TurnChosen)
    def _turn_chosen(self, message: TurnChosen) -> None:
        message.stop()
        self._go(message.turn)

    def action_help(self) -> None:
        self.durascope.show_help(self)
