"""Benchmark: graph build, DOT text and SVG for a generated tree of about ``size`` executions.

The tree is built in memory (no store): a root that fans out to children, each
of which fans out to grandchildren, every child completing and answering its
parent.  Run ``python bench/bench_render.py [SIZE]``; the lead's harness calls
``run(size)``.  Nothing here is a timed test.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

from durascope.history import (
    Event,
    OrchestrationCompleted,
    OrchestrationStarted,
    SubOrchestrationCompleted,
    SubOrchestrationScheduled,
)
from durascope.replay import Execution, Instance, Model, Origin, diagnose
from durascope.viz import build_graph, dot_available, render_svg


def _instance(instance_id: str, parent: tuple[str, int] | None, fanout: int) -> Instance:
    """An instance of one execution that schedules ``fanout`` auto-id children and collects them."""
    events: list[Event] = [
        OrchestrationStarted(
            event_id=1,
            name="Node",
            version="1",
            input="null",
            parent_instance=parent[0] if parent else None,
            parent_id=parent[1] if parent else None,
            parent_execution_id=1 if parent else None,
        )
    ]
    for k in range(fanout):
        events.append(
            SubOrchestrationScheduled(
                event_id=2 + k, name="Node", instance=f"sub::{2 + k}", input="null"
            )
        )
    for k in range(fanout):
        events.append(
            SubOrchestrationCompleted(event_id=2 + fanout + k, source_event_id=2 + k, result="1")
        )
    events.append(OrchestrationCompleted(event_id=len(events) + 1, output="1"))
    ex = Execution(instance_id, 1, "Completed", "1", _events=tuple(events))
    return Instance(
        instance_id,
        "Node",
        "1",
        1,
        parent[0] if parent else None,
        "Completed",
        "1",
        executions=(ex,),
    )


def tree_model(size: int) -> Model:
    """A root, about sqrt(size) children, and grandchildren: ``size`` executions in all."""
    children = max(1, math.isqrt(max(size - 1, 1)))
    grandchildren = max(0, size - 1 - children)
    instances = [_instance("root", None, children)]
    for c in range(children):
        child = f"root::sub::{2 + c}"
        mine = grandchildren // children + (1 if c < grandchildren % children else 0)
        instances.append(_instance(child, ("root", 2 + c), mine))
        for g in range(mine):
            instances.append(_instance(f"{child}::sub::{2 + g}", (child, 2 + g), 0))
    return Model(
        origin=Origin(kind="bundle", path=f"generated-{size}"),
        instances={i.instance_id: i for i in instances},
    )


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def run(size: int) -> list[dict[str, Any]]:
    """Time each stage for a tree of about ``size`` executions, drawn in full and collapsed.

    Returns:
        One row per stage: ``stage``, ``nodes``, ``edges``, ``seconds`` (``None`` when
        skipped: SVG without ``dot``), and ``note``.
    """
    model = tree_model(size)
    rows: list[dict[str, Any]] = []
    links, t_links = _timed(lambda: model.child_links)
    rows.append(
        {
            "stage": "resolve child links",
            "nodes": len(model.instances),
            "edges": len(links),
            "seconds": t_links,
            "note": "once per model",
        }
    )
    found, t_diag = _timed(lambda: diagnose(model))
    rows.append(
        {
            "stage": "diagnose",
            "nodes": len(model.instances),
            "edges": 0,
            "seconds": t_diag,
            "note": f"{len(found)} findings; build_graph(findings=None) runs it",
        }
    )
    for mode, max_children in (("full", 10**6), ("collapsed", 12)):
        graph, t_build = _timed(lambda: build_graph(model, findings=[], max_children=max_children))  # noqa: B023
        counts = {"nodes": len(graph.nodes), "edges": len(graph.edges)}
        rows.append({"stage": f"build_graph ({mode})", **counts, "seconds": t_build, "note": ""})
        dot, t_dot = _timed(graph.to_dot)
        rows.append(
            {"stage": f"to_dot ({mode})", **counts, "seconds": t_dot, "note": f"{len(dot)} chars"}
        )
        if dot_available():
            svg, t_svg = _timed(lambda: render_svg(dot))  # noqa: B023
            rows.append(
                {
                    "stage": f"render_svg ({mode})",
                    **counts,
                    "seconds": t_svg,
                    "note": f"{len(svg)} chars",
                }
            )
        else:
            rows.append(
                {
                    "stage": f"render_svg ({mode})",
                    **counts,
                    "seconds": None,
                    "note": "dot not installed",
                }
            )
    return rows


def main(argv: list[str]) -> None:
    size = int(argv[1]) if len(argv) > 1 else 500
    rows = run(size)
    print(f"{'stage':<26} {'nodes':>6} {'edges':>6} {'seconds':>9}  note")
    for r in rows:
        secs = f"{r['seconds']:.3f}" if r["seconds"] is not None else "-"
        print(f"{r['stage']:<26} {r['nodes']:>6} {r['edges']:>6} {secs:>9}  {r['note']}")


if __name__ == "__main__":
    main(sys.argv)
