"""Smoke test in a real terminal: ``durascope tui`` under tmux, keys in, screen text out."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "fixtures" / "scenarios.db"


def capture(session: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
    ).stdout


def wait_for(session: str, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


@pytest.mark.tmux
@pytest.mark.slow
def test_tui_in_a_real_terminal() -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    session = f"durascope-test-{int(time.time() * 1000)}"
    command = f"cd {ROOT} && {sys.executable} -m durascope.tui {STORE}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", command], check=True
    )
    try:
        screen = wait_for(session, "healthy-loop")  # a standard 80x24 terminal
        assert "BatchLoop" in screen and "durascope store" in screen
        time.sleep(1.0)  # let the first screen settle before typing
        subprocess.run(["tmux", "send-keys", "-t", session, "/"], check=True)
        time.sleep(0.3)
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", "legacy-loop"], check=True)
        wait_for(session, "legacy-loop::sub::2  ")
        for _ in range(2):  # leave the filter, then open the highlighted instance
            subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
            time.sleep(0.5)
        screen = wait_for(session, "turn 1 of 3")
        subprocess.run(["tmux", "send-keys", "-t", session, "Right", "Right"], check=True)
        screen = wait_for(session, "turn 3 of 3")
        assert "child_id_collision" in screen or "stuck_parent" in screen
        assert "\x1b" not in screen  # capture-pane gives text only; no raw escapes leak
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        wait_for(session, "First finding")  # back on the browser
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
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
