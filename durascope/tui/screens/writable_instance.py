"""The instance screen with write actions: only pushed when started with --allow-writes.

The read-only :class:`~durascope.tui.screens.instance.InstanceScreen` has no such
bindings at all, so without the flag neither the footer, the help screen nor the
command palette offers them and their keys do nothing.
"""

from __future__ import annotations

from textual.binding import Binding

from durascope.tui.screens.confirm import ConfirmWriteScreen, WriteRequest
from durascope.tui.screens.instance import InstanceScreen

__all__ = ["WritableInstanceScreen"]


class WritableInstanceScreen(InstanceScreen):
    """Adds ``e`` (raise an event) and ``x`` (cancel), each confirmed by typing the id."""

    BINDINGS = [
        Binding("e", "write('raise')", "Raise event", id="instance.raise"),
        Binding("x", "write('cancel')", "Cancel instance", id="instance.cancel"),
    ]

    def action_write(self, action: str) -> None:
        """Ask for confirmation, then write through the runtime's client."""

        def done(request: WriteRequest | None) -> None:
            if request is not None:
                self.durascope.perform_write(request)

        self.app.push_screen(ConfirmWriteScreen(action, self.instance_id), done)
