"""Run one differential scenario in this process and dump the store as JSON.

    python -m tests.differential.run_scenario --runtime duroxide|durascope \\
        --scenario NAME --db PATH --out JSON

Each runtime runs in its own process: duroxide-python keeps a process-wide
registry of orchestration functions, and a crash in either runtime must not take
the test run down.  The store is a fresh SQLite file.  The dump is *raw* (see
``harness.normalise``)::

    {"runtime": ..., "scenario": ..., "drive_error": null | "Type: message",
     "observed": {...what drive() returned..., "final": {id: {status, output, error}}},
     "instances": {id: {"orchestration_name", "parent_instance_id", "current_execution_id",
                        "status", "output", "custom_status",
                        "executions": {"1": {"status", "output", "events": [event JSON, ...]}}}}}

Events are duroxide's JSON dicts: read from the SQLite ``history`` table (opened
read-only) for duroxide, from ``Event.raw`` of durascope's compat facade.
Everything else comes through the client API, which both expose.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.differential.scenarios import ClientLike, Scenario, get

RUNTIME_MODULES = {"duroxide": "duroxide", "durascope": "durascope.compat.duroxide"}

SETTLE_TIMEOUT_MS = 20_000
"""How long to wait for each expected instance to finish."""

SHUTDOWN_TIMEOUT_MS = 10_000
"""Grace period for ``Runtime.shutdown``."""

EventReader = Callable[[str, int], list[dict[str, Any]]]


def settle(client: ClientLike, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Wait for every instance and record what ``wait_for_orchestration`` says."""
    final: dict[str, dict[str, Any]] = {}
    for instance_id in instance_ids:
        result = client.wait_for_orchestration(instance_id, SETTLE_TIMEOUT_MS)
        final[instance_id] = {
            "status": result.status,
            "output": result.output,
            "error": result.error,
        }
    return final


INSERT_QUEUE_ROW = """
import sqlite3, sys, time
db, target, item = sys.argv[1:4]
now = int(time.time() * 1000)
conn = sqlite3.connect(db, timeout=30)
conn.execute(
    "INSERT INTO orchestrator_queue (instance_id, work_item, visible_at, created_at) "
    "VALUES (?, ?, ?, ?)",
    (target, item, now, now),
)
conn.commit()
conn.close()
"""
"""Adds a row to duroxide's queue; run in its own process (see ``injector``)."""


def injector(runtime: str, db: Path, provider: Any) -> Callable[[dict[str, Any]], None]:
    """Put a raw work item (duroxide's JSON shape) on the orchestrator queue, as a bug would.

    The client API has no way to send a misaddressed completion; this writes the
    row directly: into duroxide's ``orchestrator_queue`` table from a separate
    process (Python's SQLite library closing the file in duroxide's process would
    drop the locks duroxide's own SQLite library holds on it), through the store
    for durascope.
    """

    def inject_duroxide(item: dict[str, Any]) -> None:
        [(variant, fields)] = item.items()
        target = fields["parent_instance"] if variant.startswith("SubOrch") else fields["instance"]
        subprocess.run(
            [sys.executable, "-c", INSERT_QUEUE_ROW, str(db), target, json.dumps(item)],
            check=True,
            timeout=60,
        )

    def inject_durascope(item: dict[str, Any]) -> None:
        from durascope.history import work_item_from_json
        from durascope.runtime import BackgroundLoop

        decoded = work_item_from_json(json.dumps(item))
        now = int(time.time() * 1000)
        BackgroundLoop.shared().run(provider.store().enqueue([decoded], now_ms=now))

    return inject_duroxide if runtime == "duroxide" else inject_durascope


def run_phases(
    dx: ModuleType, scenario: Scenario, db: Path, runtime: str
) -> tuple[Any, dict[str, Any], str | None]:
    """Run every phase on ``db``; return the last provider, the observations and a drive error."""
    observed: dict[str, Any] = {}
    provider = None
    for phase in range(scenario.phases):
        provider = dx.SqliteProvider.open(str(db))
        scenario.inject = injector(runtime, db, provider)
        rt = dx.Runtime(provider, scenario.options(dx))
        scenario.register(rt, phase)
        rt.start()
        try:
            client = dx.Client(provider)
            observed.update(scenario.drive(client, phase))
            if phase == scenario.phases - 1:
                observed["final"] = settle(client, sorted(scenario.expected))
        except Exception as exc:
            return provider, observed, f"{type(exc).__name__}: {exc}"
        finally:
            rt.shutdown(SHUTDOWN_TIMEOUT_MS)
    return provider, observed, None


def duroxide_reader(db: Path) -> EventReader:
    """Events from a duroxide SQLite file, opened read-only (the ``-wal`` file stays beside it)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    def read(instance_id: str, execution_id: int) -> list[dict[str, Any]]:
        rows = conn.execute(
            "SELECT event_data FROM history WHERE instance_id = ? AND execution_id = ? "
            "ORDER BY event_id",
            (instance_id, execution_id),
        )
        return [json.loads(data) for (data,) in rows]

    return read


def facade_reader(client: ClientLike) -> EventReader:
    """Events through durascope's compat client: each event's ``.raw`` is its duroxide JSON."""

    def read(instance_id: str, execution_id: int) -> list[dict[str, Any]]:
        return [event.raw for event in client.read_execution_history(instance_id, execution_id)]

    return read


def dump_instances(client: ClientLike, read_events: EventReader) -> dict[str, Any]:
    """Every instance with its executions and their events."""
    instances: dict[str, Any] = {}
    for instance_id in sorted(client.list_all_instances()):
        info = client.get_instance_info(instance_id)
        executions: dict[str, Any] = {}
        for execution_id in sorted(client.list_executions(instance_id)):
            execution = client.get_execution_info(instance_id, execution_id)
            executions[str(execution_id)] = {
                "status": execution.status,
                "output": execution.output,
                "events": read_events(instance_id, execution_id),
            }
        instances[instance_id] = {
            "orchestration_name": info.orchestration_name,
            "parent_instance_id": info.parent_instance_id,
            "current_execution_id": info.current_execution_id,
            "status": info.status,
            "output": info.output,
            "custom_status": client.get_status(instance_id).custom_status,
            "executions": executions,
        }
    return instances


def run(runtime: str, scenario_name: str, db: Path) -> dict[str, Any]:
    """Run ``scenario_name`` on ``runtime`` with a fresh store at ``db`` and return the raw dump."""
    if db.exists():
        raise FileExistsError(f"{db} exists; each run needs a fresh store")
    dx = importlib.import_module(RUNTIME_MODULES[runtime])
    scenario = get(scenario_name)
    provider, observed, drive_error = run_phases(dx, scenario, db, runtime)
    client = dx.Client(provider)
    reader = duroxide_reader(db) if runtime == "duroxide" else facade_reader(client)
    return {
        "runtime": runtime,
        "scenario": scenario_name,
        "drive_error": drive_error,
        "observed": observed,
        "instances": dump_instances(client, reader),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=sorted(RUNTIME_MODULES), required=True)
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("RUST_LOG", "error")
    dump = run(args.runtime, args.scenario, args.db)
    args.out.write_text(json.dumps(dump, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
