"""A deterministic scenario store for the TUI tests (built once per session)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from durascope.scenarios import run_scenarios


@pytest.fixture(scope="session")
def tui_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tui") / "scenarios.db"
    asyncio.run(run_scenarios(path))
    return path
