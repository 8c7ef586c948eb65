"""Generate real duroxide SQLite stores, one per scenario, by running the duroxide package.

    python -m tests.replay.duroxide_stores OUT_DIR [--scenario NAME ...]

writes ``OUT_DIR/NAME.db`` (with its ``-wal`` file when duroxide leaves one) for every
scenario in :data:`SCENARIOS`, plus ``pre_fix_shape.db`` derived from ``can_children``.
Importable: :func:`generate` does the same from Python and returns the paths.

Each scenario runs in its own subprocess (``--run NAME --db PATH``): duroxide-python keeps
a process-wide registry of orchestration functions, and a scenario that leaves work
stuck must not leak into the next one.  :func:`start_live_writer` starts a runtime that
keeps writing to a store while a test reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 20_000
SUBPROCESS_TIMEOUT_S = 120

Orchestration = Generator[Any, Any, Any]
Ctx = Any


# ─── helpers (run inside the scenario subprocess) ────────────────────


def _wait_custom_status(client: Any, instance_id: str, value: str) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if client.get_status(instance_id).custom_status == value:
            return
        time.sleep(0.02)
    raise TimeoutError(f"{instance_id} never reached custom status {value!r}")


def _expect(client: Any, instance_id: str, status: str) -> Any:
    result = client.wait_for_orchestration(instance_id, TIMEOUT_MS)
    if result.status != status:
        raise RuntimeError(f"{instance_id}: expected {status}, got {result.status} {result.error}")
    return result


def _runtime(db: Path) -> tuple[Any, Any, Any]:
    import duroxide as dx

    provider = dx.SqliteProvider.open(str(db))
    options = dx.RuntimeOptions(dispatcher_poll_interval_ms=10)
    return dx, provider, dx.Runtime(provider, options)


def _register_basics(rt: Any) -> None:
    @rt.register_activity("Inc")
    def inc(ctx: Ctx, x: int) -> int:
        return x + 1

    @rt.register_orchestration("Child")
    def child(ctx: Ctx, x: int) -> Orchestration:
        return (yield ctx.schedule_activity("Inc", x))


# ─── scenarios ──────────────────────────────────────────────────────


def healthy(db: Path) -> None:
    """Activities, a timer, an auto-id child, custom status, an external event."""
    dx, provider, rt = _runtime(db)
    _register_basics(rt)

    @rt.register_orchestration("Healthy")
    def parent(ctx: Ctx, x: int) -> Orchestration:
        ctx.set_custom_status("working")
        a = yield ctx.schedule_activity("Inc", x)
        yield ctx.schedule_timer(20)
        b = yield ctx.schedule_sub_orchestration("Child", a)
        ctx.set_custom_status("waiting-for-go")
        go = yield ctx.wait_for_event("go")
        ctx.set_custom_status("done")
        return {"a": a, "b": b, "go": go}

    rt.start()
    client = dx.Client(provider)
    client.start_orchestration("healthy", "Healthy", 1)
    _wait_custom_status(client, "healthy", "waiting-for-go")
    client.raise_event("healthy", "go", {"ok": True})
    _expect(client, "healthy", "Completed")
    rt.shutdown(5000)


def can_children(db: Path) -> None:
    """A parent that schedules an auto-id child, then continues as new (3 times)."""
    dx, provider, rt = _runtime(db)
    _register_basics(rt)

    @rt.register_orchestration("CanParent")
    def parent(ctx: Ctx, n: int) -> Orchestration:
        r = yield ctx.schedule_sub_orchestration("Child", n)
        if n < 3:
            return (yield ctx.continue_as_new(n + 1))
        return r

    rt.start()
    client = dx.Client(provider)
    client.start_orchestration("can-job", "CanParent", 0)
    _expect(client, "can-job", "Completed")
    rt.shutdown(5000)


def explicit_collision(db: Path) -> None:
    """Two parents use the same explicit child id; the second one's child start collides."""
    dx, provider, rt = _runtime(db)
    _register_basics(rt)

    @rt.register_orchestration("SharedParent")
    def parent(ctx: Ctx, x: int) -> Orchestration:
        return (yield ctx.schedule_sub_orchestration_with_id("Child", "shared-child", x))

    rt.start()
    client = dx.Client(provider)
    client.start_orchestration("pA", "SharedParent", 1)
    _expect(client, "pA", "Completed")
    client.start_orchestration("pB", "SharedParent", 2)
    _expect(client, "pB", "Failed")
    rt.shutdown(5000)


