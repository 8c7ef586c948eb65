"""The ``durascope`` command.

Every failure the user can cause (a missing file, a corrupt store, an unknown
instance, a malformed bundle) ends in one line on stderr and a non-zero exit,
never a traceback.  UI libraries are imported only by the commands that use
them, so ``--help`` and the core commands work without the extras.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from durascope.history import event_to_dict
from durascope.replay import (
    Model,
    SourceError,
    build_bundle,
    event_summary,
    open_model,
    safe_text,
    write_bundle,
)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

PROGRESS_THRESHOLD = 200_000
"""Loads of more events than this report progress on stderr."""


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code ``EXIT_USAGE``."""


def _progress(stream: TextIO) -> Callable[[int], None]:
    def report(count: int) -> None:
        stream.write(f"\rdurascope: read {count:,} events…")
        stream.flush()

    return report


def _load_everything(model: Model) -> None:
    total = sum(ex.event_count or 0 for inst in model for ex in inst.executions)
    if total > PROGRESS_THRESHOLD:
        model.load_all(_progress(sys.stderr))
        sys.stderr.write("\n")
    else:
        model.load_all()


def cmd_history(args: argparse.Namespace) -> int:
    """``durascope history PATH --instance ID [--execution N] [--json]``."""
    model = open_model(args.path)
    try:
        instance = model.instance(args.instance)
        executions = (
            [instance.execution(args.execution)]
            if args.execution is not None
            else list(instance.executions)
        )
        if args.json:
            doc = {
                "instance": instance.instance_id,
                "source": model.origin.kind,
                "events": [event_to_dict(e) for ex in executions for e in ex.events],
            }
            json.dump(doc, sys.stdout)
            sys.stdout.write("\n")
            return EXIT_OK
        out = sys.stdout
        out.write(
            f"{safe_text(instance.instance_id)}  {safe_text(instance.orchestration_name)}  "
            f"{instance.status}  ({model.origin.kind}: {safe_text(model.origin.path)})\n"
        )
        out.write(f"{'exec':>4}  {'event':>5}  {'type':<38}  {'source':>6}  payload\n")
        for ex in executions:
            for e in ex.events:
                src = "" if e.source_event_id is None else str(e.source_event_id)
                out.write(
                    f"{ex.execution_id:>4}  {e.event_id:>5}  {safe_text(e.type, 38):<38}  "
                    f"{src:>6}  {event_summary(e)}\n"
                )
        return EXIT_OK
    finally:
        model.close()


def cmd_export(args: argparse.Namespace) -> int:
    """``durascope export PATH -o OUT.json[.gz] [--instance ID] [--redact]``."""
    if os.path.abspath(args.output) == os.path.abspath(args.path):
        raise CommandError("the output path is the input: refusing to overwrite it")
    model = open_model(args.path)
    try:
        if args.instance is None:
            _load_everything(model)
        bundle = build_bundle(model, instance_id=args.instance, redact=args.redact)
        write_bundle(bundle, args.output)
        events = sum(len(ex.events) for inst in bundle.instances for ex in inst.executions)
        sys.stderr.write(
            f"durascope: wrote {args.output}: {len(bundle.instances)} instances, {events} events"
            f"{', redacted' if bundle.redacted else ''}\n"
        )
        return EXIT_OK
    finally:
        model.close()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per use)."""
    parser = argparse.ArgumentParser(
        prog="durascope",
        description="Time-travel debugger for durable orchestrations (duroxide semantics).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    history = sub.add_parser("history", help="print an instance's history")
    history.add_argument("path", metavar="PATH", help="durascope store, duroxide store or bundle")
    history.add_argument("--instance", required=True, metavar="ID")
    history.add_argument("--execution", type=int, metavar="N")
    history.add_argument("--json", action="store_true", help="events in duroxide's JSON shape")
    history.set_defaults(func=cmd_history)

    export = sub.add_parser("export", help="write a portable bundle")
    export.add_argument("path", metavar="PATH")
    export.add_argument("-o", "--output", required=True, metavar="OUT.json[.gz]")
    export.add_argument("--instance", metavar="ID", help="only this instance's tree")
    export.add_argument(
        "--redact", action="store_true", help="replace payloads with their size and a hash"
    )
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except (SourceError, CommandError) as exc:
        print(f"durascope: error: {safe_text(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("durascope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # last resort: one line, never a traceback
        if os.environ.get("DURASCOPE_DEBUG"):
            raise
        print(
            f"durascope: internal error: {type(exc).__name__}: {safe_text(exc, 300)} "
            "(set DURASCOPE_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())


if __name__ == "__main__":
    run()
