"""Smoke tests in a real terminal: ``durascope tui`` under tmux, keys in, screen out.

The pane is captured with ``capture-pane -e``, which includes the SGR sequences
(colours, bold) that tmux holds for each cell: the app's own styling.  A raw escape
in the data would instead be obeyed by the terminal; the hostile id below must
therefore show as text (``\\x1b[31m...``), its red must not colour the pane, and
nothing but SGR may appear in the capture.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.terminal import assert_only_styling, kill, send, start, wait_for

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "fixtures" / "scenarios.db"


@pytest.mark.tmux
@pytest.mark.slow
def test_tui_in_a_real_terminal() -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    session = f"durascope-test-{int(time.time() * 1000)}"
    start(session, f"cd {ROOT} && {sys.executable} -m durascope.tui {STORE}")  # 80x24
    try:
        wait_for(session, "healthy-loop", "BatchLoop", "durascope store")
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
        styled = wait_for(session, "turn 3 of 3", "child_id_collision", "stuck_parent")
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
        kill(session)


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
        kill(session)