def pending_and_orphan(db: Path) -> None:
    """An orphan ``CancelInstance`` parks at the queue head; a later start never runs.

    Also leaves an in-flight (locked) activity in the worker queue and a future
    ``TimerFired`` in the orchestrator queue.
    """
    dx, provider, rt = _runtime(db)
    _register_basics(rt)
    gate = threading.Event()
    started = threading.Event()

    @rt.register_activity("Slow")
    def slow(ctx: Ctx, x: int) -> int:
        started.set()
        gate.wait(3)
        return x

    @rt.register_orchestration("SlowParent")
    def slow_parent(ctx: Ctx, x: int) -> Orchestration:
        ctx.set_custom_status("scheduled")
        return (yield ctx.schedule_activity("Slow", x))

    @rt.register_orchestration("Sleeper")
    def sleeper(ctx: Ctx, x: int) -> Orchestration:
        ctx.set_custom_status("sleeping")
        yield ctx.schedule_timer(600_000)
        return x

    rt.start()
    client = dx.Client(provider)
    client.start_orchestration("ok-first", "Child", 1)
    _expect(client, "ok-first", "Completed")
    client.start_orchestration("slow", "SlowParent", 1)
    client.start_orchestration("sleeper", "Sleeper", 1)
    _wait_custom_status(client, "slow", "scheduled")
    _wait_custom_status(client, "sleeper", "sleeping")
    if not started.wait(TIMEOUT_MS / 1000):
        raise TimeoutError("the Slow activity never started")
    client.cancel_instance("does-not-exist", "orphan")
    client.start_orchestration("never-ran", "Child", 5)
    time.sleep(1.0)
    status = client.get_status("never-ran").status
    if status not in ("NotFound", "Pending"):
        raise RuntimeError(f"never-ran unexpectedly ran: {status}")
    rt.shutdown(200)
    gate.set()


def cancelled_tree(db: Path) -> None:
    """Cancel a parent that waits on a child waiting on an event; the child is cancelled too."""
    dx, provider, rt = _runtime(db)

    @rt.register_orchestration("TreeChild")
    def child(ctx: Ctx, x: int) -> Orchestration:
        ctx.set_custom_status("subscribed")
        return (yield ctx.wait_for_event("never"))

    @rt.register_orchestration("TreeParent")
    def parent(ctx: Ctx, x: int) -> Orchestration:
        return (yield ctx.schedule_sub_orchestration("TreeChild", x))

    rt.start()
    client = dx.Client(provider)
    client.start_orchestration("tree", "TreeParent", 1)
    _wait_custom_status(client, "tree::sub::2", "subscribed")
    client.cancel_instance("tree", "user asked")
    _expect(client, "tree", "Failed")
    _expect(client, "tree::sub::2", "Failed")
    rt.shutdown(5000)


def nondeterminism(db: Path) -> None:
    """Phase 1 runs v1 until it waits on an event; phase 2 changed code fails on replay."""
    dx, provider, rt = _runtime(db)
    _register_basics(rt)

    @rt.register_orchestration("Flow")
    def flow_v1(ctx: Ctx, x: int) -> Orchestration:
        a = yield ctx.schedule_activity("Inc", x)
        ctx.set_custom_status("subscribed")
        go = yield ctx.wait_for_event("go")
        return [a, go]

    rt.start()
    client = dx.Client(provider)
    client.start_orchestration("flow", "Flow", 1)
    _wait_custom_status(client, "flow", "subscribed")
    rt.shutdown(5000)
    del rt, client, provider

    dx, provider, rt = _runtime(db)
    _register_basics(rt)

    @rt.register_orchestration("Flow")
    def flow_v2(ctx: Ctx, x: int) -> Orchestration:
        yield ctx.schedule_timer(10)  # was an activity in v1
        go = yield ctx.wait_for_event("go")
        return [x, go]

    rt.start()
    client = dx.Client(provider)
    client.raise_event("flow", "go", 1)
    result = _expect(client, "flow", "Failed")
    if "nondetermin" not in str(result.error):
        raise RuntimeError(f"flow failed for another reason: {result.error}")
    rt.shutdown(5000)


SECRET = "s3cr3t"
"""The prefix of every payload :func:`secret_payloads` writes."""


