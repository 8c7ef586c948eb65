"""Run differential scenarios in subprocesses, normalise the dumps, and diff them.

    python -m tests.differential.harness --runtime duroxide --write /tmp/diff-golden
    python -m tests.differential.harness --runtime durascope --compare /tmp/diff-golden

``--write`` stores each scenario's normalised dump as ``DIR/NAME.json``;
``--compare`` runs the scenarios and prints the differences from those files.
``--scenario NAME`` (repeatable) restricts the run.

The normaliser keeps what both runtimes must agree on and removes only what
cannot be equal between two runs, or between two processes: wall-clock values,
version stamps, system-call results, source file paths in tracebacks, and the
arrival order of completions that race each other.  Each rule says why.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from itertools import groupby
from pathlib import Path
from typing import Any

from tests.differential.scenarios import SCENARIOS

REPO_ROOT = Path(__file__).resolve().parents[2]

RUNTIMES = ("duroxide", "durascope")

SUBPROCESS_TIMEOUT_S = 180
"""A scenario process that runs longer than this is killed and the run fails."""

Dump = dict[str, Any]
Event = dict[str, Any]


# ─── Running ──────────────────────────────────────────────────────


def run_dump(runtime: str, scenario: str, workdir: Path) -> Dump:
    """Run ``scenario`` on ``runtime`` in a subprocess with a fresh store; return the raw dump."""
    db = workdir / f"{scenario}.{runtime}.db"
    out = workdir / f"{scenario}.{runtime}.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RUST_LOG": "error"}
    command = [
        sys.executable, "-m", "tests.differential.run_scenario",
        "--runtime", runtime, "--scenario", scenario, "--db", str(db), "--out", str(out),
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            command,
            check=False,
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(
            f"{runtime}/{scenario}: no result after {SUBPROCESS_TIMEOUT_S}s"
        ) from exc
    if proc.returncode != 0:
        raise RuntimeError(
            f"{runtime}/{scenario}: exit code {proc.returncode}\n"
            f"--- stderr (tail) ---\n{proc.stderr[-4000:]}"
        )
    dump: Dump = json.loads(out.read_text())
    return dump


# ─── Normalising ──────────────────────────────────────────────────

TRACEBACK_MARKER = "Traceback (most recent call last):"

SYSCALL_PLACEHOLDERS = {
    "__duroxide_syscall:new_guid": "<new_guid>",
    "__duroxide_syscall:utc_now_ms": "<utc_now_ms>",
}

TIMER_GRANULARITY_MS = 10
"""Timer delays are compared to this precision (see ``_timer_delay``)."""

COMPLETION_TYPES = frozenset(
    {
        "ActivityCompleted",
        "ActivityFailed",
        "TimerFired",
        "SubOrchestrationCompleted",
        "SubOrchestrationFailed",
        "ExternalEvent",
        "ExternalEventPersistent",
    }
)


def normalise(dump: Dump) -> Dump:
    """A copy of ``dump`` in which two equivalent runs compare equal."""
    out: Dump = strip_tracebacks(copy.deepcopy(dump))
    # The runtime name is the one thing the two dumps must differ in.
    out.pop("runtime", None)
    for instance in out["instances"].values():
        for execution in instance["executions"].values():
            execution["events"] = normalise_events(execution["events"])
    return out


def strip_tracebacks(value: Any) -> Any:
    """Reduce every Python traceback in ``value`` (recursively) to its last line.

    duroxide-python reports an orchestration's exception as ``traceback.format_exc()``,
    whose frames name source files and line numbers that differ between the two
    runtimes' drivers; the last line (``ValueError: child boom``) is what matters.
    A traceback can also sit inside a JSON payload (an orchestration returning
    ``str(exc)``), so JSON strings are decoded, cleaned and re-encoded.
    """
    if isinstance(value, dict):
        return {key: strip_tracebacks(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_tracebacks(item) for item in value]
    if not isinstance(value, str) or TRACEBACK_MARKER not in value:
        return value
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return _last_traceback_line(value)
    return json.dumps(strip_tracebacks(decoded))


def _last_traceback_line(text: str) -> str:
    """``text`` with everything from the traceback header on replaced by its last line."""
    start = text.index(TRACEBACK_MARKER)
    lines = [line for line in text[start:].splitlines() if line.strip()]
    return text[:start] + lines[-1]


def normalise_events(events: list[Event]) -> list[Event]:
    """Normalise one execution's events (in history order)."""
    created_at = {e["event_id"]: e["timestamp_ms"] for e in events if e["type"] == "TimerCreated"}
    syscalls = {
        e["event_id"]: SYSCALL_PLACEHOLDERS[e["name"]]
        for e in events
        if e["type"] == "ActivityScheduled" and e["name"] in SYSCALL_PLACEHOLDERS
    }
    result = []
    for event in events:
        event = dict(event)
        # When the event was built (wall clock) and which runtime version wrote it
        # differ per run and runtime.
        event.pop("timestamp_ms", None)
        event.pop("duroxide_version", None)
        if "fire_at_ms" in event:
            # An absolute wall-clock deadline; the delay the code asked for is what is comparable.
            # TimerFired repeats its TimerCreated's deadline, so it gets that timer's delay.
            scheduled_id = (
                event["event_id"] if event["type"] == "TimerCreated" else event["source_event_id"]
            )
            fire_at = event.pop("fire_at_ms")
            event["fire_after_ms"] = _timer_delay(fire_at, created_at.get(scheduled_id))
        if event["type"] == "ActivityCompleted" and event["source_event_id"] in syscalls:
            # new_guid / utc_now are system activities whose results differ on every run.
            event["result"] = syscalls[event["source_event_id"]]
        result.append(event)
    return canonicalise_completion_runs(result)


