"""Inspect a real duroxide SQLite store (read-only) from Python.

    python examples/inspect_duroxide_store.py PATH/TO/duroxide.db [INSTANCE]

Prints every instance with its executions, the findings, and, for INSTANCE, its
turns (reconstructed from history: a duroxide store keeps no turn journal, so
they are labelled "inferred").  Nothing is written to the store.
"""

from __future__ import annotations

import sys

from durascope.replay import SourceError, Timeline, diagnose, open_model, safe_text


def main(argv: list[str]) -> int:
    """Print what the store holds; exit 2 on unreadable input."""
    if not argv:
        print(__doc__)
        return 2
    try:
        model = open_model(argv[0])
    except SourceError as exc:
        print(f"error: {safe_text(exc)}", file=sys.stderr)
        return 2
    try:
        print(f"{model.origin.kind} store, runtime {safe_text(model.origin.runtime_version)}")
        for inst in model:
            chain = " -> ".join(f"#{e.execution_id} {e.status}" for e in inst.executions)
            name = safe_text(inst.orchestration_name)
            print(f"  {safe_text(inst.instance_id)} [{name}] {chain}")
        model.load_all()
        findings = diagnose(model)
        print(f"{len(findings)} findings")
        for finding in findings:
            print(
                f"  {finding.severity}: {finding.kind} {safe_text(finding.instance)}: "
                f"{safe_text(finding.message)} ({finding.evidence})"
            )
        if len(argv) > 1:
            timeline = Timeline.of(model.instance(argv[1]))
            print(f"turns of {safe_text(argv[1])} ({timeline.evidence})")
            for turn in timeline.turns:
                kinds = ", ".join(safe_text(e.type) for e in turn.delta)
                print(f"  turn {turn.number} ({turn.evidence}) exec {turn.execution_id}: {kinds}")
    except SourceError as exc:  # no such instance, a store that went away
        print(f"error: {safe_text(exc)}", file=sys.stderr)
        return 2
    finally:
        model.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
