"""A real duroxide store in which an activity's failure report was delivered twice.

    python -m tests.replay.duroxide_redelivery DB

The ``redelivered-completion`` built-in scenario, run by the ``duroxide`` package:
``Reconcile`` handles the failure of its ``Reserve`` activity and waits for
``close``; the runtime stops, the same ``ActivityFailed`` work item is queued again
(what at-least-once delivery does), and a second runtime processes it.  duroxide
0.1.32 checks a redelivered completion against history for every kind except
``ActivityFailed``, so it records the failure twice and then fails the turn with
``completion without open schedule`` (durascope recognises the duplicate and drops
it).  Each phase runs in its own process: duroxide-python keeps a process-wide
registry, and a runtime leaves threads behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTANCE = "redelivery-books"


def _phase(db: Path, phase: str) -> None:
    import duroxide as dx

    provider = dx.SqliteProvider.open(str(db))
    rt = dx.Runtime(provider, dx.RuntimeOptions(dispatcher_poll_interval_ms=10))

    @rt.register_activity("Reserve")
    def reserve(ctx: Any, sku: str) -> Any:
        raise ValueError(f"sku {sku} is out of stock")

    @rt.register_orchestration("Reconcile")
    def reconcile(ctx: Any, sku: str) -> Any:
        try:
            reserved = yield ctx.schedule_activity("Reserve", sku)
        except Exception as exc:
            reserved = f"not reserved: {exc}"
        ctx.set_custom_status("reconciled")
        closed = yield ctx.wait_for_event("close")
        return [reserved, closed]

    rt.start()
    client = dx.Client(provider)
    deadline = time.monotonic() + 20
    if phase == "first":
        client.start_orchestration(INSTANCE, "Reconcile", "sku-9")
        while client.get_status(INSTANCE).custom_status != "reconciled":
            if time.monotonic() > deadline:
                raise TimeoutError("Reconcile never handled its failure")
            time.sleep(0.02)
    else:
        while client.get_status(INSTANCE).status == "Running":
            if time.monotonic() > deadline:
                raise TimeoutError("the redelivered failure was never processed")
            time.sleep(0.02)
        client.raise_event(INSTANCE, "close", "closed")  # too late: the instance failed
        time.sleep(0.3)
    rt.shutdown(2000)


def _redeliver(db: Path) -> None:
    """Queue the instance's ``ActivityFailed`` again, as its worker sent it."""
    con = sqlite3.connect(str(db))
    try:
        row = con.execute(
            "SELECT event_data FROM history "
            "WHERE instance_id = ? AND event_type = 'ActivityFailed'",
            (INSTANCE,),
        ).fetchone()
        event = json.loads(row[0])
        item = {
            "ActivityFailed": {
                "instance": INSTANCE,
                "execution_id": event["execution_id"],
                "id": event["source_event_id"],
                "details": event["details"],
            }
        }
        con.execute(
            "INSERT INTO orchestrator_queue (instance_id, work_item, visible_at, attempt_count) "
            "VALUES (?, ?, ?, 0)",
            (INSTANCE, json.dumps(item), int(time.time() * 1000)),
        )
        con.commit()
    finally:
        con.close()


def generate(db: Path) -> Path:
    """Write the store at ``db`` (both phases, each in a fresh process) and return it."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RUST_LOG": "error"}
    for phase in ("first", "second"):
        proc = subprocess.run(
            [sys.executable, "-m", "tests.replay.duroxide_redelivery", str(db), phase],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"duroxide phase {phase} failed: {proc.stderr[-3000:]}")
        if phase == "first":
            _redeliver(db)
    return db


if __name__ == "__main__":
    if len(sys.argv) == 3:
        _phase(Path(sys.argv[1]), sys.argv[2])
        sys.stdout.flush()
        os._exit(0)  # do not wait for the runtime's threads
    print(generate(Path(sys.argv[1])))
