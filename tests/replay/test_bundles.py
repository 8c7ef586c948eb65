"""Bundles: what a tree's export keeps, and export-then-import equality of the whole model."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from durascope.history import StartOrchestration, event_to_dict
from durascope.replay import Model, open_model
from tests.reliability.hostile import check_clean, run_cli
from tests.replay.stores import (
    BYSTANDER_ID,
    GRANDCHILD_ID,
    MIDDLE_ID,
    ROOT_ID,
    durascope_secrets,
    queued_child_starts,
)


@pytest.fixture(scope="module")
def queued_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("queued") / "queued.db"
    asyncio.run(queued_child_starts(db))
    return db


def export(path: Path, out: Path, *extra: str) -> dict[str, Any]:
    """``durascope export PATH -o OUT ...`` in-process; the bundle it wrote, parsed."""
    args = ["export", str(path), "-o", str(out), *extra]
    code, stdout, stderr = run_cli(args)
    check_clean(args, code, stdout, stderr)
    assert code == 0, stderr
    raw = out.read_bytes()
    doc: dict[str, Any] = json.loads(gzip.decompress(raw) if out.suffix == ".gz" else raw)
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


# ─── export, then import: the same view model ───────────────────────


def whole_model(model: Model) -> dict[str, Any]:
    """Every field of the view model, loaded, in comparable form (new fields included).

    Dataclass fields are enumerated rather than listed, so a field added to the
    model later is compared too; the loaders behind lazy fields are replaced by
    what they load.
    """

    def plain(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        return {
            f.name: getattr(obj, f.name)
            for f in dataclasses.fields(obj)
            if not f.name.startswith("_") and f.name not in skip
        }

    model.load_all()
    origin = model.origin
    return {
        "origin": {
            "from": origin.source_kind or origin.kind,
            "runtime_version": origin.runtime_version,
            "redacted": origin.redacted,
            "has_turn_journal": origin.has_turn_journal,
        },
        "instances": {
            iid: {
                **plain(inst, skip=("executions",)),
                "executions": [
                    {**plain(x), "events": [event_to_dict(e) for e in x.events]}
                    for x in inst.executions
                ],
                "turns": [t.model_dump(mode="json") for t in inst.turns],
            }
            for iid, inst in model.instances.items()
        },
        "order": list(model.instances),
        "pending": [
            {**plain(p, skip=("item",)), "item": None if p.item is None else p.item.model_dump()}
            for p in model.pending
        ],
        "orphan_turns": [t.model_dump(mode="json") for t in model.orphan_turns],
        "links": [dataclasses.astuple(link) for link in model.child_links],
    }


def round_trip(path: Path, out_dir: Path) -> dict[str, Any]:
    """Export ``path`` through the CLI as ``.json`` and ``.json.gz``; both must read back equal.

    Returns the source's whole model (for the caller's checks that it holds what
    the test is about).
    """
    source = open_model(path)
    try:
        expected = whole_model(source)
    finally:
        source.close()
    for name in (f"{path.stem}.json", f"{path.stem}.json.gz"):
        export(path, out_dir / name)
        again = open_model(out_dir / name)
        try:
            assert again.origin.kind == "bundle"
            assert whole_model(again) == expected, name
        finally:
            again.close()
    return expected


@pytest.fixture(scope="module")
def secrets_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A durascope store with pending messages, custom status, carried events, orphan turns."""
    db = tmp_path_factory.mktemp("secrets") / "secrets.db"
    durascope_secrets(db)
    return db


def test_round_trip_of_a_durascope_store(secrets_store: Path, tmp_path: Path) -> None:
    model = round_trip(secrets_store, tmp_path)
    assert model["origin"]["has_turn_journal"] and model["orphan_turns"]
    assert len(model["pending"]) >= 2
    parent = model["instances"]["secret-parent"]
    assert parent["custom_status"] and parent["orchestration_version"] and parent["turns"]
    assert all(x["started_at_ms"] and x["completed_at_ms"] for x in parent["executions"])
    started = parent["executions"][1]["events"][0]
    assert started["carry_forward_events"] and started["initial_custom_status"]


@pytest.fixture(scope="module")
def duroxide_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("duroxide", reason="the real duroxide package writes duroxide stores")
    from tests.replay.duroxide_stores import generate

    return generate(tmp_path_factory.mktemp("duroxide"), ["pending_and_orphan", "can_children"])


def test_round_trip_of_duroxide_stores(duroxide_stores: dict[str, Path], tmp_path: Path) -> None:
    queued = round_trip(duroxide_stores["pending_and_orphan"], tmp_path)
    assert not queued["origin"]["has_turn_journal"]
    pending = queued["pending"]
    assert {p["queue"] for p in pending} == {"orchestrator", "worker"}
    assert any(p["locked"] for p in pending) and any(p["attempt_count"] for p in pending)
    assert any(p["visible_at_ms"] for p in pending)
    assert queued["instances"]["slow"]["custom_status"] == "scheduled"
    chain = round_trip(duroxide_stores["can_children"], tmp_path)
    parent = chain["instances"]["can-job"]
    assert len(parent["executions"]) == 4 and len(chain["links"]) == 4
    assert all(x["started_at_ms"] and x["completed_at_ms"] for x in parent["executions"])
    assert chain["origin"]["runtime_version"]