def _timer_delay(fire_at_ms: int, created_ms: int | None) -> int | None:
    """The timer's delay, rounded to the nearest multiple of ``TIMER_GRANULARITY_MS``.

    duroxide reads the clock once for the deadline and again for the event's
    ``timestamp_ms``; on a loaded machine the two reads are a few ms apart, so a
    50 ms timer can show 49.  Scenario delays are multiples of 10 ms.
    """
    if created_ms is None:
        return None
    return round((fire_at_ms - created_ms) / TIMER_GRANULARITY_MS) * TIMER_GRANULARITY_MS


def canonicalise_completion_runs(events: list[Event]) -> list[Event]:
    """Sort each maximal run of consecutive completion events and renumber it in place.

    Completions that arrive while an orchestration waits for several things (a
    fan-in, messages raised back to back) are appended in arrival order, which
    depends on worker scheduling and on how the dispatcher batches messages.  No
    event refers to a completion by id (``source_event_id`` points at schedules),
    so the run can be treated as a set: sorted by (type, source, payload) and given
    the run's original event ids in ascending order.
    """
    result: list[Event] = []
    for is_completion, group in groupby(events, key=lambda e: e["type"] in COMPLETION_TYPES):
        run = list(group)
        if is_completion and len(run) > 1:
            ids = [e["event_id"] for e in run]
            run = sorted(run, key=_completion_sort_key)
            run = [{**e, "event_id": event_id} for e, event_id in zip(run, ids, strict=True)]
        result.extend(run)
    return result


def _completion_sort_key(event: Event) -> tuple[str, int, str]:
    payload = {k: v for k, v in event.items() if k not in ("event_id", "type", "source_event_id")}
    return event["type"], event["source_event_id"] or 0, json.dumps(payload, sort_keys=True)


# ─── Rendering and diffing ────────────────────────────────────────


def render(dump: Dump) -> str:
    """Pretty JSON with each event on one line (for golden files and side-by-side reading)."""
    events: list[Event] = []

    def mark(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (_mark_events(v, events) if k == "events" else mark(v)) for k, v in value.items()
            }
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(dump), indent=2)
    for index, event in enumerate(events):
        text = text.replace(json.dumps(_marker(index)), json.dumps(event), 1)
    return text + "\n"


def _marker(index: int) -> str:
    return f"\x00event {index}\x00"


