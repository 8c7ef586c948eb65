"""The graph model: nodes and edges for the seed scenarios under both policies."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from durascope.history import (
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    SubOrchestrationScheduled,
)
from durascope.replay import Finding, Instance, Model, Origin, SourceError, Timeline, open_model
from durascope.viz import Graph, build_graph, dropped_node_id, execution_node_id
from tests.viz import demo_store, execution, fan_out, in_memory_model, started


@pytest.fixture(scope="module")
def model() -> Model:
    return open_model(demo_store())


def x(instance: str, execution: int) -> str:
    return execution_node_id(instance, execution)


def kinds(graph: Graph) -> dict[str, int]:
    out: dict[str, int] = {}
    for edge in graph.edges:
        out[edge.kind] = out.get(edge.kind, 0) + 1
    return out


def test_healthy_loop_is_a_chain_of_three_executions_each_with_a_child(model: Model) -> None:
    g = build_graph(model, focus="healthy-loop")
    parent = [n for n in g.nodes if n.instance_id == "healthy-loop"]
    assert [n.execution_id for n in parent] == [1, 2, 3]
    assert [n.status for n in parent] == ["ContinuedAsNew", "ContinuedAsNew", "Completed"]
    assert [(e.source, e.target) for e in g.edges_of("continue_as_new")] == [
        (x("healthy-loop", 1), x("healthy-loop", 2)),
        (x("healthy-loop", 2), x("healthy-loop", 3)),
    ]
    children = {1: "healthy-loop::sub::2", 2: "healthy-loop::sub::2_2", 3: "healthy-loop::sub::3_2"}
    spawns = {(e.source, e.target, e.event_id) for e in g.edges_of("spawn")}
    assert spawns == {(x("healthy-loop", k), x(c, 1), 2) for k, c in children.items()}
    deliveries = {(e.source, e.target) for e in g.edges_of("delivery")}
    assert deliveries == {(x(c, 1), x("healthy-loop", k)) for k, c in children.items()}
    assert kinds(g) == {"continue_as_new": 2, "spawn": 3, "delivery": 3}
    for edge in g.edges_of("spawn"):
        assert (
            edge.child_instance is not None
            and edge.child_instance in edge.label
            and "#2" in edge.label
        )
    assert not any(n.badges for n in g.nodes)
    assert [c.instance_id for c in g.clusters] == ["healthy-loop"]


def test_legacy_loop_shows_the_collision_and_the_stuck_second_execution(model: Model) -> None:
    g = build_graph(model, focus="legacy-loop")
    (collision,) = g.edges_of("collision")
    assert (collision.source, collision.target) == (
        x("legacy-loop", 2),
        x("legacy-loop::sub::2", 1),
    )
    assert (
        collision.event_id == 2 and "COLLISION" in collision.label and collision.severity == "error"
    )
    second = g.node(x("legacy-loop", 2))
    assert {"stuck", "waiting", "current"} <= set(second.marks)
    assert {b.kind for b in second.badges} == {"child_id_collision", "stuck_parent"}
    assert any("STUCK" in line for line in second.label_lines())
    hit = g.node(x("legacy-loop::sub::2", 1))
    assert "collision_hit" in hit.marks
    assert any("claimed by legacy-loop exec 2 #2" in line for line in hit.label_lines())
    # the child was started by execution 1 and answered it
    assert {(e.source, e.target) for e in g.edges_of("spawn")} == {
        (x("legacy-loop", 1), x("legacy-loop::sub::2", 1))
    }
    assert {(e.source, e.target) for e in g.edges_of("delivery")} == {
        (x("legacy-loop::sub::2", 1), x("legacy-loop", 1))
    }


def test_fixed_outliving_child_is_filtered_into_the_dropped_sink(model: Model) -> None:
    g = build_graph(model, focus="fixed-supervisor")
    (filtered,) = g.edges_of("filtered")
    assert filtered.source == x("fixed-supervisor::sub::2", 1)
    assert filtered.target == dropped_node_id("fixed-supervisor")
    assert "FILTERED" in filtered.label and "dropped in exec 2" in filtered.label
    sink = g.node(filtered.target)
    assert sink.kind == "dropped" and "DROPPED" in sink.label_lines()
    assert not g.edges_of("delivery") and not g.edges_of("misrouted")
    assert g.node(x("fixed-supervisor", 2)).status == "Completed"
    assert [b.kind for b in g.node(x("fixed-supervisor", 1)).badges] == ["filtered_notification"]
    cluster = next(c for c in g.clusters if c.instance_id == "fixed-supervisor")
    assert sink.id in cluster.node_ids  # the sink sits with the parent's chain


def test_legacy_outliving_child_is_misrouted_onto_execution_two(model: Model) -> None:
    g = build_graph(model, focus="legacy-supervisor")
    (misrouted,) = g.edges_of("misrouted")
    assert (misrouted.source, misrouted.target) == (
        x("legacy-supervisor::sub::2", 1),
        x("legacy-supervisor", 2),
    )
    assert "MISROUTED" in misrouted.label and "exec 1 #2" in misrouted.label
    assert g.node(x("legacy-supervisor", 2)).status == "Failed"
    assert not g.edges_of("delivery") and not g.edges_of("filtered")
    assert [b.kind for b in g.node(x("legacy-supervisor", 2)).badges] == ["misrouted_notification"]


@pytest.mark.parametrize(
    ("prefix", "outcome", "severity", "stuck"),
    [
        ("fixed-collision", "failed fast", "warning", False),
        ("legacy-collision", "start discarded", "error", True),
    ],
)
def test_explicit_id_collision_under_both_policies(
    model: Model, prefix: str, outcome: str, severity: str, stuck: bool
) -> None:
    g = build_graph(model, focus=f"{prefix}-report-tue")
    (collision,) = g.edges_of("collision")
    assert collision.source == x(f"{prefix}-report-tue", 1)
    assert collision.target == x(f"{prefix}-report-builder", 1)
    assert outcome in collision.label and collision.severity == severity
    # the holder of the id is drawn as context, with its own spawn and delivery
    assert g.execution_node(f"{prefix}-report-mon", 1) is not None
    assert {e.source for e in g.edges_of("spawn")} == {x(f"{prefix}-report-mon", 1)}
    assert ("stuck" in g.node(x(f"{prefix}-report-tue", 1)).marks) is stuck


@pytest.mark.parametrize("claimers", [2, 3, 5])
def test_a_collision_target_shows_every_schedule_that_hit_it(claimers: int) -> None:
    # "owner" started "shared"; every "tue-k" later scheduled the same explicit id
    tues = [fan_out(f"tue-{k}", ["shared"])[0] for k in range(claimers)]
    g = build_graph(in_memory_model([*fan_out("owner", ["shared"]), *tues]))
    assert len(g.edges_of("collision")) == claimers
    assert {e.source for e in g.edges_of("collision")} == {
        x(f"tue-{k}", 1) for k in range(claimers)
    }
    hit = g.node(x("shared", 1))
    assert hit.marks.count("collision_hit") == 1
    lines = hit.label_lines()
    assert f"id also claimed by {claimers} other schedules:" in lines
    listed = [line for line in lines if line.startswith("- tue-")]
    assert listed == [f"- tue-{k} exec 1 #2" for k in range(min(claimers, 3))]
    more = [line for line in lines if line.startswith("- and ")]
    assert more == ([f"- and {claimers - 3} more"] if claimers > 3 else [])
    assert f"id also claimed by {claimers} other schedules:" in g.to_dot()


def test_fan_out_with_a_failing_child_and_a_cancelled_tree(model: Model) -> None:
    g = build_graph(model, focus="fanout-checkout")
    assert kinds(g) == {"spawn": 3, "delivery": 3}
    labels = sorted(e.label.split(":")[0] for e in g.edges_of("delivery"))
    assert labels == ["completed", "completed", "failed"]
    assert [e.child_instance for e in g.edges_of("delivery") if e.failed] == [
        "fanout-checkout::sub::3"
    ]
    assert g.node(x("fanout-checkout", 1)).status == "Failed"
    c = build_graph(model, focus="cancel-pipeline")
    assert {n.status for n in c.nodes} == {"Cancelled"}
    assert not c.edges_of("delivery")  # the parent was terminal when the children's answers came


def test_whole_store_graph_has_every_instance_and_the_orphan(model: Model) -> None:
    g = build_graph(model)
    drawn = {n.instance_id for n in g.nodes if n.kind == "execution"}
    assert drawn == set(model.instances)
    orphan = g.node("missing:orphan-does-not-exist")
    assert orphan.kind == "missing" and [b.kind for b in orphan.badges] == ["orphan_message"]
    assert len(g.nodes) == len({n.id for n in g.nodes})
    ids = {n.id for n in g.nodes}
    assert all(e.source in ids and e.target in ids for e in g.edges)
    assert g.title.startswith("durascope ")


def test_focus_selects_one_tree_and_marks_the_focused_instance(model: Model) -> None:
    g = build_graph(model, focus="healthy-loop::sub::2_2")
    assert {n.instance_id for n in g.nodes} == {
        "healthy-loop",
        "healthy-loop::sub::2",
        "healthy-loop::sub::2_2",
        "healthy-loop::sub::3_2",
    }
    assert "focus" in g.node(x("healthy-loop::sub::2_2", 1)).marks
    assert "focus" not in g.node(x("healthy-loop", 1)).marks
    with pytest.raises(SourceError):
        build_graph(model, focus="no-such-instance")


def test_findings_none_runs_diagnose_and_empty_findings_draw_only_structure(model: Model) -> None:
    bare = build_graph(model, focus="legacy-supervisor", findings=[])
    assert not bare.edges_of("misrouted") and not any(n.badges for n in bare.nodes)
    # a collision is structure: it is drawn even without its finding
    assert len(build_graph(model, focus="legacy-loop", findings=[]).edges_of("collision")) == 1


def test_per_turn_view_highlights_what_the_turn_changed(model: Model) -> None:
    timeline = Timeline.of(model.instance("legacy-loop"))
    g = build_graph(
        model, focus="legacy-loop", turn=timeline.turns[2]
    )  # execution 2 starts, reschedules
    assert g.node(x("legacy-loop", 2)).highlighted
    lit = {e.kind for e in g.edges if e.highlighted}
    assert lit == {"continue_as_new", "collision"}
    assert all(e.label.startswith("[this turn]") for e in g.edges if e.highlighted)
    supervisor = Timeline.of(model.instance("fixed-supervisor"))
    index = next(
        t.index for t in supervisor.turns if any(v.verdict == "filtered" for v in t.messages)
    )
    g = build_graph(model, focus="fixed-supervisor", turn=supervisor.turns[index])
    assert [e.kind for e in g.edges if e.highlighted] == ["filtered"]
    healthy = Timeline.of(model.instance("healthy-loop"))
    g = build_graph(
        model, focus="healthy-loop", turn=healthy.turns[1]
    )  # child answers, parent continues
    assert {(e.kind, e.target) for e in g.edges if e.highlighted} == {
        ("delivery", x("healthy-loop", 1)),
        ("continue_as_new", x("healthy-loop", 2)),
    }
    child = Timeline.of(model.instance("healthy-loop::sub::2"))
    g = build_graph(
        model, focus="healthy-loop", turn=child.turns[-1]
    )  # the child completes: sends the answer
    assert [(e.kind, e.source) for e in g.edges if e.highlighted] == [
        ("delivery", x("healthy-loop::sub::2", 1))
    ]


def test_collapse_executions_and_children_past_the_limits() -> None:
    children = [f"batch-{k:02d}" for k in range(30)]
    m = in_memory_model(fan_out("big", children, executions=10))
    g = build_graph(m, max_executions=4, max_children=5, findings=[])
    shown = [n.execution_id for n in g.nodes if n.instance_id == "big" and n.kind == "execution"]
    assert shown == [1, 8, 9, 10]
    (folded,) = [n for n in g.nodes if n.kind == "more_executions"]
    assert folded.hidden == 6 and "+6 more executions (2-7)" in folded.label_lines()
    chain = [(g.node(e.source).kind, g.node(e.target).kind) for e in g.edges_of("continue_as_new")]
    assert chain[0] == ("execution", "more_executions") and len(chain) == 4
    assert any("x6" in e.label for e in g.edges_of("continue_as_new"))
    (more,) = [n for n in g.nodes if n.kind == "more_children"]
    assert more.hidden == 25 and "+25 more children" in more.label_lines()
    assert "25 Completed" in more.label_lines()
    assert len([n for n in g.nodes if n.instance_id.startswith("batch-")]) == 5
    # a child with a finding stays visible past the limit
    finding = Finding(
        kind="stuck_parent",
        severity="error",
        instance="batch-27",
        execution=1,
        message="pinned",
        evidence="inferred",
    )
    pinned = build_graph(m, max_executions=4, max_children=5, findings=[finding])
    assert pinned.execution_node("batch-27", 1) is not None
    assert pinned.node(x("batch-27", 1)).badges[0].kind == "stuck_parent"
    assert pinned.node("more-children:big#10").hidden == 25  # 5 shown + the pinned one
    with pytest.raises(ValueError):
        build_graph(m, max_executions=1)


def test_the_way_down_to_a_finding_stays_visible() -> None:
    root_execs = []
    for n in range(
        1, 6
    ):  # root continues as new 4 times; execution 2 starts "mid", which starts "leaf"
        events = [started("Loop")]
        if n == 2:
            events.append(
                SubOrchestrationScheduled(event_id=2, name="Mid", instance="mid", input="null")
            )
        end = len(events) + 1
        last = OrchestrationCompleted(event_id=end, output="x")
        events.append(OrchestrationContinuedAsNew(event_id=end, input="x") if n < 5 else last)
        root_execs.append(execution("root", n, events))
    root = Instance("root", "Loop", "1", 5, None, "Completed", "x", executions=tuple(root_execs))
    mid_events = [
        started("Mid", "root", 2, 2),
        SubOrchestrationScheduled(event_id=2, name="Leaf", instance="leaf", input="null"),
    ]
    mid = Instance(
        "mid",
        "Mid",
        "1",
        1,
        "root",
        "Running",
        None,
        executions=(execution("mid", 1, mid_events, "Running"),),
    )
    leaf = Instance(
        "leaf",
        "Leaf",
        "1",
        1,
        "mid",
        "Running",
        None,
        executions=(execution("leaf", 1, [started("Leaf", "mid", 2, 1)], "Running"),),
    )
    m = in_memory_model([root, mid, leaf])
    plain = build_graph(m, max_executions=2, findings=[])
    assert plain.execution_node("root", 2) is None and plain.execution_node("leaf", 1) is None
    finding = Finding(
        kind="stuck_parent",
        severity="error",
        instance="leaf",
        execution=1,
        message="x",
        evidence="inferred",
    )
    g = build_graph(m, max_executions=2, findings=[finding])
    assert all(g.execution_node(i, e) for i, e in (("root", 2), ("mid", 1), ("leaf", 1)))
    assert [n.id for n in g.nodes if n.kind == "more_executions"] == ["more-executions:root#3-4"]
    assert "waiting" in g.node(x("mid", 1)).marks


def test_schedules_naming_existing_roots_are_collisions_and_cycles_terminate() -> None:
    a, b = fan_out("a", ["b"])[0], fan_out("b", ["a"])[0]
    g = build_graph(in_memory_model([a, b]), findings=[])
    assert {n.instance_id for n in g.nodes} == {"a", "b"}
    assert len(g.edges_of("collision")) == 2 and not g.edges_of("spawn")
    # each records the other as its parent: a cycle of genuine parent links
    looped = [
        Instance(
            i,
            "Loop",
            "1",
            1,
            other,
            "Running",
            None,
            executions=(
                execution(
                    i,
                    1,
                    [
                        started("Loop", other, 2, 1),
                        SubOrchestrationScheduled(
                            event_id=2, name="Loop", instance=other, input="null"
                        ),
                    ],
                    "Running",
                ),
            ),
        )
        for i, other in (("a", "b"), ("b", "a"))
    ]
    g = build_graph(in_memory_model(looped), findings=[])
    assert {n.instance_id for n in g.nodes} == {"a", "b"}
    assert len(g.edges_of("spawn")) == 2


def test_graph_model_and_dot_import_no_graphviz() -> None:
    ui = ("graphviz", "IPython", "ipywidgets", "textual")
    code = (
        "import sys; from durascope.viz import build_graph, to_dot; import durascope.viz.notebook; "
        f"bad = [m for m in sys.modules if m.split('.')[0] in {ui!r}]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert done.returncode == 0, done.stdout + done.stderr


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.mark.parametrize("name", ["scenarios.bundle.json.gz", "scenarios.redacted.bundle.json.gz"])
def test_bundles_draw_the_same_edges_as_the_store(model: Model, name: str) -> None:
    if not (FIXTURES / name).exists():
        pytest.skip(f"fixtures/{name} not generated")
    bundle = open_model(FIXTURES / name)
    assert Counter(e.kind for e in build_graph(bundle).edges) == Counter(
        e.kind for e in build_graph(model).edges
    )


def test_inferred_evidence_still_draws_the_failures(model: Model) -> None:
    """Without a turn journal (duroxide stores), findings are inferred; the graph follows them."""
    model.load_all()
    stripped = {
        iid: dataclasses.replace(
            inst,
            _turns=(),
            _turn_loader=None,
            executions=tuple(
                dataclasses.replace(e, _events=e.events, _loader=None) for e in inst.executions
            ),
        )
        for iid, inst in model.instances.items()
    }
    inferred = Model(
        origin=Origin(kind="bundle", path="inferred", source_kind="duroxide"), instances=stripped
    )
    g = build_graph(inferred)
    assert {(e.source, e.target) for e in g.edges_of("misrouted")} == {
        (x("legacy-supervisor::sub::2", 1), x("legacy-supervisor", 2)),
        # inferred from the result: execution 2 received the first child's output
        (x("legacy-relay::sub::2", 1), x("legacy-relay", 2)),
    }
    assert (x("fixed-supervisor::sub::2", 1), dropped_node_id("fixed-supervisor")) in {
        (e.source, e.target) for e in g.edges_of("filtered")
    }
    assert len(g.edges_of("collision")) == 3
    assert {"stuck", "waiting"} <= set(g.node(x("legacy-loop", 2)).marks)
