"""Huge payloads, parent chains 10,000 levels deep, and cyclic parent and child links."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.hostile import (
    COMMANDS,
    FIXTURE_DOC,
    cli,
    duroxide_copy,
    minimal_event,
    run_command,
    write_json,
)
from tests.reliability.tally import FUZZED, NOTES

# -- huge, deep, cyclic --------------------------------------------------------------

MB = 1 << 20


def chain_bundle(ids: list[str], parents: dict[str, str | None], children: dict[str, str]) -> Any:
    """A bundle of running instances; ``children[a] = b`` adds a schedule of b in a."""
    instances = []
    for iid in ids:
        events = [
            minimal_event(
                iid,
                1,
                "OrchestrationStarted",
                name="Link",
                version="1.0.0",
                input="1",
                parent_instance=parents.get(iid),
                parent_id=2 if parents.get(iid) else None,
            )
        ]
        if iid in children:
            events.append(
                minimal_event(
                    iid,
                    2,
                    "SubOrchestrationScheduled",
                    name="Link",
                    instance=children[iid],
                    input="1",
                )
            )
        instances.append(
            {
                "instance_id": iid,
                "orchestration_name": "Link",
                "orchestration_version": "1.0.0",
                "current_execution_id": 1,
                "parent_instance_id": parents.get(iid),
                "status": "Running",
                "executions": [{"execution_id": 1, "status": "Running", "events": events}],
            }
        )
    return {
        "format": "durascope-bundle",
        "schema_version": 1,
        "origin": {
            "source_kind": "durascope",
            "source_path": "hostile",
            "exported_at_ms": 0,
            "exported_by": "a test",
        },
        "instances": instances,
    }


@pytest.mark.slow
def test_parent_chains_10000_deep(tmp_path: Path) -> None:
    n = 10_000
    ids = [f"c{k}" for k in range(n)]
    parents = {ids[k]: ids[k - 1] if k else None for k in range(n)}
    children = {ids[k]: ids[k + 1] for k in range(n - 1)}
    path = write_json(chain_bundle(ids, parents, children), tmp_path / "deep.json", gz=False)
    started = time.monotonic()
    for kind in COMMANDS:
        for instance in (ids[-1], ids[n // 2]):
            run_command(kind, path, instance, tmp_path)
    FUZZED["deep chains (10,000 levels)"] += 1
    _code, _out, _ = cli(["export", path, "-o", tmp_path / "tree.json", f"--instance={ids[-1]}"])
    tree = json.loads((tmp_path / "tree.json").read_text())
    assert len(tree["instances"]) == n  # the whole chain, from the root down
    NOTES.append(f"10,000-level chain: every command in {time.monotonic() - started:.1f}s")


@pytest.mark.slow
@pytest.mark.parametrize("length", [1, 2, 3, 1000])
def test_cyclic_parent_and_child_links(tmp_path: Path, length: int) -> None:
    ids = [f"cyc{k}" for k in range(length)] + ["bystander"]
    ring = ids[:-1]
    parents = {ring[k]: ring[k - 1] for k in range(length)}  # cyc0's parent is the last
    children = {ring[k]: ring[(k + 1) % length] for k in range(length)}
    path = write_json(chain_bundle(ids, parents, children), tmp_path / "cycle.json", gz=True)
    for kind in COMMANDS:
        for instance in (ring[0], ring[-1], "bystander"):
            run_command(kind, path, instance, tmp_path)
    FUZZED["cyclic link sets"] += 1


@pytest.mark.slow
def test_deep_and_cyclic_links_in_a_duroxide_store(
    tmp_path: Path, duroxide_stores: dict[str, Path]
) -> None:
    """The same shapes written into a real duroxide store's tables with plain sqlite3."""
    for shape in ("deep", "cycle", "self"):
        path = tmp_path / f"{shape}.db"
        conn = duroxide_copy(duroxide_stores["healthy"], path)
        n = 10_000 if shape == "deep" else (2 if shape == "cycle" else 1)
        ids = [f"d{k}" for k in range(n)]
        rows = []
        for k, iid in enumerate(ids):
            parent = ids[k - 1] if k or shape != "deep" else None
            if shape == "self":
                parent = iid
            rows.append((iid, parent))
        conn.executemany(
            "INSERT INTO instances (instance_id, orchestration_name, orchestration_version, "
            "current_execution_id, parent_instance_id) VALUES (?, 'Link', '1.0.0', 1, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO executions (instance_id, execution_id, status) VALUES (?, 1, 'Running')",
            [(iid,) for iid in ids],
        )
        conn.executemany(
            "INSERT INTO history (instance_id, execution_id, event_id, event_type, event_data) "
            "VALUES (?, 1, ?, ?, ?)",
            [
                (
                    iid,
                    1,
                    "OrchestrationStarted",
                    json.dumps(
                        minimal_event(
                            iid,
                            1,
                            "OrchestrationStarted",
                            name="Link",
                            version="1.0.0",
                            input="1",
                            parent_instance=parent,
                            parent_id=2 if parent else None,
                        )
                    ),
                )
                for iid, parent in rows
            ]
            + [
                (
                    iid,
                    2,
                    "SubOrchestrationScheduled",
                    json.dumps(
                        minimal_event(
                            iid,
                            2,
                            "SubOrchestrationScheduled",
                            name="Link",
                            instance=ids[(k + 1) % n],
                            input="1",
                        )
                    ),
                )
                for k, (iid, _) in enumerate(rows)
            ],
        )
        conn.commit()
        conn.close()
        for kind in COMMANDS:
            for instance in (ids[0], ids[-1]):
                run_command(kind, path, instance, tmp_path)
        FUZZED["duroxide stores with deep/cyclic links"] += 1


@pytest.mark.slow
def test_huge_payloads(tmp_path: Path, duroxide_stores: dict[str, Path]) -> None:
    huge = "x" * (5 * MB)
    hostile_huge = ("\x1b[2J" * 1000 + "y") * 500  # 2.5 MB of escapes
    doc = copy.deepcopy(FIXTURE_DOC)
    target = doc["instances"][0]
    iid = target["instance_id"]
    target["output"] = huge
    target["custom_status"] = hostile_huge
    first = target["executions"][0]["events"][0]
    first["input"] = huge
    first["name"] = hostile_huge
    target["executions"][0]["events"].append(
        minimal_event(iid, 999, "ExternalEvent", name=huge, data=hostile_huge)
    )
    path = write_json(doc, tmp_path / "huge.json.gz", gz=True)
    for kind in COMMANDS:
        run_command(kind, path, iid, tmp_path)
    code, out, _ = cli(["history", path, f"--instance={iid}"])
    assert code == 0 and len(out) < 100_000  # payloads are shortened in tables
    FUZZED["huge-payload inputs"] += 1
    # The same in a duroxide store: a 5 MB event and a 5 MB instance id.
    store = tmp_path / "huge.db"
    conn = duroxide_copy(duroxide_stores["healthy"], store)
    conn.execute(
        "UPDATE history SET event_data = json_set(event_data, '$.input', ?) "
        "WHERE instance_id = 'healthy' AND event_id = 1",
        (hostile_huge,),
    )
    conn.execute("UPDATE instances SET custom_status = ? WHERE instance_id = 'healthy'", (huge,))
    conn.execute(
        "INSERT INTO instances (instance_id, orchestration_name, orchestration_version, "
        "current_execution_id) VALUES (?, 'Big', '1.0.0', 1)",
        ("big" + huge,),
    )
    conn.commit()
    conn.close()
    for kind in COMMANDS:
        run_command(kind, store, "healthy", tmp_path)
    FUZZED["huge-payload inputs"] += 1
