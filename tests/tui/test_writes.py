"""Write actions exist only behind --allow-writes, and only after typing the instance id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot

from durascope.cli import main
from durascope.history import CancelInstance, ExternalRaised
from durascope.replay import open_model
from durascope.tui import DurascopeApp
from durascope.tui.__main__ import main as tui_main
from durascope.tui.screens.confirm import ConfirmWriteScreen
from durascope.tui.screens.help import HelpScreen
from durascope.tui.screens.instance import InstanceScreen
from durascope.tui.screens.writable_instance import WritableInstanceScreen
from tests.tui.conftest import instance_screen, settle

WRITE_TITLES = ("Raise event", "Cancel instance")
BUNDLE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios.bundle.json.gz"


def queued(path: Path, instance_id: str) -> list[object]:
    """The work items waiting on the orchestrator queue for an instance (read back)."""
    model = open_model(path)
    try:
        return [
            m.item
            for m in model.pending
            if m.queue == "orchestrator" and m.instance_id == instance_id
        ]
    finally:
        model.close()


async def help_text(app: DurascopeApp, pilot: Pilot[int]) -> str:
    await pilot.press("question_mark")
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen)
    text = str(app.screen.query_one("#help-body").render())
    await pilot.press("escape")
    await pilot.pause()
    return text


async def test_without_the_flag_there_are_no_write_actions(store_copy: Path) -> None:
    before = queued(store_copy, "legacy-loop")
    app = DurascopeApp(store_copy, instance="legacy-loop", poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "legacy-loop")
        assert type(screen) is InstanceScreen
        active = screen.active_bindings
        assert "e" not in active and "x" not in active
        footer = {b.binding.description for b in active.values() if b.binding.show}
        assert not footer & set(WRITE_TITLES)
        titles = [c.title for c in app.get_system_commands(screen)]
        assert "Next turn" in titles  # the palette lists the screen's actions ...
        assert not set(titles) & set(WRITE_TITLES)  # ... but no write
        text = await help_text(app, pilot)
        assert "Next turn" in text
        assert not any(title in text for title in WRITE_TITLES)
        await pilot.press("x", "e")
        await pilot.pause()
        assert app.screen is screen  # nothing asked for a confirmation
    assert queued(store_copy, "legacy-loop") == before


async def test_the_flag_alone_does_not_write_to_a_bundle(tmp_path: Path, fixed_store: Path) -> None:
    from durascope.replay import build_bundle, write_bundle

    model = open_model(fixed_store)
    try:
        model.load_all()
        bundle = tmp_path / "incident.json"
        write_bundle(build_bundle(model), bundle)
    finally:
        model.close()
    app = DurascopeApp(bundle, instance="legacy-loop", allow_writes=True, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "legacy-loop")
        assert type(screen) is InstanceScreen
        assert "x" not in screen.active_bindings


async def test_with_the_flag_a_cancel_needs_the_typed_id(store_copy: Path) -> None:
    assert queued(store_copy, "legacy-loop") == []
    app = DurascopeApp(store_copy, instance="legacy-loop", allow_writes=True, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        screen = await instance_screen(app, pilot, "legacy-loop")
        assert isinstance(screen, WritableInstanceScreen)
        active = screen.active_bindings
        assert active["x"].binding.action == "write('cancel')"
        assert active["e"].binding.action == "write('raise')"
        titles = [c.title for c in app.get_system_commands(screen)]
        assert set(WRITE_TITLES) <= set(titles)
        text = await help_text(app, pilot)
        assert all(title in text for title in WRITE_TITLES)

        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press(*"legacy-lop", "enter")  # a typo
        await settle(app, pilot)
        assert app.screen is screen
        assert queued(store_copy, "legacy-loop") == []  # nothing was written

        await pilot.press("x")
        await pilot.pause()
        await pilot.press(*"legacy-loop", "enter")
        await settle(app, pilot)
        assert app.screen is screen
    [item] = queued(store_copy, "legacy-loop")
    assert isinstance(item, CancelInstance) and item.instance == "legacy-loop"


async def test_with_the_flag_an_event_is_raised_after_the_typed_id(store_copy: Path) -> None:
    app = DurascopeApp(store_copy, instance="legacy-loop", allow_writes=True, poll=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot)
        await instance_screen(app, pilot, "legacy-loop")
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press(*"go", "enter", *'{"ok": true}', "enter", *"legacy-loop", "enter")
        await settle(app, pilot)
    [item] = queued(store_copy, "legacy-loop")
    assert isinstance(item, ExternalRaised)
    assert (item.instance, item.name, json.loads(item.data)) == ("legacy-loop", "go", {"ok": True})


def test_the_flag_on_a_bundle_is_a_usage_error_before_the_tui_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def started(self: DurascopeApp) -> None:
        raise AssertionError("the TUI started")

    monkeypatch.setattr(DurascopeApp, "run", started)
    for run in (
        lambda: main(["tui", str(BUNDLE), "--allow-writes"]),
        lambda: tui_main([str(BUNDLE), "--allow-writes"]),
    ):
        assert run() == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err == (
            f"durascope: error: --allow-writes needs a durascope store; {BUNDLE} is a bundle "
            "(leave the flag out to browse it read-only)\n"
        )


def test_the_flag_on_a_durascope_store_opens_the_tui(
    fixed_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[bool] = []

    def run(self: DurascopeApp) -> None:
        started.append(self.session.writable)

    monkeypatch.setattr(DurascopeApp, "run", run)
    assert main(["tui", str(fixed_store), "--allow-writes"]) == 0
    assert main(["tui", str(BUNDLE)]) == 0  # and a bundle without the flag
    assert started == [True, False]
