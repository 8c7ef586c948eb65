"""One duroxide-python script, run unchanged on ``duroxide`` and on ``durascope.compat.duroxide``.

    python -m tests.differential.compat_script --runtime duroxide|durascope --db PATH --out JSON

It touches the facade's whole surface (``RuntimeOptions`` with duroxide-python's
arguments, the ``TagFilter`` strings, registration styles, the context's
scheduling calls, every client call and the shape of what they return) and
writes what it saw as JSON; ``test_compat_script`` runs it on both runtimes and
requires the two outputs to be equal.  Values that differ between two runs of
the same runtime (clock readings, GUIDs, worker ids, traceback frames) are
replaced by a description of their shape here, before writing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.differential.run_scenario import RUNTIME_MODULES

Ctx = Any
TIMEOUT_MS = 20_000
SYSCALLS = ("__duroxide_syscall:new_guid", "__duroxide_syscall:utc_now_ms")


def register(rt: Any) -> None:
    """Activities and orchestrations, in each registration style duroxide-python has."""

    @rt.register_activity("Describe")
    def describe(ctx: Ctx, x: Any) -> dict[str, Any]:
        return {
            "x": x,
            "instance_id": ctx.instance_id,
            "execution_id": ctx.execution_id,
            "orchestration_name": ctx.orchestration_name,
            "orchestration_version": ctx.orchestration_version,
            "activity_name": ctx.activity_name,
            "session_id": ctx.session_id,
            "tag": ctx.tag(),
            "worker_id_is_text": isinstance(ctx.worker_id, str),
        }

    def shout(ctx: Ctx, x: str) -> str:
        ctx.trace_info(f"shouting {x}")
        return x.upper()

    rt.register_activity("Shout", shout)
    rt.register_activity_typed("Typed", lambda ctx, x: {"typed": x})

    calls: dict[str, int] = {}

    @rt.register_activity("Flaky")
    def flaky(ctx: Ctx, key: str) -> int:
        calls[key] = calls.get(key, 0) + 1
        if calls[key] < 2:
            raise RuntimeError(f"{key} failed once")
        return calls[key]

    @rt.register_orchestration("Leaf")
    def leaf(ctx: Ctx, x: Any) -> Any:
        return (yield ctx.schedule_activity("Shout", str(x)))

    rt.register_orchestration_versioned("Versioned", "1.0.0", lambda ctx, x: f"v1 {x}")

    @rt.register_orchestration_versioned("Versioned", "2.0.0")
    def versioned_v2(ctx: Ctx, x: Any) -> Any:
        return f"v2 {x}"
        yield

    @rt.register_orchestration_typed("Main")
    def main(ctx: Ctx, n: int) -> Any:
        ctx.trace_info("main starts")
        me = [ctx.instance_id, ctx.execution_id, ctx.orchestration_name, ctx.orchestration_version]
        ctx.set_custom_status("phase-1")
        plain = yield ctx.schedule_activity("Describe", n)
        tagged = yield ctx.schedule_activity("Describe", "gpu work").with_tag("gpu")
        session = yield ctx.schedule_activity_on_session("Describe", "s", "session-7")
        retried = yield ctx.schedule_activity_with_retry(
            "Flaky", "k", {"max_attempts": 3, "backoff": "linear"}
        )
        typed = yield ctx.schedule_activity_typed("Typed", "raw-string")
        timer = yield ctx.schedule_timer(20)
        guid = yield ctx.new_guid()
        now = yield ctx.utc_now()
        fan = yield ctx.all([ctx.schedule_activity("Shout", w) for w in ("a", "b")])
        fan_typed = yield ctx.all_typed([ctx.schedule_activity("Shout", w) for w in ("c", "d")])
        raced = yield ctx.race(ctx.schedule_activity("Shout", "fast"), ctx.schedule_timer(60_000))
        raced_typed = yield ctx.race_typed(
            ctx.schedule_timer(60_000), ctx.schedule_activity("Shout", "typed")
        )
        children = [
            (yield ctx.schedule_sub_orchestration("Leaf", "auto")),
            (yield ctx.schedule_sub_orchestration_with_id("Leaf", f"{me[0]}-kid-{me[1]}", "id")),
            (yield ctx.schedule_sub_orchestration_versioned("Versioned", "1.0.0", "pinned")),
            (yield ctx.schedule_sub_orchestration_versioned("Versioned", None, "latest")),
            (
                yield ctx.schedule_sub_orchestration_versioned_with_id(
                    "Versioned", "2.0.0", f"{me[0]}-v2-{me[1]}", "both"
                )
            ),
        ]
        detached = [
            (yield ctx.start_orchestration("Leaf", f"{me[0]}-detached-{me[1]}", "free")),
            (
                yield ctx.start_orchestration_versioned(
                    "Versioned", "1.0.0", f"{me[0]}-detached-v1-{me[1]}", "free"
                )
            ),
        ]
        try:
            yield ctx.schedule_sub_orchestration("Leaf", None)  # str(None).upper() is fine...
            yield ctx.schedule_activity("Shout", None)  # ...None.upper() is not
        except Exception as exc:
            failed_activity = last_line(str(exc))
        else:
            failed_activity = "not raised"
        ctx.set_custom_status("waiting")
        event = yield ctx.wait_for_event("approve")
        mail = yield ctx.dequeue_event("inbox")
        seen_status = ctx.get_custom_status()
        ctx.reset_custom_status()
        if n < 2:
            yield ctx.continue_as_new_versioned(n + 1, "1.0.0")
        return {
            "me": me,
            "activities": [plain, tagged, session, retried, typed],
            "timer": timer,
            "guid_shape": [len(guid), guid.count("-")],
            "now_is_int": isinstance(now, int),
            "fan": [fan, fan_typed],
            "race": [raced, raced_typed],
            "children": children,
            "detached": detached,
            "failed_activity": failed_activity,
            "event": event,
            "mail": mail,
            "status_seen": seen_status,
            "status_after_reset": ctx.get_custom_status(),
        }

    @rt.register_orchestration("Stuck")
    def stuck(ctx: Ctx, x: Any) -> Any:
        ctx.set_custom_status("stuck")
        return (yield ctx.wait_for_event("never"))


def shape_events(events: list[Any]) -> list[list[Any]]:
    """Each event as [id, kind, source, data], with clock readings and syscall results masked."""
    syscall_ids = {
        e.event_id
        for e in events
        if e.kind == "ActivityScheduled" and any(s in (e.data or "") for s in SYSCALLS)
    }
    out = []
    for e in events:
        data = e.data
        if e.kind in ("TimerCreated", "TimerFired"):
            data = "<fire time>"
        elif e.kind == "ActivityCompleted" and e.source_event_id in syscall_ids:
            data = "<syscall result>"
        out.append([e.event_id, e.kind, e.source_event_id, last_line(data)])
    return out


def last_line(value: Any) -> Any:
    """Tracebacks reduced to their last line (the frames name each runtime's driver).

    A traceback may sit inside JSON (error details in ``Event.data``): then only
    the message string inside is reduced.
    """
    if not isinstance(value, str) or "Traceback (most recent call last)" not in value:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value.rstrip().splitlines()[-1]
    return json.dumps(_reduce(decoded))


def _reduce(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reduce(v) for k, v in value.items()}
    if isinstance(value, str):
        return last_line(value)
    return value


def result(r: Any) -> dict[str, Any]:
    return {
        "status": r.status,
        "output": r.output,
        "error": last_line(r.error),
        "custom_status": r.custom_status,
        "custom_status_version": r.custom_status_version,
    }


def error_of(call: Any) -> str:
    try:
        call()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "no error"


def run(dx: ModuleType, db: Path) -> dict[str, Any]:
    provider = dx.SqliteProvider.open(str(db))
    options = dx.RuntimeOptions(
        orchestration_concurrency=2,
        worker_concurrency=2,
        dispatcher_poll_interval_ms=10,
        worker_lock_timeout_ms=30_000,
        log_format="compact",
        log_level="error",
        service_name="compat-script",
        service_version="1",
        max_sessions_per_runtime=10,
        session_idle_timeout_ms=300_000,
        worker_node_id="node-1",
        worker_tag_filter=dx.TagFilter.default_and(["gpu"]),
        orchestrator_lock_timeout_ms=5_000,
        orchestrator_lock_renewal_buffer_ms=2_000,
        max_attempts=10,
        worker_lock_renewal_buffer_ms=5_000,
        session_lock_timeout_ms=30_000,
        session_lock_renewal_buffer_ms=5_000,
    )
    rt = dx.Runtime(provider, options)
    register(rt)
    rt.start()
    seen: dict[str, Any] = {}
    try:
        client = dx.Client(provider)
        seen["reserved id"] = error_of(lambda: client.start_orchestration("x::sub::1", "Main", 0))
        client.start_orchestration("main", "Main", 1)
        client.start_orchestration_versioned("pinned", "Versioned", "p", "1.0.0")
        client.start_orchestration_typed("stuck", "Stuck", None)
        seen["not found"] = result(client.get_status("nobody"))
        first = client.wait_for_status_change("main", 0, 20, TIMEOUT_MS)
        seen["first status change"] = result(first)
        for execution in (1, 2):
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while time.monotonic() < deadline:
                status = client.get_status("main")
                if (
                    status.custom_status == "waiting"
                    and len(client.list_executions("main")) == execution
                ):
                    break
                time.sleep(0.02)
            # Mail first: whether both land in one turn or not, history has the same order.
            client.enqueue_event("main", "inbox", f"mail {execution}")
            client.raise_event_typed("main", "approve", {"by": "ops", "round": execution})
        seen["main"] = result(client.wait_for_orchestration("main", TIMEOUT_MS))
        seen["pinned"] = client.wait_for_orchestration_typed("pinned", TIMEOUT_MS)
        for detached in ("main-detached-2", "main-detached-v1-2"):
            seen[detached] = result(client.wait_for_orchestration(detached, TIMEOUT_MS))
        seen["stuck timeout"] = error_of(lambda: client.wait_for_orchestration("stuck", 200))
        seen["stuck status change"] = error_of(
            lambda: client.wait_for_status_change("stuck", 1, 20, 200)
        )
        client.cancel_instance("stuck", "operator")
        seen["stuck"] = result(client.wait_for_orchestration("stuck", TIMEOUT_MS))
        seen["instances"] = sorted(client.list_all_instances())
        seen["by status"] = {
            s: sorted(client.list_instances_by_status(s))
            for s in ("Completed", "Failed", "Running")
        }
        info = client.get_instance_info("main")
        seen["instance info"] = {
            k: last_line(getattr(info, k))
            for k in ("instance_id", "orchestration_name", "orchestration_version",
                      "current_execution_id", "status", "output", "parent_instance_id")
        }  # fmt: skip
        kid = min(i for i in seen["instances"] if i.startswith("main::sub::2_"))
        seen["child of execution 2"] = [kid, client.get_instance_info(kid).parent_instance_id]
        seen["executions"] = client.list_executions("main")
        seen["execution info"] = [
            {
                k: last_line(getattr(client.get_execution_info("main", ex), k))
                for k in ("execution_id", "status", "output", "event_count")
            }
            for ex in client.list_executions("main")
        ]
        seen["missing instance"] = error_of(lambda: client.get_instance_info("nobody"))
        seen["missing execution"] = error_of(lambda: client.get_execution_info("main", 9))
        seen["history"] = {
            f"{iid}#{ex}": shape_events(client.read_execution_history(iid, ex))
            for iid in ("main", "stuck", "pinned")
            for ex in client.list_executions(iid)
        }
        seen["history of nobody"] = client.read_execution_history("nobody", 1)
        tree = client.get_instance_tree("main")
        seen["tree"] = [tree.root_id, sorted(tree.all_ids), tree.size]
        seen["parse_result"] = dx.parse_result([{"ok": 1}, {"ok": "two"}])
    finally:
        rt.shutdown(10_000)
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=sorted(RUNTIME_MODULES), required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("RUST_LOG", "error")
    dx = importlib.import_module(RUNTIME_MODULES[args.runtime])
    args.out.write_text(json.dumps(run(dx, args.db), indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
