"""A real terminal for smoke tests: a tmux session, keys in, the pane's text out.

``capture-pane -e`` includes the SGR sequences (colours, bold) that tmux holds for
each cell: the app's own styling.  Any other escape in a capture came from data the
app let through to the terminal.
"""

from __future__ import annotations

import re
import subprocess
import time

SGR = re.compile(r"\x1b\[[0-9;:]*m")
"""The only escapes ``capture-pane -e`` emits: Select Graphic Rendition."""


def capture(session: str) -> str:
    """The pane with its styling, as SGR sequences."""
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-e", "-t", session],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def text_of(styled: str) -> str:
    """The pane's text: the SGR sequences removed (anything else stays, to be caught)."""
    return SGR.sub("", styled)


def wait_for(session: str, *texts: str, timeout: float = 20.0) -> str:
    """Wait until every one of ``texts`` is on the pane at once; returns the styled capture.

    Waiting for all of them in one capture matters: the terminal receives a frame in
    several writes, so a capture can hold the table's rows before the title above them.
    """
    deadline = time.monotonic() + timeout
    styled = ""
    while time.monotonic() < deadline:
        styled = capture(session)
        if all(text in text_of(styled) for text in texts):
            return styled
        time.sleep(0.2)
    raise AssertionError(f"{texts!r} never all appeared; the screen was:\n{text_of(styled)}")


def assert_only_styling(styled: str) -> None:
    """The capture holds the app's styling, and no escape of any other kind."""
    assert SGR.search(styled), "no styling captured: was capture-pane run without -e?"
    leftover = text_of(styled)
    for char in ("\x1b", "\x9b", "\x07", "\x00", "\x08"):
        assert char not in leftover, f"raw {char!r} reached the pane"


def start(session: str, command: str, width: int = 80, height: int = 24) -> None:
    """Run ``command`` in a new detached session with a ``width`` x ``height`` pane."""
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command],
        check=True,
    )


def send(session: str, *keys: str, literal: bool = False) -> None:
    """Type ``keys`` (tmux key names, or the characters themselves when ``literal``)."""
    flags = ["-l"] if literal else []
    subprocess.run(["tmux", "send-keys", "-t", session, *flags, *keys], check=True)


def kill(session: str) -> None:
    """End the session (and the TUI in it), whether or not it is still running."""
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
