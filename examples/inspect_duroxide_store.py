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
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"{model.origin.kind} store, runtime {model.origin.runtime_version}")
        for inst in model:
            chain = " -> ".join(f"#{e.execution_id} {e.status}" for e in inst.executions)
            print(f"  {safe_text(inst.instance_id)} [{inst.orchestration_name}] {chain}")
        for finding in diagnose(model):
            print(f"  {finding.severity}: {finding.kind} {safe_text(finding.message)}")
        if len(argv) > 1:
            timeline = Timeline.of(model.instance(argv[1]))
            for turn in timeline.turns:
                kinds = ", ".join(e.type for e in turn.delta)
                print(f"  turn {turn.number} ({turn.evidence}) exec {turn.execution_id}: {kinds}")
    finally:
        model.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
