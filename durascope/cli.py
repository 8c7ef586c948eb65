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
from pathlib import Path
from typing import TextIO

from durascope.history import event_to_dict
from durascope.replay import (
    FINDINGS_ADAPTER,
    Finding,
    Model,
    SourceError,
    build_bundle,
    diagnose,
    event_summary,
    inferred_because,
    open_model,
    refuse_input_as_output,
    safe_text,
    write_bundle,
)

__all__ = [
    "DEMO_GRAPH",
    "DEMO_MODULE",
    "EXIT_FINDINGS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROGRESS_THRESHOLD",
    "CommandError",
    "build_parser",
    "cmd_demo",
    "cmd_diagnose",
    "cmd_export",
    "cmd_history",
    "cmd_render",
    "cmd_replay",
    "cmd_tui",
    "describe_source",
    "main",
    "run",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

PROGRESS_THRESHOLD = 200_000
"""Loads of more events than this report progress on stderr, when it is a terminal."""


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit code ``EXIT_USAGE``."""


def _progress(stream: TextIO) -> Callable[[int], None]:
    def report(count: int) -> None:
        stream.write(f"\rdurascope: read {count:,} events…")
        stream.flush()

    return report


def describe_source(model: Model) -> str:
    """What PATH turned out to be, in one line: ``opened duroxide store app.db (12 instances)``.

    A bundle says what it was exported from, and whether it is redacted.
    """
    origin = model.origin
    count = len(model.instances)
    detail = f"{count} instance{'' if count == 1 else 's'}"
    if origin.kind == "bundle":
        what = "bundle"
        if origin.source_kind is not None:
            detail = f"exported from a {origin.source_kind} store, {detail}"
        if origin.redacted:
            detail += ", redacted"
    else:
        what = f"{origin.kind} store"
    return f"opened {what} {safe_text(origin.path)} ({detail})"


def _say_opened(model: Model) -> None:
    """Tell which kind of input was opened: one line on stderr (stdout stays the data).

    Commands call it once their failure points are behind them, so that an error
    is still the only line on stderr.
    """
    sys.stderr.write(f"durascope: {describe_source(model)}\n")


def _load_everything(model: Model) -> None:
    total = sum(ex.event_count or 0 for inst in model for ex in inst.executions)
    # A carriage return redraws a line on a terminal; in a log it is noise.
    if total > PROGRESS_THRESHOLD and sys.stderr.isatty():
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
        histories = [(ex.execution_id, ex.events) for ex in executions]  # read them all first
        _say_opened(model)
        if args.json:
            doc = {
                "instance": instance.instance_id,
                "source": model.origin.kind,
                "events": [event_to_dict(e) for _, events in histories for e in events],
            }
            json.dump(doc, sys.stdout)
            sys.stdout.write("\n")
            return EXIT_OK
        out = sys.stdout
        out.write(
            f"{safe_text(instance.instance_id)}  {safe_text(instance.orchestration_name)}  "
            f"{safe_text(instance.status)}\n"
        )
        out.write(f"{'exec':>4}  {'event':>5}  {'type':<38}  {'source':>6}  payload\n")
        for execution_id, events in histories:
            for e in events:
                src = "" if e.source_event_id is None else str(e.source_event_id)
                out.write(
                    f"{execution_id:>4}  {e.event_id:>5}  {safe_text(e.type, 38):<38}  "
                    f"{src:>6}  {event_summary(e)}\n"
                )
        return EXIT_OK
    finally:
        model.close()


def cmd_export(args: argparse.Namespace) -> int:
    """``durascope export PATH -o OUT.json[.gz] [--instance ID] [--redact]``."""
    refuse_input_as_output(args.output, args.path)
    model = open_model(args.path)
    try:
        if args.instance is None:
            _load_everything(model)
        bundle = build_bundle(model, instance_id=args.instance, redact=args.redact)
        write_bundle(bundle, args.output)
        _say_opened(model)
        events = sum(len(ex.events) for inst in bundle.instances for ex in inst.executions)
        sys.stderr.write(
            f"durascope: wrote {args.output}: {len(bundle.instances)} instances, {events} events"
            f"{', redacted' if bundle.redacted else ''}\n"
        )
        return EXIT_OK
    finally:
        model.close()


def _print_findings(findings: list[Finding], out: TextIO, model: Model) -> None:
    if not findings:
        out.write("no findings\n")
        return
    for f in findings:
        where = f"{safe_text(f.instance)}"
        if f.execution is not None:
            where += f"#{f.execution}"
        if f.event_id is not None:
            where += f" event {f.event_id}"
        if f.turn is not None:
            where += f" (turn {f.turn})"
        out.write(f"{f.severity.upper():<7} {f.kind:<24} {where}\n        {safe_text(f.message)}\n")
        for ref in f.related:
            target = safe_text(ref.instance)
            if ref.execution is not None:
                target += f"#{ref.execution}"
            if ref.event_id is not None:
                target += f" event {ref.event_id}"
            out.write(f"        {ref.role}: {target}\n")
        if (because := inferred_because(model, f)) is not None:
            out.write(f"        ({because})\n")
    counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
    errors, warnings = counts["error"], counts["warning"]
    out.write(
        f"{errors} error{'' if errors == 1 else 's'}, "
        f"{warnings} warning{'' if warnings == 1 else 's'}, {counts['info']} info\n"
    )


def cmd_diagnose(args: argparse.Namespace) -> int:
    """``durascope diagnose PATH [--json] [--instance ID]``; exit 1 on any error finding."""
    model = open_model(args.path)
    try:
        if args.instance is not None and not any(model.orphan_message_counts(args.instance)):
            model.instance(args.instance)  # an id only messages name has findings too
        _load_everything(model)
        findings = diagnose(model, args.instance)
        _say_opened(model)
        if args.json:
            doc = {"findings": FINDINGS_ADAPTER.dump_python(findings, mode="json")}
            json.dump(doc, sys.stdout)
            sys.stdout.write("\n")
        else:
            _print_findings(findings, sys.stdout, model)
        return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_OK
    finally:
        model.close()


def cmd_replay(args: argparse.Namespace) -> int:
    """``durascope replay PATH --instance ID --module FILE.py [--what-if]``."""
    from durascope.replay import (
        UnregisteredOrchestration,
        load_user_code,
        reexecute,
        side_by_side,
        what_if,
    )
    from durascope.replay._reexecute import refuse_redacted

    model = open_model(args.path)
    try:
        model.instance(args.instance)
        refuse_redacted(model)  # before the user's code runs at all
        code = load_user_code(args.module)
        try:
            result = reexecute(model, args.instance, code)
            report = what_if(model, args.instance, code) if args.what_if else None
        except UnregisteredOrchestration as exc:  # a wrong --module, not a divergence
            raise CommandError(exc.explain(args.module)) from None
        _say_opened(model)
        out = sys.stdout
        if result.divergence is None:
            out.write(
                f"{safe_text(args.instance)}: {result.turns_checked} turns re-executed with "
                f"{safe_text(args.module)}: no divergence\n"
            )
        else:
            finding = result.divergence.finding(result.evidence, os.path.basename(args.module))
            _print_findings([finding], out, model)
            for line in side_by_side(result.divergence).splitlines():
                out.write(f"{safe_text(line)}\n")
        if result.policy is not None:
            out.write(f"re-executed under the {safe_text(result.policy.phrase())}\n")
        if report is not None:
            recorded = (
                report.policy.phrase() if report.policy else f"{report.recorded_policy} policy"
            )
            out.write(f"\nwhat-if: recorded under the {safe_text(recorded)}\n")
            out.write(f"  simulated under both policies: {safe_text(', '.join(report.roots))}\n")
            diffs = report.differences()
            for line in diffs or ["both policies give the same outcome"]:
                out.write(f"  {safe_text(line)}\n")
        return EXIT_FINDINGS if result.divergence is not None else EXIT_OK
    finally:
        model.close()


def cmd_render(args: argparse.Namespace) -> int:
    """``durascope render PATH --instance ID -o OUT.{svg,png,dot}``."""
    from durascope.viz import RenderError, render_to_file

    refuse_input_as_output(args.output, args.path)
    model = open_model(args.path)
    try:
        model.instance(args.instance)
        try:
            render_to_file(model, args.instance, args.output)
        except (ValueError, RenderError) as exc:  # an unknown suffix; Graphviz missing
            raise CommandError(str(exc)) from None
        _say_opened(model)
        sys.stderr.write(f"durascope: wrote {args.output}\n")
        return EXIT_OK
    finally:
        model.close()


def cmd_tui(args: argparse.Namespace) -> int:
    """``durascope tui PATH [--instance ID] [--allow-writes]``."""
    try:
        from durascope.tui import run_tui
    except ImportError as exc:
        raise CommandError(
            f"the terminal UI needs the 'tui' extra (pip install 'durascope[tui]'): {exc}"
        ) from None
    return run_tui(args.path, instance=args.instance, allow_writes=args.allow_writes)


DEMO_MODULE = "my_orchestrations.py"
"""The demo's code, written beside its store for ``durascope replay --module``."""

DEMO_GRAPH = "legacy-loop"
"""The instance the demo draws without a terminal: the motivating hang."""


def _write_demo_module(store: Path) -> str:
    """Write the demo's orchestrations beside the store; returns what was done."""
    from importlib.resources import files

    source = files("durascope.scenarios").joinpath("demo_orchestrations.py").read_text()
    target = store.with_name(DEMO_MODULE)
    if target.exists() and target.read_text() != source:
        return f"kept your {target} (it differs from the demo's code, which the replay expects)"
    target.write_text(source)
    return f"wrote the demo's code to {target}"


def cmd_demo(args: argparse.Namespace) -> int:
    """``durascope demo``: run the built-in scenarios into a store and show them."""
    import asyncio

    from durascope.scenarios import (
        SCENARIOS,
        NotADemoStoreError,
        create_demo_store,
        record_demo_instances,
        run_scenarios,
    )

    store = Path(args.output).resolve()
    try:
        create_demo_store(store)
    except NotADemoStoreError as exc:
        raise CommandError(str(exc)) from None
    print(f"durascope demo: running {len(SCENARIOS)} scenarios on the embedded runtime")
    for s in SCENARIOS:
        print(f"  - {s.name} ({s.policy}): {s.summary}")
    asyncio.run(run_scenarios(store))
    record_demo_instances(store)
    print(f"durascope demo: wrote the store {store}")
    print(f"durascope demo: {_write_demo_module(store)}; re-execute a recorded history with")
    module = os.path.relpath(store.with_name(DEMO_MODULE))
    print(
        f"    durascope replay {os.path.relpath(store)} --instance deploy-approval "
        f"--module {module} --what-if"
    )
    interactive = sys.stdout.isatty() and sys.stdin.isatty() and not args.no_tui
    if interactive:
        try:
            from durascope.tui import run_tui
        except ImportError:
            interactive = False
        else:
            return run_tui(str(store), select_first_finding=True)
    model = open_model(store)
    try:
        findings = diagnose(model)
        _print_findings(findings, sys.stdout, model)
        seed_kinds = ("stuck_parent", "misrouted_notification", "child_id_collision")
        first = next((f for f in findings if f.kind in seed_kinds), None) or next(
            (f for f in findings if f.severity == "error"), None
        )
        focus = (
            DEMO_GRAPH
            if DEMO_GRAPH in model.instances
            else (first.instance if first else next(iter(model.instances)))
        )
        for suffix in (".dot", ".svg"):
            out = store.with_name(f"{store.stem}-{_file_safe(focus)}{suffix}")
            try:
                from durascope.viz import RenderError, render_to_file

                render_to_file(model, focus, str(out))
                print(f"durascope demo: graph of {safe_text(focus)}: {out}")
            except Exception as exc:  # a missing dot binary only costs the SVG
                # Ours say what to install, in one line: cutting one short loses the hint.
                limit = None if isinstance(exc, RenderError) else 200
                print(f"durascope demo: no {suffix} graph ({safe_text(exc, limit)})")
        print(
            f"durascope demo: explore it with  durascope tui {store}  "
            f"or  durascope diagnose {store}"
        )
    finally:
        model.close()
    return EXIT_OK


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]


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
        "--redact",
        action="store_true",
        help="replace every payload (inputs, outputs, results, event data, custom status, "
        "key-value values, every field of unknown or undecodable events and queue rows) and "
        "every text that can quote one (error messages and tracebacks, failed outputs, cancel "
        "reasons given by a client) with its size and a hash; names, ids, event types, error "
        "kinds and the runtime's own reasons are kept (diagnosis needs them)",
    )
    export.set_defaults(func=cmd_export)

    diag = sub.add_parser("diagnose", help="list findings; exit 1 if any is an error")
    diag.add_argument("path", metavar="PATH")
    diag.add_argument(
        "--instance",
        metavar="ID",
        help="only this instance's tree (or an id that only queued or discarded messages name)",
    )
    diag.add_argument("--json", action="store_true", help='one object {"findings": [...]}')
    diag.set_defaults(func=cmd_diagnose)

    replay = sub.add_parser("replay", help="re-execute your code against a recorded history")
    replay.add_argument("path", metavar="PATH")
    replay.add_argument("--instance", required=True, metavar="ID")
    replay.add_argument("--module", required=True, metavar="FILE.py", help="your orchestrations")
    replay.add_argument(
        "--what-if", action="store_true", help="also run the tree under both policies"
    )
    replay.set_defaults(func=cmd_replay)

    render = sub.add_parser("render", help="draw an instance tree (DOT, SVG or PNG)")
    render.add_argument("path", metavar="PATH")
    render.add_argument("--instance", required=True, metavar="ID")
    render.add_argument("-o", "--output", required=True, metavar="OUT.{svg,png,dot}")
    render.set_defaults(func=cmd_render)

    tui = sub.add_parser("tui", help="open the terminal UI (live on a durascope store)")
    tui.add_argument("path", metavar="PATH")
    tui.add_argument("--instance", metavar="ID", help="open this instance directly")
    tui.add_argument(
        "--allow-writes",
        action="store_true",
        help="enable raising events and cancelling (durascope stores only; asks to confirm)",
    )
    tui.set_defaults(func=cmd_tui)

    demo = sub.add_parser("demo", help="run built-in scenarios and open the debugger on them")
    demo.add_argument(
        "-o", "--output", default="durascope-demo.db", metavar="STORE", help="where to write"
    )
    demo.add_argument("--no-tui", action="store_true", help="print instead of opening the TUI")
    demo.set_defaults(func=cmd_demo)
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
    except OSError as exc:  # an output path in a missing directory, a directory, read-only
        print(f"durascope: error: {safe_text(exc)}", file=sys.stderr)
        return EXIT_USAGE
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
