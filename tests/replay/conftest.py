"""Shared fixtures for the debugger tests: a fresh store with every built-in scenario."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from durascope.replay import Model, open_model
from durascope.scenarios import run_scenarios


@pytest.fixture(scope="session")
def scenario_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A durascope store written by running every built-in scenario (both policies)."""
    path = tmp_path_factory.mktemp("scenarios") / "scenarios.db"
    asyncio.run(run_scenarios(path))
    return path


@pytest.fixture
def scenario_model(scenario_store: Path) -> Iterator[Model]:
    """The scenario store opened read-only."""
    model = open_model(scenario_store)
    yield model
    model.close()