def secret_payloads(dx: Any, provider: Any, rt: Any) -> None:
    """A secret (``s3cr3t-<position>``) in every payload position a run can fill.

    Inputs, activity and child results, outputs, custom status, key-value values
    (where the runtime has them), external and mailbox event data, a carried-forward
    mailbox message, continue-as-new input; then, with the runtime stopped, a queued
    start and a queued event.  Error messages and cancel reasons hold no secret
    (``test_redaction_texts`` checks those, on failing stores).  ``dx`` is the
    ``duroxide`` package or durascope's drop-in ``durascope.compat.duroxide``.
    """

    @rt.register_activity("Echo")
    def echo(ctx: Ctx, x: str) -> str:
        return f"{x}|s3cr3t-activity-result"

    @rt.register_orchestration("SecretChild")
    def child(ctx: Ctx, x: str) -> Orchestration:
        r = yield ctx.schedule_activity("Echo", "s3cr3t-child-activity-input")
        return f"{x}|{r}|s3cr3t-child-output"

    @rt.register_orchestration("SecretParent")
    def parent(ctx: Ctx, stage: str) -> Orchestration:
        if hasattr(ctx, "set_kv_value"):
            ctx.set_kv_value("k", f"s3cr3t-kv-value-{stage}")
        a = yield ctx.schedule_activity("Echo", f"s3cr3t-activity-input-{stage}")
        b = yield ctx.schedule_sub_orchestration("SecretChild", f"s3cr3t-child-input-{stage}")
        ctx.set_custom_status(f"s3cr3t-status-{stage}")
        go = yield ctx.wait_for_event("go")
        if stage.endswith("0"):
            return (yield ctx.continue_as_new("s3cr3t-stage-1"))
        carried = yield ctx.dequeue_event("mailbox")
        return {"a": a, "b": b, "go": go, "carried": carried, "out": "s3cr3t-output"}

    @rt.register_orchestration("SecretWaiter")
    def waiter(ctx: Ctx, x: str) -> Orchestration:
        ctx.set_custom_status("s3cr3t-waiter-status")
        return (yield ctx.wait_for_event("never"))

    rt.start()
    client = dx.Client(provider)
    client.start_orchestration("secret-parent", "SecretParent", "s3cr3t-stage-0")
    client.start_orchestration("secret-waiter", "SecretWaiter", "s3cr3t-waiter-input")
    _wait_custom_status(client, "secret-parent", "s3cr3t-status-s3cr3t-stage-0")
    client.enqueue_event("secret-parent", "mailbox", "s3cr3t-carried-forward")
    client.raise_event("secret-parent", "go", "s3cr3t-event-data-0")
    _wait_custom_status(client, "secret-parent", "s3cr3t-status-s3cr3t-stage-1")
    client.raise_event("secret-parent", "go", "s3cr3t-event-data-1")
    _expect(client, "secret-parent", "Completed")
    _wait_custom_status(client, "secret-waiter", "s3cr3t-waiter-status")
    # For an instance that does not exist: durascope journals its discard (an orphan
    # turn); duroxide leaves it at the queue head.  Last, so it blocks nothing.
    client.raise_event("secret-ghost", "go", "s3cr3t-orphan-event")
    time.sleep(0.5)
    rt.shutdown(5000)
    client.raise_event("secret-waiter", "never", "s3cr3t-pending-event")
    client.start_orchestration("secret-queued", "SecretChild", "s3cr3t-pending-start")


def secrets(db: Path) -> None:
    """:func:`secret_payloads` on the real duroxide runtime (its KeyValueSet events too)."""
    dx, provider, rt = _runtime(db)
    secret_payloads(dx, provider, rt)


SCENARIOS: dict[str, Callable[[Path], None]] = {
    "healthy": healthy,
    "can_children": can_children,
    "explicit_collision": explicit_collision,
    "pending_and_orphan": pending_and_orphan,
    "cancelled_tree": cancelled_tree,
    "nondeterminism": nondeterminism,
    "secrets": secrets,
}


def live_writer(db: Path, seconds: float, out: Path) -> None:
    """Keep starting small orchestrations for ``seconds``; then wait for all and report.

    Prints ``ready`` once the first one completed (the schema exists), and writes
    ``{"ids": [...], "statuses": {id: status}}`` to ``out`` at the end.
    """
    dx, provider, rt = _runtime(db)
    _register_basics(rt)
    rt.start()
    client = dx.Client(provider)
    ids = ["live-0"]
    client.start_orchestration("live-0", "Child", 0)
    _expect(client, "live-0", "Completed")
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        instance_id = f"live-{len(ids)}"
        client.start_orchestration(instance_id, "Child", len(ids))
        ids.append(instance_id)
        time.sleep(0.02)
    statuses = {i: client.wait_for_orchestration(i, TIMEOUT_MS).status for i in ids}
    rt.shutdown(5000)
    out.write_text(json.dumps({"ids": ids, "statuses": statuses}))


# ─── the pre-fix shape ──────────────────────────────────────────────


