"""Bundles: what a tree's export keeps, and export-then-import equality of the whole model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from durascope.history import StartOrchestration
from durascope.replay import open_model
from tests.reliability.hostile import check_clean, run_cli
from tests.replay.stores import (
    BYSTANDER_ID,
    GRANDCHILD_ID,
    MIDDLE_ID,
    ROOT_ID,
    queued_child_starts,
)


@pytest.fixture(scope="module")
def queued_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("queued") / "queued.db"
    asyncio.run(queued_child_starts(db))
    return db


def export(path: Path, out: Path, *extra: str) -> dict[str, Any]:
    args = ["export", str(path), "-o", str(out), *extra]
    code, stdout, stderr = run_cli(args)
    check_clean(args, code, stdout, stderr)
    assert code == 0, stderr
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def test_the_store_has_a_child_start_queued(queued_store: Path) -> None:
    model = open_model(queued_store)
    try:
        assert set(model.instances) == {ROOT_ID, MIDDLE_ID}
        starts = {p.instance_id: p.item for p in model.pending}
        assert set(starts) == {GRANDCHILD_ID, BYSTANDER_ID}
        leaf = starts[GRANDCHILD_ID]
        assert isinstance(leaf, StartOrchestration)
        assert (leaf.parent_instance, leaf.parent_id) == (MIDDLE_ID, 2)
        (link,) = model.children_of(MIDDLE_ID)
        assert (link.child_instance, link.child_exists) == (GRANDCHILD_ID, False)
    finally:
        model.close()


@pytest.mark.parametrize("member", [ROOT_ID, MIDDLE_ID])
def test_a_tree_export_keeps_the_start_of_a_child_not_yet_created(
    queued_store: Path, tmp_path: Path, member: str
) -> None:
    doc = export(queued_store, tmp_path / "tree.json", f"--instance={member}")
    assert [i["instance_id"] for i in doc["instances"]] == [ROOT_ID, MIDDLE_ID]
    pending = [(p["queue"], p["instance_id"]) for p in doc["pending"]]
    assert pending == [("orchestrator", GRANDCHILD_ID)]  # not the bystander's start
    item = json.loads(doc["pending"][0]["raw"])["StartOrchestration"]
    assert (item["instance"], item["parent_instance"]) == (GRANDCHILD_ID, MIDDLE_ID)


def test_a_whole_store_export_keeps_every_pending_message(
    queued_store: Path, tmp_path: Path
) -> None:
    doc = export(queued_store, tmp_path / "all.json")
    assert sorted(p["instance_id"] for p in doc["pending"]) == [BYSTANDER_ID, GRANDCHILD_ID]
