"""The durascope terminal UI: an instance browser and a turn-by-turn instance screen.

Store I/O runs in thread workers (reading is synchronous ``sqlite3``); a live
durascope or duroxide store is polled every half second through
``PRAGMA data_version`` and re-read when it changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from durascope.replay import SourceError, safe_text
from durascope.tui.messages import FindingsReady, StoreReloaded
from durascope.tui.screens.browser import BrowserScreen
from durascope.tui.screens.confirm import WriteRequest
from durascope.tui.screens.help import HelpScreen
from durascope.tui.screens.instance import InstanceScreen
from durascope.tui.session import DebugSession

POLL_SECONDS = 0.5


class DurascopeApp(App[int]):
    """The TUI over one input (see ``durascope tui``)."""

    CSS_PATH = "app.tcss"
    TITLE = "durascope"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", id="app.quit", show=False)]

    def __init__(
        self,
        path: str | Path,
        *,
        instance: str | None = None,
        allow_writes: bool = False,
        select_first_finding: bool = False,
        poll: bool = True,
    ) -> None:
        super().__init__()
        self.session = DebugSession(path, allow_writes=allow_writes)
        self._initial_instance = instance
        self._select_first_finding = select_first_finding
        self._poll = poll
        self._reloading = False

    def on_mount(self) -> None:
        self.push_screen(BrowserScreen())
        if self._initial_instance is not None:
            self.open_instance(self._initial_instance)
        # Diagnosis loads every event: start it once the first screen is drawn, so its
        # thread does not compete with the first paint.
        self.call_after_refresh(self.diagnose_in_background)
        if self._poll:
            self.set_interval(POLL_SECONDS, self.check_for_changes)

    def on_unmount(self) -> None:
        self.session.close()

    # Workers.

    @work(thread=True, exclusive=True, group="diagnose")
    def diagnose_in_background(self) -> None:
        findings = self.session.diagnose()
        self.post_message(FindingsReady(len(findings)))

    @work(thread=True, exclusive=True, group="poll")
    def check_for_changes(self) -> None:
        if self._reloading or not self.session.changed():
            return
        self._reloading = True
        try:
            self.session.reload()
        except SourceError:
            return  # a half-written file: try again at the next poll
        finally:
            self._reloading = False
        self.post_message(StoreReloaded(len(self.session.model.instances)))

    def on_findings_ready(self, message: FindingsReady) -> None:
        self._refresh_screens()
        if self._select_first_finding:
            self._select_first_finding = False
            self.open_first_finding()

    def on_store_reloaded(self, message: StoreReloaded) -> None:
        self._refresh_screens()

    def _refresh_screens(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, BrowserScreen):
                screen.refresh_rows()
            elif isinstance(screen, InstanceScreen) and screen.is_mounted:
                screen.load()

    # Navigation used by the screens.

    def open_instance(self, instance_id: str, turn: int | None = None) -> None:
        """Push the instance screen (at a turn)."""
        if instance_id not in self.session.model.instances:
            self.notify(
                f"No instance {safe_text(instance_id)!r} here.", severity="warning", markup=False
            )
            return
        self.push_screen(InstanceScreen(instance_id, turn))

    def open_first_finding(self) -> None:
        """Open the instance of the first (most severe) finding at its turn."""
        findings = [
            f for f in self.session.findings or [] if f.instance in self.session.model.instances
        ]
        if not findings:
            self.notify("No findings.")
            return
        first = findings[0]
        self.open_instance(first.instance, first.turn)

    def show_help(self, screen: Screen[Any]) -> None:
        """The bindings of ``screen``, in a modal."""
        rows = [
            (b.key.replace("_", " "), b.description)
            for b in screen.BINDINGS
            if isinstance(b, Binding) and b.description
        ]
        self.push_screen(HelpScreen(rows))

    @work(exclusive=True, group="write")
    async def perform_write(self, request: WriteRequest) -> None:
        from durascope.tui.writes import perform

        done = await perform(self.session.path, request)
        self.notify(done, markup=False)  # it names the instance: data, not markup

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of the current screen in the command palette."""
        yield from super().get_system_commands(screen)
        for binding in screen.BINDINGS:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            action = binding.action

            def run(action: str = action, screen: Screen[Any] = screen) -> None:
                self.call_later(screen.run_action, action)

            yield SystemCommand(binding.description, f"key: {binding.key}", run)


def run_tui(
    path: str | Path,
    *,
    instance: str | None = None,
    allow_writes: bool = False,
    select_first_finding: bool = False,
) -> int:
    """Run the TUI until the user quits; returns the exit code.

    Raises:
        SourceError: PATH cannot be opened (the CLI prints it as one line).
    """
    app = DurascopeApp(
        path,
        instance=instance,
        allow_writes=allow_writes,
        select_first_finding=select_first_finding,
    )
    app.run()
    return app.return_code or 0
