"""What the hostile-input tests share: the inputs, and the contract every command keeps.

Stores and bundles from production incidents are data the debugger cannot trust.
The ``test_hostile_*`` modules mutate them on purpose (hypothesis) and feed them
to the CLI in-process.  Every command (``history``, ``diagnose``, ``export``,
``render``) must end with exit code 0, 1 or 2 (never 3, an uncaught exception),
print one line on stderr when it is 2, print no traceback, and never write a raw
control character (ESC, CSI, BEL, NUL, CR) to the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from durascope.cli import main
from durascope.replay import open_model
from durascope.runtime import Client, Runtime, RuntimeOptions, SqliteStore
from tests.programs.mixed_workload import add_code
from tests.reliability.tally import FUZZED

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "scenarios.bundle.json.gz"
SOAK = os.environ.get("DURASCOPE_SOAK") == "1"
SCALE = 10 if SOAK else 1

HOSTILE = [
    "\x1b[2J",  # clear screen
    "\x1b]0;title\x07",  # set the terminal title
    "\x9b31m",  # C1 CSI
    "quote\"s and 'single'",
    "new\nline\rreturn",
    "nul\x00byte",
    "bell\x07back\x08space",
    "bidi\u202eevil",
    "back\\slash",
    "é∂ 🙂",
    "::sub::9",
    "'; DROP TABLE history; --",
    "%s%n{0}",
    "",
    " lead and trail ",
    "x" * 300,
]
RAW_CONTROL = ("\x1b", "\x9b", "\x00", "\x07", "\x08", "\r")
"""Characters that must never reach the terminal raw."""


def fuzz_settings(examples: int) -> Any:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        database=None,
        derandomize=not SOAK,  # CI is reproducible; each soak run explores anew
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# -- running the CLI -------------------------------------------------------------


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    FUZZED["cli runs"] += 1
    return code, out.getvalue(), err.getvalue()


def check_clean(args: list[Any], code: int, out: str, err: str) -> None:
    """The contract every command keeps on every input."""
    where = f"durascope {' '.join(repr(str(a))[:80] for a in args)}"
    assert code in (0, 1, 2), f"{where}: exit {code}: {err[:500]}"
    # stdout is data, and recorded errors may quote a user's traceback; ours would
    # go to stderr.
    assert "Traceback (most recent call last)" not in err, f"{where}: {err[-2000:]}"
    for char in RAW_CONTROL:
        assert char not in out, f"{where}: raw {char!r} on stdout"
        assert char not in err, f"{where}: raw {char!r} on stderr"
    if code == 2:
        assert err.startswith("durascope: error: "), f"{where}: {err!r}"
        assert err.count("\n") == 1 and err.endswith("\n"), f"{where}: {err!r}"


def cli(args: list[Any]) -> tuple[int, str, str]:
    code, out, err = run_cli(args)
    check_clean(args, code, out, err)
    return code, out, err


COMMANDS = ["history", "history-json", "diagnose", "diagnose-json", "diagnose-one", "export",
            "export-tree", "render"]  # fmt: skip


def command(kind: str, path: Path, instance: str, out_dir: Path) -> list[Any]:
    return {
        "history": ["history", path, f"--instance={instance}"],
        "history-json": ["history", path, f"--instance={instance}", "--json"],
        "diagnose": ["diagnose", path],
        "diagnose-json": ["diagnose", path, "--json"],
        "diagnose-one": ["diagnose", path, f"--instance={instance}"],
        "export": ["export", path, "-o", out_dir / "out.json"],
        "export-tree": [
            "export",
            path,
            "-o",
            out_dir / "out.json.gz",
            f"--instance={instance}",
            "--redact",
        ],
        "render": ["render", path, f"--instance={instance}", "-o", out_dir / "graph.dot"],
    }[kind]


def run_command(kind: str, path: Path, instance: str, out_dir: Path) -> int:
    """Run one command; an export that succeeded must give a bundle that opens again."""
    code, _, _ = cli(command(kind, path, instance, out_dir))
    if kind.startswith("export") and code == 0:
        out = out_dir / ("out.json" if kind == "export" else "out.json.gz")
        open_model(out).close()  # what export wrote opens again (no SourceError)
        cli(["diagnose", out])
        out.unlink()
    return code


# -- base inputs -----------------------------------------------------------------


def base_fixture() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    return doc


async def fresh_store_workload(db: Path) -> None:
    """Mixed workload, a waiting instance, a poisoned one and an orphan, in one store."""
    store = await SqliteStore.open(db)
    runtime = Runtime(store, RuntimeOptions(max_attempts=1, retry_backoff_ms=10))
    add_code(runtime)

    @runtime.register_orchestration("Waiter")
    def waiter(ctx: Any, x: int) -> Any:
        ctx.set_custom_status("waiting")
        return (yield ctx.wait_for_event("go"))

    client: Client = runtime.client()
    await client.cancel_instance("orphan-target", "nobody")
    await client.start_orchestration("unregistered", "Nope", 1)
    await client.start_orchestration("waiter", "Waiter", 1)
    for i in range(6):
        await client.start_orchestration(f"m{i}", "Mixed", i)
    await runtime.start()
    try:
        for i in range(6):
            await client.wait_for_orchestration(f"m{i}", 30)
        await client.wait_for_orchestration("unregistered", 30)
        deadline = time.monotonic() + 30
        while (await client.get_status("waiter")).custom_status != "waiting":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    finally:
        await runtime.shutdown()
        await store.close()


def consolidate(source: Path, target: Path) -> None:
    """Copy a store (with its WAL) into one rollback-journal file."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.commit()
    finally:
        src.close()
        dst.close()


def instance_ids(doc: Any) -> list[str]:
    try:
        return [i["instance_id"] for i in doc["instances"] if isinstance(i["instance_id"], str)]
    except (KeyError, TypeError):
        return []


def rename_everywhere(doc: Any, old: str, new: str) -> Any:
    """Replace an instance id (and the ids derived from it) in every string of the doc."""
    if isinstance(doc, dict):
        return {k: rename_everywhere(v, old, new) for k, v in doc.items()}
    if isinstance(doc, list):
        return [rename_everywhere(v, old, new) for v in doc]
    if isinstance(doc, str) and (doc == old or doc.startswith(old + "::")):
        return new + doc[len(old) :]
    return doc


def events_of(doc: Any) -> list[dict[str, Any]]:
    """The event objects of a (possibly already mutated) bundle document."""

    def items(value: Any, key: str) -> list[Any]:
        inner = value.get(key) if isinstance(value, dict) else None
        return inner if isinstance(inner, list) else []

    return [
        event
        for inst in items(doc, "instances")
        for ex in items(inst, "executions")
        for event in items(ex, "events")
        if isinstance(event, dict)
    ]


def write_json(doc: Any, path: Path, gz: bool) -> Path:
    data = json.dumps(doc).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def pick_instance(doc: Any, choice: int) -> str:
    ids = instance_ids(doc)
    return ids[choice % len(ids)] if ids else "healthy-loop"


def minimal_event(owner: str, event_id: int, type_: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source_event_id": fields.pop("source_event_id", None),
        "instance_id": owner,
        "execution_id": 1,
        "timestamp_ms": 1_700_000_000_000 + event_id,
        "duroxide_version": "0.1.32",
        "type": type_,
        **fields,
    }


def duroxide_copy(source: Path, target: Path) -> sqlite3.Connection:
    shutil.copy(source, target)
    return sqlite3.connect(target)


FIXTURE_DOC = base_fixture()
