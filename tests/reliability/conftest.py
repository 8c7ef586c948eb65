"""Fixtures shared by the reliability tests, and the figures they print at the end."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from durascope.replay import build_bundle, open_model, write_bundle
from tests.reliability.hostile import consolidate, fresh_store_workload
from tests.reliability.tally import FUZZED, KILLS, NOTES, WHERE


@pytest.fixture(scope="session")
def fresh_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A durascope store, checkpointed into one file (no -wal), for copying."""
    directory = tmp_path_factory.mktemp("fresh")
    db = directory / "live.db"
    asyncio.run(fresh_store_workload(db))
    single = directory / "fresh.db"
    consolidate(db, single)
    return single


@pytest.fixture(scope="session")
def fresh_bundle(fresh_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A bundle exported from ``fresh_store``, as parsed JSON."""
    model = open_model(fresh_store)
    model.load_all()
    out = tmp_path_factory.mktemp("fresh-bundle") / "fresh.json"
    write_bundle(build_bundle(model), out)
    model.close()
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


@pytest.fixture(scope="session")
def duroxide_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real duroxide stores (run by the duroxide package), each in one file."""
    from tests.replay.duroxide_stores import generate

    raw = tmp_path_factory.mktemp("duroxide-raw")
    made = generate(raw, ["healthy", "can_children", "pending_and_orphan", "cancelled_tree"])
    single = tmp_path_factory.mktemp("duroxide")
    out = {}
    for name, path in made.items():
        out[name] = single / f"{name}.db"
        consolidate(path, out[name])
    return out


@pytest.fixture(autouse=True)
def _no_debug_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """DURASCOPE_DEBUG would turn internal errors into tracebacks; these tests want exit 3."""
    monkeypatch.delenv("DURASCOPE_DEBUG", raising=False)
    random.seed(0)
    yield


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what the reliability tests injected and fed (the figures the README quotes)."""
    if not (FUZZED or KILLS or NOTES):
        return
    write = terminalreporter.write_line
    terminalreporter.section("reliability figures")
    if KILLS:
        faults = {k: v for k, v in KILLS.items() if k not in ("trials", "orchestrations")}
        write(
            f"SIGKILL trials: {KILLS['trials']} trials, {KILLS['orchestrations']} orchestrations, "
            f"{sum(faults.values())} kills {dict(sorted(faults.items()))}"
        )
        write(f"  where: {dict(sorted(WHERE.items()))}")
    for note in NOTES:
        write(note)
    if FUZZED:
        inputs = sum(v for k, v in FUZZED.items() if k != "cli runs")
        write(f"hostile input: {inputs} inputs, {FUZZED['cli runs']} CLI runs")
        for key, value in sorted(FUZZED.items()):
            write(f"  {key}: {value}")
