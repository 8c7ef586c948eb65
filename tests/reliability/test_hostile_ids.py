"""Hostile ids and text through every command and the TUI; arguments a user gets wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.hostile import (
    COMMANDS,
    FIXTURE,
    FIXTURE_DOC,
    HOSTILE,
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
