"""Benchmark: graph build, DOT, SVG and PNG for a generated tree of about ``size`` executions.

The tree is built in memory (no store) and carries every failure the graph
draws, so the renderer does its real work: a root fans out to children; most
children fan out to grandchildren that complete and answer, but every other
child is one of the motivating bugs, in turn:

- a legacy continue-as-new loop whose second execution reschedules its first
  execution's child id: a *collision* on the child, and a *stuck parent*;
- a fixed supervisor whose child outlives execution 1: its result is
  *filtered* into the parent's "dropped" sink;
- a legacy supervisor whose child's result lands on execution 2: *misrouted*,
  and execution 2 fails with "no matching schedule".

``generate_tree`` also says what the graph of the tree must hold (nodes and
edges by kind), so a test can check the benchmark draws what it generated.
Run ``python bench/bench_render.py [SIZE]``; the harness calls ``run(size)``.
Nothing here is a timed test.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from durascope.history import (
    ConfigurationError,
    Event,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
    SubOrchestrationCompleted,
    SubOrchestrationFailed,
    SubOrchestrationScheduled,
    TimerCreated,
    TimerFired,
)
from durascope.replay import Execution, Instance, Model, Origin, diagnose
from durascope.viz import Graph, build_graph, dot_available, render_png, render_svg

Trouble = Literal["collision", "filtered", "misrouted"]
TROUBLES: tuple[Trouble, ...] = ("collision", "filtered", "misrouted")
COLLAPSED_CHILDREN = 12
"""``max_children`` of the collapsed drawing (``build_graph``'s default)."""
MISROUTE = ConfigurationError(message="no matching schedule for sub-orchestration id=2")

Parent = tuple[str, int, int | None]  # (instance, schedule event id, execution or None: legacy)


@dataclass
class GeneratedTree:
    """A generated model and what its full graph must hold.

    Attributes:
        model: The tree, in memory.
        executions: Execution nodes (one per execution of every instance).
        sinks: "Dropped" sink nodes (one per parent with a filtered result).
        edges: Edges by kind.
        findings: Findings by kind that ``diagnose`` must report.
        troubles: The child units that carry a failure, by kind.
        fanouts: Grandchildren of each healthy child (to predict the collapsed graph).
    """

    model: Model
    executions: int = 0
    sinks: int = 0
    edges: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    troubles: Counter[str] = field(default_factory=Counter)
    fanouts: list[int] = field(default_factory=list)

    @property
    def nodes(self) -> int:
        """Nodes of the full graph."""
        return self.executions + self.sinks

    def collapsed(self, max_children: int = COLLAPSED_CHILDREN) -> tuple[int, int]:
        """Nodes and edges of the graph drawn with ``max_children``.

        The units with a failure are pinned (a finding names them), so the root's
        children fold only when the healthy ones overflow what the pinned leave.
        """
        pinned = sum(self.troubles.values())
        room = max(max_children - pinned, 0)
        shown, hidden = self.fanouts[:room], self.fanouts[room:]
        nodes, edges = self.nodes, sum(self.edges.values())
        if hidden:  # whole healthy subtrees go into one "+N more children" node
            nodes += 1 - sum(1 + g for g in hidden)
            edges += 1 - sum(2 + 2 * g for g in hidden)  # their spawn+delivery and their kids'
        for g in shown:
            if g > max_children:  # a healthy child's own fan-out folds
                folded = g - max_children
                nodes += 1 - folded
                edges += 1 - 2 * folded
        return nodes, edges


def _started(name: str, parent: Parent | None) -> OrchestrationStarted:
    return OrchestrationStarted(
        event_id=1,
        name=name,
        version="1",
        input="null",
        parent_instance=parent[0] if parent else None,
        parent_id=parent[1] if parent else None,
        parent_execution_id=parent[2] if parent else None,
    )


def _instance(
    instance_id: str,
    name: str,
    parent: Parent | None,
    executions: list[tuple[list[Event], str]],
) -> Instance:
    execs = tuple(
        Execution(instance_id, n, status, None, _events=tuple(events))
        for n, (events, status) in enumerate(executions, start=1)
    )
    status = execs[-1].status
    return Instance(
        instance_id,
        name,
        "1",
        len(execs),
        parent[0] if parent else None,
        "Running" if status == "ContinuedAsNew" else status,
        None,
        executions=execs,
    )


def _leaf(instance_id: str, parent: Parent) -> Instance:
    events: list[Event] = [_started("Leaf", parent), OrchestrationCompleted(event_id=2, output="1")]
    return _instance(instance_id, "Leaf", parent, [(events, "Completed")])


def _healthy(unit: str, parent: Parent, fanout: int) -> list[Instance]:
    """A child that schedules ``fanout`` auto-id grandchildren and collects them."""
    events: list[Event] = [_started("Node", parent)]
    events += [
        SubOrchestrationScheduled(event_id=2 + k, name="Leaf", instance=f"sub::{2 + k}", input="1")
        for k in range(fanout)
    ]
    events += [
        SubOrchestrationCompleted(event_id=2 + fanout + k, source_event_id=2 + k, result="1")
        for k in range(fanout)
    ]
    events.append(OrchestrationCompleted(event_id=len(events) + 1, output="1"))
    kids = [_leaf(f"{unit}::sub::{2 + k}", (unit, 2 + k, 1)) for k in range(fanout)]
    return [_instance(unit, "Node", parent, [(events, "Completed")]), *kids]


def _collision(unit: str, parent: Parent) -> list[Instance]:
    """Legacy loop: execution 2 reschedules ``sub::2``, which execution 1's child still holds."""
    first: list[Event] = [
        _started("BatchLoop", parent),
        SubOrchestrationScheduled(event_id=2, name="Leaf", instance="sub::2", input="1"),
        SubOrchestrationCompleted(event_id=3, source_event_id=2, result="1"),
        OrchestrationContinuedAsNew(event_id=4, input="2"),
    ]
    second: list[Event] = [
        _started("BatchLoop", parent),
        SubOrchestrationScheduled(event_id=2, name="Leaf", instance="sub::2", input="2"),
    ]
    loop = _instance(unit, "BatchLoop", parent, [(first, "ContinuedAsNew"), (second, "Running")])
    return [loop, _leaf(f"{unit}::sub::2", (unit, 2, None))]


def _supervisor(unit: str, parent: Parent, legacy: bool) -> list[Instance]:
    """A child outlives execution 1: filtered (fixed policy) or misrouted onto execution 2."""
    first: list[Event] = [
        _started("Supervisor", parent),
        SubOrchestrationScheduled(event_id=2, name="Leaf", instance="sub::2", input="1"),
        TimerCreated(event_id=3, fire_at_ms=20),
        TimerFired(event_id=4, source_event_id=3, fire_at_ms=20),
        OrchestrationContinuedAsNew(event_id=5, input="2"),
    ]
    end: Event = (
        OrchestrationFailed(event_id=2, details=MISROUTE)
        if legacy
        else OrchestrationCompleted(event_id=2, output="1")
    )
    second: list[Event] = [_started("Supervisor", parent), end]
    status = "Failed" if legacy else "Completed"
    sup = _instance(unit, "Supervisor", parent, [(first, "ContinuedAsNew"), (second, status)])
    return [sup, _leaf(f"{unit}::sub::2", (unit, 2, None if legacy else 1))]


def generate_tree(size: int) -> GeneratedTree:
    """A root, about sqrt(size) children and their grandchildren: about ``size`` executions.

    Every other child (the 2nd, 4th, ...) is a failure unit of three executions,
    cycling through ``TROUBLES``; the rest of the executions are spread over the
    healthy children as grandchildren.
    """
    children = max(1, math.isqrt(max(size - 1, 1)))
    kinds: list[Trouble | None] = [
        TROUBLES[(c // 2) % len(TROUBLES)] if c % 2 else None for c in range(children)
    ]
    healthy = kinds.count(None)
    spare = max(0, size - 1 - healthy - 3 * (children - healthy))
    tree = GeneratedTree(Model(Origin(kind="bundle", path=f"generated-{size}"), instances={}))
    edges, findings = tree.edges, tree.findings
    instances: list[Instance] = []
    root_events: list[Event] = [_started("Root", None)]
    answers: list[tuple[int, bool]] = []  # (schedule answered, whether the unit failed)
    for c, kind in enumerate(kinds):
        unit, event_id = f"root::sub::{2 + c}", 2 + c
        parent: Parent = ("root", event_id, 1)
        root_events.append(
            SubOrchestrationScheduled(
                event_id=event_id, name="Node", instance=f"sub::{event_id}", input="1"
            )
        )
        edges["spawn"] += 1  # root -> unit
        if kind is None:
            fanout = spare // healthy + (1 if len(tree.fanouts) < spare % healthy else 0)
            tree.fanouts.append(fanout)
            instances += _healthy(unit, parent, fanout)
            tree.executions += 1 + fanout
            edges["spawn"] += fanout
            edges["delivery"] += fanout + 1  # grandchildren -> unit, unit -> root
            answers.append((event_id, False))
            continue
        tree.troubles[kind] += 1
        tree.executions += 3  # two executions of the unit, one of its child
        edges["continue_as_new"] += 1
        edges["spawn"] += 1  # execution 1 -> its child
        if kind == "collision":
            instances += _collision(unit, parent)
            edges["delivery"] += 1  # the child answered execution 1; the loop never answers
            edges["collision"] += 1  # execution 2 -> the child holding the id
            findings["child_id_collision"] += 1
            findings["stuck_parent"] += 1
        elif kind == "filtered":
            instances += _supervisor(unit, parent, legacy=False)
            edges["filtered"] += 1  # the child -> the unit's dropped sink
            edges["delivery"] += 1  # execution 2 answers the root
            tree.sinks += 1
            findings["filtered_notification"] += 1
            answers.append((event_id, False))
        else:
            instances += _supervisor(unit, parent, legacy=True)
            edges["misrouted"] += 1  # the child -> execution 2
            edges["delivery"] += 1  # execution 2's failure reaches the root
            findings["misrouted_notification"] += 1
            answers.append((event_id, True))
    for source, failed in answers:
        next_id = len(root_events) + 1
        root_events.append(
            SubOrchestrationFailed(event_id=next_id, source_event_id=source, details=MISROUTE)
            if failed
            else SubOrchestrationCompleted(event_id=next_id, source_event_id=source, result="1")
        )
    waits = tree.troubles["collision"] > 0  # a stuck loop never answers: the root waits
    if not waits:
        root_events.append(OrchestrationCompleted(event_id=len(root_events) + 1, output="1"))
    root = _instance("root", "Root", None, [(root_events, "Running" if waits else "Completed")])
    tree.executions += 1
    tree.model = Model(
        origin=tree.model.origin, instances={i.instance_id: i for i in [root, *instances]}
    )
    return tree


def tree_model(size: int) -> Model:
    """The generated tree's model (see ``generate_tree``)."""
    return generate_tree(size).model


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _marks(graph: Graph) -> str:
    kinds = Counter(e.kind for e in graph.edges)
    stuck = sum("stuck" in n.marks for n in graph.nodes)
    hit = sum("collision_hit" in n.marks for n in graph.nodes)
    return (
        f"{kinds['collision']} collision, {kinds['misrouted']} misrouted, "
        f"{kinds['filtered']} filtered edges; {stuck} stuck, {hit} collision-hit nodes"
    )


def _png_note(png: bytes) -> str:
    """Size and pixel dimensions (from the IHDR chunk; dot scales huge graphs down)."""
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    return f"{len(png)} bytes, {width}x{height} px"


def run(size: int) -> list[dict[str, Any]]:
    """Time each stage for a tree of about ``size`` executions, drawn in full and collapsed.

    Returns:
        One row per stage: ``stage``, ``nodes``, ``edges``, ``seconds`` (``None`` when
        skipped: SVG and PNG without ``dot``), and ``note``.  For the first two
        stages ``nodes`` counts instances and ``edges`` child links.
    """
    tree = generate_tree(size)
    model = tree.model
    rows: list[dict[str, Any]] = []
    links, t_links = _timed(lambda: model.child_links)
    read = {"nodes": len(model.instances), "edges": len(links)}
    rows.append({"stage": "resolve child links", **read, "seconds": t_links, "note": "once"})
    found, t_diag = _timed(lambda: diagnose(model))
    kinds = Counter(f.kind for f in found)
    note = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    rows.append({"stage": "diagnose", **read, "seconds": t_diag, "note": note})
    for mode, max_children in (("full", 10**6), ("collapsed", COLLAPSED_CHILDREN)):
        graph, t_build = _timed(
            lambda: build_graph(model, findings=found, max_children=max_children)  # noqa: B023
        )
        counts = {"nodes": len(graph.nodes), "edges": len(graph.edges)}
        rows.append(
            {"stage": f"build_graph ({mode})", **counts, "seconds": t_build, "note": _marks(graph)}
        )
        dot, t_dot = _timed(graph.to_dot)
        rows.append(
            {"stage": f"to_dot ({mode})", **counts, "seconds": t_dot, "note": f"{len(dot)} chars"}
        )
        for fmt, render in (("svg", render_svg), ("png", render_png)):
            stage = f"render_{fmt} ({mode})"
            if not dot_available():
                rows.append(
                    {"stage": stage, **counts, "seconds": None, "note": "dot not installed"}
                )
                continue
            image, seconds = _timed(lambda: render(dot))  # noqa: B023
            note = f"{len(image)} chars" if fmt == "svg" else _png_note(image)
            rows.append({"stage": stage, **counts, "seconds": seconds, "note": note})
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
