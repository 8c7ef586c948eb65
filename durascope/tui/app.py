"""The durascope terminal UI: an instance browser and a turn-by-turn instance screen.

The UI thread never waits for the store: loading every event and diagnosing run
in a thread worker on a model of their own, and the finished snapshot is swapped
in whole (see :mod:`durascope.tui.session`).  A live durascope or duroxide store
is polled every half second through ``PRAGMA data_version`` and read again when
it changed; screens then update in place (only the rows that changed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from durascope.replay import SourceError, safe_text
from durascope.tui.messages import SnapshotReady
from durascope.tui.screens.browser import BrowserScreen
from durascope.tui.screens.confirm import WriteRequest
from durascope.tui.screens.help import HelpScreen
from durascope.tui.screens.instance import InstanceScreen, StartAt
from durascope.tui.session import DebugSession

__all__ = ["POLL_SECONDS", "DurascopeApp", "WritesUnavailable", "run_tui", "screen_bindings"]

POLL_SECONDS = 0.5


class WritesUnavailable(SourceError):
    """``--allow-writes`` on an input that cannot take writes (a bundle, a duroxide store).

    A :class:`SourceError`, so the CLI prints it as one line and exits 2.
    """


def _described(owner: type[Any]) -> list[Binding]:
    out: list[Binding] = []
    for cls in reversed(owner.__mro__):
        if not cls.__module__.startswith("durascope."):
            continue
        for binding in cls.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding) and binding.description:
                out.append(binding)
    return out


def screen_bindings(screen: Screen[Any]) -> list[Binding]:
    """The described bindings of a durascope screen, its durascope bases and the app.

    These are what the help screen and the command palette list (Textual's own
    ``Screen`` and ``App`` bindings, such as focus cycling, are left to Textual).
    The app's bindings come last with their action in the ``app`` namespace, so
    that running one on the screen reaches the app; a modal screen leaves them out,
    as Textual does (its keys do not reach the app).
    """
    out = _described(type(screen))
    if not screen.is_modal:
        out += [replace(b, action=f"app.{b.action}") for b in _described(type(screen.app))]
    return out


class DurascopeApp(App[int]):
    """The TUI over one input (see ``durascope tui``)."""

    CSS_PATH = "app.tcss"
    TITLE = "durascope"
    # App-level, so that q quits from every full screen (a modal one, or an input
    # with focus, keeps the key for itself).  ctrl+q, Textual's own, has no
    # description: the footer, the help and the palette name q alone.
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("ctrl+q", "quit", id="app.quit_ctrl", show=False),
    ]

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
        self._building = False
        self._error: str | None = None

    def on_mount(self) -> None:
        self.push_screen(BrowserScreen())
        if self._initial_instance is not None:
            self.open_instance(self._initial_instance)
        # Diagnosis loads every event: start it once the first screen is drawn, so its
        # thread does not compete with the first paint.
        self.call_after_refresh(self._start_snapshot, False)
        if self._poll:
            self.set_interval(POLL_SECONDS, self._poll_tick)

    def on_unmount(self) -> None:
        self.session.close()

    # Snapshots.

    def _poll_tick(self) -> None:
        if not self._building:
            # Until a first diagnosis, build whether or not the store changed; after a
            # failed one, only once the store changed again (not every half second).
            self._start_snapshot(self.session.findings is not None or self._error is not None)

    def _start_snapshot(self, only_if_changed: bool) -> None:
        self._building = True
        self.build_snapshot(only_if_changed)

    @work(thread=True, group="snapshot", exit_on_error=False)
    def build_snapshot(self, only_if_changed: bool) -> None:
        """Read and diagnose the input on its own model; post the result to the UI thread."""
        snapshot = None
        error = None
        try:
            if not only_if_changed or self.session.changed():
                snapshot = self.session.build_snapshot()
        except SourceError as exc:  # a half-written file: tried again when it changes
            error = safe_text(exc, 300)
        except Exception as exc:  # a bug in a rule must not take the browser down with it
            error = f"diagnosis failed: {type(exc).__name__}: {safe_text(exc, 200)}"
        finally:
            self.post_message(SnapshotReady(snapshot, error))

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        self._building = False
        if message.snapshot is None:
            if message.error is not None and message.error != self._error:
                self.notify(message.error, severity="error", markup=False)
            self._error = message.error or self._error
            return
        self._error = None
        retired = self.session.install(message.snapshot)
        for screen in self.screen_stack:
            if isinstance(screen, BrowserScreen):
                screen.refresh_rows()
            elif isinstance(screen, InstanceScreen) and screen.is_mounted:
                screen.load()
        if retired is not None:
            retired.close()  # the screens read the new snapshot now
        if self._select_first_finding:
            self._select_first_finding = False
            self.open_first_finding()

    # Navigation used by the screens.

    def open_instance(self, instance_id: str, start: StartAt | None = None) -> None:
        """Push the instance screen (at a turn, or at the turn of an event)."""
        if instance_id not in self.session.model.instances:
            self.notify(
                f"No instance {safe_text(instance_id)!r} here.", severity="warning", markup=False
            )
            return
        if self.session.writable:
            from durascope.tui.screens.writable_instance import WritableInstanceScreen

            self.push_screen(WritableInstanceScreen(instance_id, start))
        else:
            self.push_screen(InstanceScreen(instance_id, start))

    def open_first_finding(self) -> None:
        """Open the instance of the first (most severe) finding at its turn."""
        findings = [
            f for f in self.session.findings or [] if f.instance in self.session.model.instances
        ]
        if not findings:
            self.notify("No findings." if self.session.findings is not None else "Diagnosing…")
            return
        first = findings[0]
        self.open_instance(first.instance, first.turn_index)

    def show_help(self, screen: Screen[Any]) -> None:
        """The bindings of ``screen``, in a modal."""
        rows = [(b.key.replace("_", " "), b.description) for b in screen_bindings(screen)]
        self.push_screen(HelpScreen(rows))

    @work(exclusive=True, group="write")
    async def perform_write(self, request: WriteRequest) -> None:
        """Carry out a confirmed write (only reachable with ``--allow-writes``)."""
        from durascope.tui.writes import perform

        done = await perform(self.session.path, request)
        self.notify(done, markup=False)  # it names the instance: data, not markup

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of the current screen in the command palette."""
        yield from super().get_system_commands(screen)
        for binding in screen_bindings(screen):
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
        WritesUnavailable: ``allow_writes`` and PATH is not a durascope store.
    """
    app = DurascopeApp(
        path,
        instance=instance,
        allow_writes=allow_writes,
        select_first_finding=select_first_finding,
    )
    if allow_writes and not app.session.writable:
        # Refused before the first screen: a flag that silently did nothing left the
        # user looking for the e and x keys.
        origin = app.session.model.origin
        app.session.close()
        what = "a bundle" if origin.kind == "bundle" else f"a {origin.kind} store"
        raise WritesUnavailable(
            f"--allow-writes needs a durascope store; {safe_text(origin.path)} is {what} "
            "(leave the flag out to browse it read-only)"
        )
    app.run()
    return app.return_code or 0
