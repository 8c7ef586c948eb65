"""Scenario stores for the TUI tests (a fresh run, and the committed one), and helpers."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot

from durascope.scenarios import run_scenarios
from durascope.tui import DurascopeApp
from durascope.tui.screens.instance import InstanceScreen

FIXTURE_STORE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios.db"


@pytest.fixture(scope="session")
def tui_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tui") / "scenarios.db"
    asyncio.run(run_scenarios(path))
    return path


@pytest.fixture
def fixed_store() -> Path:
    """The committed scenario store: its turns are fixed (a fresh run may split a
    batch of completions over two turns), so tests can name turns.  Opened read-only."""
    return FIXTURE_STORE


@pytest.fixture
def store_copy(tmp_path: Path) -> Path:
    """A private copy of the committed scenario store (for tests that write to it)."""
    copy = tmp_path / "scenarios.db"
    shutil.copy(FIXTURE_STORE, copy)
    return copy


async def settle(app: DurascopeApp, pilot: Pilot[int]) -> None:
    """Wait for every worker (diagnosis, timelines) and the messages they posted."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def instance_screen(
    app: DurascopeApp, pilot: Pilot[int], instance_id: str | None = None
) -> InstanceScreen:
    """The active instance screen once its timeline is loaded."""
    for _ in range(500):
        screen = app.screen
        if (
            isinstance(screen, InstanceScreen)
            and screen.stepper is not None
            and (instance_id is None or screen.instance_id == instance_id)
        ):
            return screen
        await pilot.pause(0.01)
    raise AssertionError(f"no loaded instance screen for {instance_id!r}; on {app.screen!r}")


def screen_text(app: DurascopeApp) -> str:
    """What the terminal shows, as plain text (the compositor's cells)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(
            full=True, screen_stack=app._background_screens, simplify=True
        )
    )
    return console.export_text()