def _mark_events(events: list[Event], sink: list[Event]) -> list[str]:
    """Replace events by unique markers, collecting them in ``sink``."""
    markers = []
    for event in events:
        markers.append(_marker(len(sink)))
        sink.append(event)
    return markers


def diff_dumps(
    left: Dump, right: Dump, names: tuple[str, str] = RUNTIMES, limit: int = 20
) -> list[str]:
    """Readable differences between two normalised dumps (empty when they are equal).

    Event lists are compared up to their first differing event, which is printed
    in full for both sides with the event before it; later events of the same
    execution usually differ only as a consequence.  A value difference seen again
    under another path (an error string is in the history, the execution row and
    the client's status) is reported once, with the other paths listed.
    """
    found: dict[str, list[str]] = {}
    _diff(left, right, "", names, found)
    out = [
        message + "".join(f"\n    (also at {path})" for path in also)
        for message, also in found.items()
    ]
    return out[:limit] + ([f"... {len(out) - limit} more differences"] if len(out) > limit else [])


def _diff(
    left: Any, right: Any, path: str, names: tuple[str, str], found: dict[str, list[str]]
) -> None:
    """Collect differences into ``found``: message -> further paths with the same values."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            sub = f"{path}[{key!r}]"
            if key not in right:
                found[f"{sub}: only in {names[0]}: {_short(left[key])}"] = []
            elif key not in left:
                found[f"{sub}: only in {names[1]}: {_short(right[key])}"] = []
            elif key == "events":
                _diff_events(left[key], right[key], sub, names, found)
            else:
                _diff(left[key], right[key], sub, names, found)
    elif isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right, strict=False)):
            _diff(a, b, f"{path}[{index}]", names, found)
    elif left != right:
        values = f"\n    {names[0]:>10}: {_short(left)}\n    {names[1]:>10}: {_short(right)}"
        earlier = next((message for message in found if message.endswith(values)), None)
        if earlier is None:
            found[path + ":" + values] = []
        else:
            found[earlier].append(path)


def _diff_events(
    left: list[Event],
    right: list[Event],
    path: str,
    names: tuple[str, str],
    found: dict[str, list[str]],
) -> None:
    index = next(
        (i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b),
        min(len(left), len(right)),
    )
    if index == len(left) == len(right):
        return
    lines = [
        f"{path}: first difference at event #{index} "
        f"({names[0]} has {len(left)} events, {names[1]} {len(right)})"
    ]
    if index > 0:
        lines.append(f"    {'both':>10}: {json.dumps(left[index - 1])}")
    for name, events in zip(names, (left, right), strict=True):
        lines.append(
            f"    {name:>10}: "
            f"{json.dumps(events[index]) if index < len(events) else '(no more events)'}"
        )
    found["\n".join(lines)] = []


def _short(value: Any, width: int = 600) -> str:
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# ─── Command line ─────────────────────────────────────────────────


def main(argv: list[str] | None = None) -> int:
    """Write or compare golden dumps; exit 1 when a comparison finds differences."""
    parser = argparse.ArgumentParser(description="Differential scenarios: golden dumps.")
    parser.add_argument("--runtime", choices=RUNTIMES, default="duroxide")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", type=Path, metavar="DIR", help="write DIR/NAME.json")
    action.add_argument("--compare", type=Path, metavar="DIR", help="diff against DIR/NAME.json")
    args = parser.parse_args(argv)
    failed = False
    with tempfile.TemporaryDirectory(prefix="durascope-diff-") as tmp:
        for name in args.scenario or sorted(SCENARIOS):
            dump = normalise(run_dump(args.runtime, name, Path(tmp)))
            if args.write:
                args.write.mkdir(parents=True, exist_ok=True)
                (args.write / f"{name}.json").write_text(render(dump))
                print(f"wrote {args.write / f'{name}.json'}")
                continue
            golden = json.loads((args.compare / f"{name}.json").read_text())
            diffs = diff_dumps(golden, dump, names=("golden", args.runtime))
            failed = failed or bool(diffs)
            print(f"{name}: {'OK' if not diffs else 'DIFFERENT'}")
            for line in diffs:
                print("  " + line.replace("\n", "\n  "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
