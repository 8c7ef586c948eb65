"""Hostile ids and text through every command and the TUI; arguments a user gets wrong."""

from __future__ import annotations

import copy
import html
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import terminal
from tests.reliability.hostile import (
    COMMANDS,
    FIXTURE,
    FIXTURE_DOC,
    HOSTILE,
    ROOT,
    cli,
    rename_everywhere,
    run_command,
    write_json,
)
from tests.reliability.tally import FUZZED

# -- hostile ids everywhere, and the TUI ------------------------------------------------


def hostile_bundle(hostile: str) -> tuple[dict[str, Any], str]:
    """The fixture with one tree renamed, and hostile text in every payload field."""
    doc = copy.deepcopy(FIXTURE_DOC)
    old = "healthy-loop"
    new = f"{hostile}{old}"
    doc = rename_everywhere(doc, old, new)
    for inst in doc["instances"]:
        if inst["instance_id"].startswith(new):
            inst["orchestration_name"] = hostile + inst["orchestration_name"]
            inst["custom_status"] = hostile
            for ex in inst["executions"]:
                for event in ex["events"]:
                    for field in ("input", "result", "output", "data", "reason"):
                        if isinstance(event.get(field), str):
                            event[field] = json.dumps(hostile)
                    if isinstance(event.get("name"), str):
                        event["name"] = hostile + event["name"]
    return doc, new


@pytest.mark.parametrize("hostile", HOSTILE, ids=[f"h{k}" for k in range(len(HOSTILE))])
def test_hostile_ids_through_every_command(tmp_path: Path, hostile: str) -> None:
    doc, instance = hostile_bundle(hostile)
    path = write_json(doc, tmp_path / "hostile.json", gz=False)
    for kind in COMMANDS:
        for target in (instance, f"{instance}::sub::2"):
            run_command(kind, path, target, tmp_path)
    FUZZED["hostile-id bundles"] += 1


@pytest.mark.parametrize("hostile", ["\x1b[2J", "\x1b]0;title\x07", "\x9b31m", "nul\x00byte"])
async def test_the_tui_shows_hostile_ids_escaped(tmp_path: Path, hostile: str) -> None:
    pytest.importorskip("textual")
    from durascope.tui import DurascopeApp

    doc, instance = hostile_bundle(hostile)
    path = write_json(doc, tmp_path / "hostile.json", gz=False)
    for start in (None, instance):
        app = DurascopeApp(path, instance=start, poll=False)
        async with app.run_test(size=(160, 45)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            if start is None:
                await pilot.press("slash", *"healthy", "enter", "enter")
                await app.workers.wait_for_complete()
                await pilot.pause()
            screen = app.export_screenshot()
            for char in ("\x1b", "\x9b", "\x07", "\x00"):
                assert char not in screen, f"raw {char!r} on the TUI screen"
            assert "healthy-loop" in screen
        FUZZED["hostile-id TUI screens"] += 1


# -- arguments a user gets wrong ---------------------------------------------------------


def test_unwritable_outputs_and_wrong_suffixes_are_user_errors(tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir"
    cases = [
        ["render", FIXTURE, "--instance=healthy-loop", "-o", tmp_path / "graph.txt"],
        ["render", FIXTURE, "--instance=healthy-loop", "-o", missing_dir / "graph.dot"],
        ["export", FIXTURE, "-o", missing_dir / "out.json"],
        ["export", FIXTURE, "-o", tmp_path],  # a directory
        ["history", tmp_path, "--instance=x"],
        ["history", FIXTURE, "--instance=healthy-loop", "--execution=0"],
        ["history", FIXTURE, "--instance=healthy-loop", "--execution=-5"],
        ["replay", FIXTURE, "--instance=healthy-loop", "--module", tmp_path / "absent.py"],
        ["replay", FIXTURE, "--instance=healthy-loop", "--module", FIXTURE],
    ]
    for args in cases:
        code, _, err = cli(args)
        assert code == 2, (args, err)
        FUZZED["bad arguments"] += 1


@pytest.mark.tmux
@pytest.mark.slow
def test_the_tui_in_a_real_terminal_does_not_obey_escapes_in_data(tmp_path: Path) -> None:
    """Under tmux, data that would retitle the terminal or clear it shows as text."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    hostile = "\x1b]2;PWNED\x07\x1b[2J"  # set the window title, then clear the screen
    doc, instance = hostile_bundle(hostile)
    path = write_json(doc, tmp_path / "hostile.json", gz=False)
    session = f"durascope-hostile-{int(time.time() * 1000)}"
    command = (
        f"cd {ROOT} && {sys.executable} -m durascope.tui {path} --instance {shlex.quote(instance)}"
    )
    terminal.start(session, command, width=160, height=40)
    try:
        shown = "\\x1b]2;PWNED\\x07"  # safe_text's form of the data: shown, escaped
        terminal.wait_for(session, "healthy-loop", shown, timeout=30.0)
        title = subprocess.run(
            ["tmux", "display-message", "-p", "-t", session, "#{pane_title}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "PWNED" not in title, title
        FUZZED["hostile-id real terminals"] += 1
    finally:
        terminal.kill(session)


@pytest.mark.parametrize("markup", ["[b]bold[/b]", "[/]", "[link=file:///etc]x[/link]"])
async def test_the_tui_shows_markup_in_data_as_text(tmp_path: Path, markup: str) -> None:
    """Rich markup in ids, names and payloads is text: shown as is, never parsed (or raised)."""
    from durascope.tui import DurascopeApp

    doc, instance = hostile_bundle(markup)
    path = write_json(doc, tmp_path / "markup.json", gz=False)
    for start in (None, instance):
        app = DurascopeApp(path, instance=start, poll=False)
        async with app.run_test(size=(200, 50)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            if start is None:
                await pilot.press("slash", *"healthy", "enter")
                await pilot.pause()
            screen = app.export_screenshot()
            assert html.escape(markup, quote=False) in screen.replace("&#160;", " "), markup
        FUZZED["markup-id TUI screens"] += 1


DOT_SPECIAL = ['"]; evil [label="x', "\\", "<b>html</b>", "{record|field}", "\\N\\G\\L"]
"""Text that means something to DOT: quotes ending a label, HTML labels, records, escapes."""


@pytest.mark.slow
def test_hostile_ids_render_through_real_dot(tmp_path: Path) -> None:
    """Every hostile id, and DOT's own syntax, renders to SVG with the real ``dot``."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    for hostile in [*HOSTILE, *DOT_SPECIAL]:
        doc, instance = hostile_bundle(hostile)
        path = write_json(doc, tmp_path / "hostile.json", gz=False)
        out = tmp_path / "graph.svg"
        code, _, err = cli(["render", path, f"--instance={instance}", "-o", out])
        assert code == 0, (hostile, err)
        assert out.read_bytes().lstrip().startswith((b"<?xml", b"<svg")), hostile
        out.unlink()
        FUZZED["hostile-id graphs rendered by dot"] += 1