def make_pre_fix_copy(source: Path, target: Path, parent: str = "can-job") -> None:
    """Rewrite a copy of the ``can_children`` store into what pre-fix duroxide leaves behind.

    No duroxide release that installs here has the pre-fix behaviour: the releases
    with wheels (0.1.28, 0.2.0, 0.2.1, 0.2.2; cores 0.1.30 to 0.1.32) all write
    ``sub::{exec}_{N}`` and ``parent_execution_id`` (checked by running this
    scenario on each), and the older ones (0.1.0 to 0.1.27) have no wheel for
    Linux x86_64 / CPython 3.11, and building their source needs Rust crates
    that cannot be fetched here.  duroxide's own source up to core 0.1.26 shows
    the old rules: the auto id is ``sub::{event_id}`` in every execution, a
    child's start records no ``parent_execution_id`` (completions go to the
    parent's current execution), and a batch for an instance that is already
    terminal is acked without processing.  So the store is synthesised, with
    only events that such a run writes:

    - execution 1 is unchanged: it schedules ``sub::2``, the child
      ``{parent}::sub::2`` runs and completes, the parent continues as new;
    - execution 2 schedules ``sub::2`` again; that start hits the completed child
      and is discarded, so execution 2 waits forever: ``Running``, with history
      ``OrchestrationStarted``, ``SubOrchestrationScheduled`` and nothing after;
    - executions 3 and 4 never happen, and neither do their children
      (``{parent}::sub::E_N``); no queue row is left (the discarded start was acked);
    - no ``OrchestrationStarted`` carries ``parent_execution_id``.

    The ``duroxide_version`` stamps stay those of the runtime that wrote ``source``.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        later_children = f"{parent}::sub::%\\_%"
        tables = [r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            if "instance_id" in {r[1] for r in dst.execute(f"PRAGMA table_info({table})")}:
                dst.execute(
                    f"DELETE FROM {table} WHERE instance_id LIKE ? ESCAPE '\\'", (later_children,)
                )
        for table in ("history", "executions"):
            dst.execute(
                f"DELETE FROM {table} WHERE instance_id = ? AND execution_id > 2", (parent,)
            )
        dst.execute(
            "DELETE FROM history WHERE instance_id = ? AND execution_id = 2 AND event_id > 2",
            (parent,),
        )
        (scheduled,) = dst.execute(
            "SELECT event_type FROM history WHERE instance_id = ? AND execution_id = 2 "
            "AND event_id = 2",
            (parent,),
        ).fetchone()
        assert scheduled == "SubOrchestrationScheduled", scheduled
        dst.execute(
            "UPDATE history SET event_data = json_set(event_data, '$.instance', 'sub::2') "
            "WHERE instance_id = ? AND execution_id = 2 AND event_id = 2",
            (parent,),
        )
        dst.execute(
            "UPDATE executions SET status = 'Running', output = NULL, completed_at = NULL "
            "WHERE instance_id = ? AND execution_id = 2",
            (parent,),
        )
        dst.execute(
            "UPDATE instances SET current_execution_id = 2 WHERE instance_id = ?", (parent,)
        )
        dst.execute(
            "UPDATE history SET event_data = json_remove(event_data, '$.parent_execution_id') "
            "WHERE event_type = 'OrchestrationStarted'"
        )
        for table in ("orchestrator_queue", "worker_queue"):
            dst.execute(f"DELETE FROM {table}")
        dst.commit()
    finally:
        src.close()
        dst.close()


# ─── driving ────────────────────────────────────────────────────────


def run_in_subprocess(name: str, db: Path) -> None:
    """Run one scenario in a fresh Python process (raises with its stderr on failure)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RUST_LOG": "error"}
    command = [sys.executable, "-m", "tests.replay.duroxide_stores", str(db.parent),
               "--run", name, "--db", str(db)]  # fmt: skip
    proc = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"duroxide scenario {name} failed ({proc.returncode}): {proc.stderr[-3000:]}"
        )


def generate(out_dir: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write every scenario's store (and the pre-fix copy) into ``out_dir``, in parallel."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = names or list(SCENARIOS)
    paths = {name: out_dir / f"{name}.db" for name in wanted}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            run_in_subprocess(name, paths[name])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in wanted]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    if "can_children" in paths:
        paths["pre_fix_shape"] = out_dir / "pre_fix_shape.db"
        make_pre_fix_copy(paths["can_children"], paths["pre_fix_shape"])
    return paths


def start_live_writer(db: Path, seconds: float, out: Path) -> subprocess.Popen[str]:
    """Start :func:`live_writer` in a subprocess (read its stdout for ``ready``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RUST_LOG": "error"}
    command = [sys.executable, "-m", "tests.replay.duroxide_stores", str(db.parent),
               "--live", str(seconds), "--db", str(db), "--out", str(out)]  # fmt: skip
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--run", choices=sorted(SCENARIOS), help=argparse.SUPPRESS)
    parser.add_argument("--live", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("RUST_LOG", "error")
    if args.run:
        SCENARIOS[args.run](args.db)
        sys.stdout.flush()
        os._exit(0)  # do not wait for activity threads a scenario left blocked
    if args.live is not None:
        live_writer(args.db, args.live, args.out)
        return 0
    for name, path in generate(args.out_dir, args.scenario).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
