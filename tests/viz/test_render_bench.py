"""The render benchmark at a tiny size: its tree carries the failures, its rows are well formed.

Not a timed test: nothing checks that a figure is fast, only that every figure
is positive and that the graph drawn holds what the tree generated.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import bench_render
from bench.bench_render import generate_tree
from durascope.replay import diagnose
from durascope.viz import build_graph

TINY = 40  # six children: two healthy fan-outs... and one of each failure unit
STAGES = [
    "resolve child links",
    "diagnose",
    *(
        f"{stage} ({mode})"
        for mode in ("full", "collapsed")
        for stage in ("build_graph", "to_dot", "render_svg", "render_png")
    ),
]


def _positive(row: dict[str, Any], *keys: str) -> None:
    for key in keys:
        value = row[key]
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, (key, row)


@pytest.mark.parametrize("size", [TINY, 100])
def test_the_tree_holds_every_failure_and_diagnose_finds_them(size: int) -> None:
    tree = generate_tree(size)
    assert set(tree.troubles) == {"collision", "filtered", "misrouted"}
    found = diagnose(tree.model)
    assert Counter(f.kind for f in found) == tree.findings
    assert tree.findings["stuck_parent"] == tree.troubles["collision"]
    assert sum(len(i.executions) for i in tree.model.instances.values()) == tree.executions
    assert tree.executions == size
    full = build_graph(tree.model, findings=found, max_children=10**6)
    assert Counter(e.kind for e in full.edges) == tree.edges
    assert len(full.nodes) == tree.nodes
    assert sum(n.kind == "dropped" for n in full.nodes) == tree.sinks == tree.troubles["filtered"]
    assert sum("stuck" in n.marks for n in full.nodes) == tree.troubles["collision"]
    assert sum("collision_hit" in n.marks for n in full.nodes) == tree.troubles["collision"]
    collapsed = build_graph(tree.model, findings=found)
    assert (len(collapsed.nodes), len(collapsed.edges)) == tree.collapsed()
    # the failures survive the collapse: findings pin their units
    assert Counter(e.kind for e in collapsed.edges if e.kind in tree.troubles) == tree.troubles


def test_rows_report_every_stage_with_the_counts_generated() -> None:
    tree = generate_tree(TINY)
    rows = bench_render.run(TINY)
    assert [r["stage"] for r in rows] == STAGES
    by_stage = {r["stage"]: r for r in rows}
    for row in rows:
        assert set(row) == {"stage", "nodes", "edges", "seconds", "note"}
        _positive(row, "nodes", "edges")
        if shutil.which("dot") is not None or not row["stage"].startswith("render_"):
            _positive(row, "seconds")
    assert by_stage["resolve child links"]["nodes"] == len(tree.model.instances)
    assert by_stage["resolve child links"]["edges"] == len(tree.model.child_links)
    for kind, count in tree.findings.items():
        assert f"{count} {kind}" in by_stage["diagnose"]["note"]
    collapsed_nodes, collapsed_edges = tree.collapsed()
    for stage in ("build_graph", "to_dot", "render_svg", "render_png"):
        full = by_stage[f"{stage} (full)"]
        assert (full["nodes"], full["edges"]) == (tree.nodes, sum(tree.edges.values()))
        small = by_stage[f"{stage} (collapsed)"]
        assert (small["nodes"], small["edges"]) == (collapsed_nodes, collapsed_edges)
    marks = by_stage["build_graph (full)"]["note"]
    assert marks == "1 collision, 1 misrouted, 1 filtered edges; 1 stuck, 1 collision-hit nodes"
    if shutil.which("dot") is not None:
        assert by_stage["render_svg (full)"]["note"].endswith(" chars")
        assert " bytes, " in by_stage["render_png (full)"]["note"]
        assert by_stage["render_png (full)"]["note"].endswith(" px")


def test_without_dot_the_image_stages_are_skipped_not_failed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    rows = bench_render.run(TINY)
    images = [r for r in rows if r["stage"].startswith("render_")]
    assert len(images) == 4
    assert all(r["seconds"] is None and r["note"] == "dot not installed" for r in images)
    assert all(r["seconds"] > 0 for r in rows if r not in images)


def test_main_prints_one_line_per_stage(capsys: pytest.CaptureFixture[str]) -> None:
    bench_render.main(["bench_render.py", "12"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["stage", "nodes", "edges", "seconds", "note"]
    assert [line[:26].strip() for line in lines[1:]] == STAGES
