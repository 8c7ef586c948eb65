"""Smoke tests in a real terminal: ``durascope tui`` under tmux, keys in, screen out.

The pane is captured with ``capture-pane -e``, which includes the SGR sequences
(colours, bold) that tmux holds for each cell: the app's own styling.  A raw escape
in the data would instead be obeyed by the terminal; the hostile id below must
therefore show as text (``\\x1b[31m...``), its red must not colour the pane, and
nothing but SGR may appear in the capture.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "fixtures" / "scenarios.db"
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


def wait_for(session: str, text: str, timeout: float = 20.0) -> str:
    """Wait until ``text`` is on the pane; returns the styled capture."""
    deadline = time.monotonic() + timeout
    styled = ""
    while time.monotonic() < deadline:
        styled = capture(session)
        if text in text_of(styled):
            return styled
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{text_of(styled)}")


def assert_only_styling(styled: str) -> None:
    """The capture holds the app's styling, and no escape of any other kind."""
    assert SGR.search(styled), "no styling captured: was capture-pane run without -e?"
    leftover = text_of(styled)
    for char in ("\x1b", "\x9b", "\x07", "\x00", "\x08"):
        assert char not in leftover, f"raw {char!r} reached the pane"


def start(session: str, command: str, width: int = 80, height: int = 24) -> None:
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command],
        check=True,
    )


def send(session: str, *keys: str, literal: bool = False) -> None:
    flags = ["-l"] if literal else []
    subprocess.run(["tmux", "send-keys", "-t", session, *flags, *keys], check=True)


@pytest.mark.tmux
@pytest.mark.slow
def test_tui_in_a_real_terminal() -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    session = f"durascope-test-{int(time.time() * 1000)}"
    start(session, f"cd {ROOT} && {sys.executable} -m durascope.tui {STORE}")  # 80x24
    try:
        screen = text_of(wait_for(session, "healthy-loop"))
        assert "BatchLoop" in screen and "durascope store" in screen
        time.sleep(1.0)  # let the first screen settle before typing
        send(session, "/")
        time.sleep(0.3)
        send(session, "legacy-loop", literal=True)
        wait_for(session, "legacy-loop::sub::2  ")
        for _ in range(2):  # leave the filter, then open the highlighted instance
            send(session, "Enter")
            time.sleep(0.5)
        wait_for(session, "turn 1 of 3")
        send(session, "Tab")  # focus moves on (a table or the tab bar): → still steps
        time.sleep(0.3)
        send(session, "Right", "Right")
        styled = wait_for(session, "turn 3 of 3")
        screen = text_of(styled)
        assert "child_id_collision" in screen or "stuck_parent" in screen
        assert_only_styling(styled)
        send(session, "Escape")
        wait_for(session, "First finding")  # back on the browser
        send(session, "q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True)
            if alive.returncode != 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the TUI did not quit on 'q'")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


@pytest.mark.tmux
@pytest.mark.slow
def test_escapes_in_an_id_show_as_text_in_a_real_terminal(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    from tests.reliability.hostile import FIXTURE_DOC, rename_everywhere, write_json

    hostile = "\x1b[31mRED\x1b[0m-healthy-loop"  # would colour the rest of the line red
    doc = rename_everywhere(FIXTURE_DOC, "healthy-loop", hostile)
    bundle = write_json(doc, tmp_path / "hostile.json", gz=False)
    session = f"durascope-hostile-{int(time.time() * 1000)}"
    start(
        session,
        f"cd {ROOT} && {sys.executable} -m durascope.tui {bundle} "
        f"--instance {shlex.quote(hostile)}",
        width=120,
        height=30,
    )
    try:
        shown = "\\x1b[31mRED\\x1b[0m-healthy-loop"  # safe_text's form: backslash, x, 1, b
        styled = wait_for(session, f"{shown}  [BatchLoop]")  # the stepper header
        assert_only_styling(styled)
        assert "\x1b[31mRED" not in styled  # the data's red was not handed to the terminal
        send(session, "Escape")  # the browser lists it too
        styled = wait_for(session, f"{shown}::sub::2")
        assert_only_styling(styled)
        assert "\x1b[31mRED" not in styled
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
