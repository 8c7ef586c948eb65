"""Where dot puts the failure edges' labels: they must not sit on each other.

A legacy loop whose child outlives execution 1 has a collision (execution 2
reschedules the same auto id) and a misroute (the child's completion lands on
execution 2) between the same two nodes, in opposite directions.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from durascope.history import (
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    SubOrchestrationCompleted,
    SubOrchestrationScheduled,
)
from durascope.replay import Instance, Model
from durascope.viz import Graph, build_graph, execution_node_id
from tests.viz import execution, in_memory_model, started

Box = tuple[float, float, float, float]
LOOP, CHILD = "legacy-loop", "legacy-loop::sub::2"


def collided_and_misrouted() -> Model:
    """Execution 2 reschedules ``sub::2`` (collision) and receives execution 1's child's result."""
    first = [
        started("BatchLoop"),
        SubOrchestrationScheduled(event_id=2, name="ProcessBatch", instance="sub::2", input="1"),
        OrchestrationContinuedAsNew(event_id=3, input="2"),
    ]
    second = [
        started("BatchLoop"),
        SubOrchestrationScheduled(event_id=2, name="ProcessBatch", instance="sub::2", input="2"),
        SubOrchestrationCompleted(event_id=3, source_event_id=2, result="1"),
        OrchestrationCompleted(event_id=4, output="1"),
    ]
    loop = Instance(
        LOOP,
        "BatchLoop",
        "1",
        2,
        None,
        "Completed",
        "1",
        executions=(
            execution(LOOP, 1, first, "ContinuedAsNew"),
            execution(LOOP, 2, second),
        ),
    )
    child_events = [
        started("ProcessBatch", LOOP, 2, None),
        OrchestrationCompleted(event_id=2, output="1"),
    ]
    child = Instance(
        CHILD,
        "ProcessBatch",
        "1",
        1,
        LOOP,
        "Completed",
        "1",
        executions=(execution(CHILD, 1, child_events),),
    )
    return in_memory_model([loop, child])


@pytest.fixture
def graph() -> Graph:
    g = build_graph(collided_and_misrouted())
    (collision,) = g.edges_of("collision")
    (misrouted,) = g.edges_of("misrouted")
    assert (collision.source, collision.target) == (
        execution_node_id(LOOP, 2),
        execution_node_id(CHILD, 1),
    )
    assert (misrouted.source, misrouted.target) == (collision.target, collision.source)
    return g


def test_a_misroute_is_written_parent_first_with_its_arrow_kept_at_the_parent(
    graph: Graph,
) -> None:
    text = graph.to_dot()
    (line,) = [ln for ln in text.splitlines() if "MISROUTED" in ln]
    (collision,) = [ln for ln in text.splitlines() if "COLLISION" in ln]
    # the same direction as the collision, the arrow drawn at the execution it landed on
    assert line.split("[")[0] == collision.split("[")[0]
    assert "dir=back" in line and 'arrowtail="diamond"' in line and 'arrowhead="none"' in line


def _label_boxes(layout: dict[str, Any]) -> dict[str, Box]:
    boxes = {}
    for edge in layout.get("edges", []):
        for op in edge.get("_ldraw_", []):
            if op["op"] == "T":
                (x, y), w = op["pt"], op["width"]
                boxes[edge["label"]] = (x - w / 2, y - 2, x + w / 2, y + 9)
    return boxes


def _curve(layout: dict[str, Any], label: str) -> list[tuple[float, float]]:
    edge = next(e for e in layout["edges"] if e.get("label") == label)
    points: list[tuple[float, float]] = []
    for op in edge.get("_draw_", []):
        if op["op"] in ("b", "B"):
            p = op["points"]
            for i in range(0, len(p) - 3, 3):
                a, b, c, d = p[i : i + 4]
                for k in range(21):
                    t = k / 20
                    points.append(
                        (
                            (1 - t) ** 3 * a[0]
                            + 3 * (1 - t) ** 2 * t * b[0]
                            + 3 * (1 - t) * t**2 * c[0]
                            + t**3 * d[0],
                            (1 - t) ** 3 * a[1]
                            + 3 * (1 - t) ** 2 * t * b[1]
                            + 3 * (1 - t) * t**2 * c[1]
                            + t**3 * d[1],
                        )
                    )
    return points


def _inside(point: tuple[float, float], box: Box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
def test_the_misrouted_label_stays_off_the_collision_edge_and_its_label(graph: Graph) -> None:
    done = subprocess.run(
        ["dot", "-Tjson"], input=graph.to_dot().encode(), capture_output=True, check=True
    )
    layout = json.loads(done.stdout)
    boxes = _label_boxes(layout)
    misrouted = next(b for label, b in boxes.items() if label.startswith("MISROUTED"))
    collision_label = next(label for label in boxes if label.startswith("COLLISION"))
    collision = boxes[collision_label]
    apart = (
        misrouted[2] <= collision[0]
        or collision[2] <= misrouted[0]
        or misrouted[3] <= collision[1]
        or collision[3] <= misrouted[1]
    )
    assert apart, (misrouted, collision)
    assert not [p for p in _curve(layout, collision_label) if _inside(p, misrouted)]
    misrouted_label = next(label for label in boxes if label.startswith("MISROUTED"))
    assert not [p for p in _curve(layout, misrouted_label) if _inside(p, collision)]
    assert re.search(r"meant for exec 1 #2, landed on exec 2", misrouted_label)
