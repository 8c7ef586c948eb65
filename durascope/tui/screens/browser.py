"""The instance browser: every instance, a filter, and the highlighted instance's tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static, Tree

from durascope.replay import SourceError
from durascope.tui.session import Snapshot
from durascope.tui.text import plain
from durascope.tui.widgets.instance_table import InstanceTable, matches
from durascope.tui.widgets.instance_tree import InstanceTree, TreeSpec, build_tree

if TYPE_CHECKING:
    from durascope.tui.app import DurascopeApp

__all__ = ["BrowserScreen"]


class BrowserScreen(Screen[None]):
    """Lists instances; enter opens one."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="browser.filter"),
        Binding("enter", "open_selected", "Open", id="browser.open"),
        Binding("t", "focus_tree", "Tree", id="browser.tree"),
        Binding("f", "first_finding", "First finding", id="browser.first_finding"),
        Binding("question_mark", "help", "Help", id="browser.help"),
    ]

    @dataclass
    class TreeReady(Message):
        """A tree built in a worker, for the instance it was asked for."""

        instance_id: str
        spec: TreeSpec

    @property
    def durascope(self) -> DurascopeApp:
        from durascope.tui.app import DurascopeApp

        assert isinstance(self.app, DurascopeApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static(id="browser-title")
        yield Input(placeholder="filter: text, status:failed, name:Checkout", id="filter")
        with Horizontal():
            yield InstanceTable(id="instances")
            with Vertical(id="tree-pane"):
                yield Static("Tree (parent/child, continue-as-new chains)", classes="pane-title")
                yield InstanceTree("instances", id="tree")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_rows()
        self.query_one(InstanceTable).focus()

    def refresh_rows(self) -> None:
        """Re-read the session (after loading, diagnosing or a live reload)."""
        session = self.durascope.session
        snapshot = session.snapshot
        model = snapshot.model
        query = self.query_one("#filter", Input).value
        shown = [i for i in model.instances.values() if matches(i, query)]
        table = self.query_one(InstanceTable)
        cursor = table.instance_at_cursor()
        table.show(shown, None if snapshot.findings is None else snapshot.by_instance)
        if cursor is not None:
            ids = [i.instance_id for i in shown]
            if cursor in ids and table.cursor_row != ids.index(cursor):
                table.move_cursor(row=ids.index(cursor))
        tree = self.query_one(InstanceTree)
        if tree.shown_for is not None and self._tree_generation != snapshot.generation:
            self._show_tree(tree.shown_for)  # a new snapshot: the tree may have grown
        counts = (
            "diagnosing…" if snapshot.findings is None else f"{len(snapshot.findings)} findings"
        )
        origin = model.origin
        live = " · watching" if origin.kind in ("durascope", "duroxide") else ""
        self.query_one("#browser-title", Static).update(
            plain(
                f"durascope · {origin.kind if origin.kind == 'bundle' else origin.kind + ' store'}"
                f" · {origin.path}{live} · "
                f"{len(shown)} of {len(model.instances)} instances · {counts}"
            )
        )

    _tree_generation = -1

    def _show_tree(self, instance_id: str) -> None:
        snapshot = self.durascope.session.snapshot
        if instance_id not in snapshot.model.instances:
            return
        self._tree_generation = snapshot.generation
        if snapshot.loaded:  # every event is in memory: no I/O on this thread
            self.query_one(InstanceTree).show(build_tree(snapshot.model, instance_id), instance_id)
        else:
            self.build_tree_in_background(snapshot, instance_id)

    @work(thread=True, exclusive=True, group="tree", exit_on_error=False)
    def build_tree_in_background(self, snapshot: Snapshot, instance_id: str) -> None:
        """Read the tree's events off the UI thread."""
        try:
            spec = build_tree(snapshot.model, instance_id)
        except SourceError:
            return  # the snapshot was retired under us; the next highlight draws it
        self.post_message(self.TreeReady(instance_id, spec))

    def on_browser_screen_tree_ready(self, message: TreeReady) -> None:
        if self.query_one(InstanceTable).instance_at_cursor() == message.instance_id:
            self.query_one(InstanceTree).show(message.spec, message.instance_id)

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.refresh_rows()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(InstanceTable).focus()

    @on(DataTable.RowHighlighted, "#instances")
    def _row_highlighted(self) -> None:
        instance_id = self.query_one(InstanceTable).instance_at_cursor()
        if instance_id is not None and instance_id != self.query_one(InstanceTree).shown_for:
            self._show_tree(instance_id)

    @on(DataTable.RowSelected, "#instances")
    def _row_selected(self) -> None:
        self.action_open_selected()

    @on(Tree.NodeSelected, "#tree")
    def _tree_selected(self, event: Tree.NodeSelected[str]) -> None:
        if event.node.data:
            self.durascope.open_instance(event.node.data)

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_focus_tree(self) -> None:
        self.query_one(InstanceTree).focus()

    def action_open_selected(self) -> None:
        instance_id = self.query_one(InstanceTable).instance_at_cursor()
        if instance_id is not None:
            self.durascope.open_instance(instance_id)

    def action_first_finding(self) -> None:
        self.durascope.open_first_finding()

    def action_help(self) -> None:
        self.durascope.show_help(self)
