"""Displays of instances with no turns (no executions recorded) and with a single turn."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol

import pytest

from durascope.replay import Instance, SourceError
from durascope.viz._notebook import Displayable, TurnDisplay
from durascope.viz.notebook import Postmortem
from tests.viz import fan_out, in_memory_model

GHOST = "ghost"  # the store says Completed, but holds no execution
SINGLE = "single"  # one execution, one turn: started and completed at once


@pytest.fixture
def pm() -> Postmortem:
    ghost = Instance(GHOST, "Ghost", "1", 1, None, "Completed", None, executions=())
    return Postmortem(in_memory_model([ghost, *fan_out(SINGLE, [])]))


@pytest.fixture(params=["dot", "no dot"])
def graphviz_state(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> bool:
    """Run with the Graphviz `dot` program on PATH (skipped if absent) and without it."""
    if request.param == "no dot":
        monkeypatch.setenv("PATH", str(tmp_path))
        return False
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` not installed")
    return True


class Drawable(Protocol):
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]: ...


def check_bundle(name: str, obj: Drawable, with_dot: bool) -> dict[str, str]:
    bundle = obj._repr_mimebundle_()
    assert bundle["text/plain"] and repr(obj) == bundle["text/plain"], name
    page = bundle["text/html"]
    assert page.startswith('<div class="durascope">'), name
    assert "cannot show this" not in page + bundle["text/plain"], name
    assert "Traceback" not in page + bundle["text/plain"], name
    if with_dot:
        assert "<svg" in bundle["image/svg+xml"] and "<svg" in page, name
    else:
        assert "image/svg+xml" not in bundle, name
        assert "Graph not shown" in page and "apt-get install graphviz" in page, name
    return bundle


def check_bundle_without_graph(name: str, obj: Displayable) -> dict[str, str]:
    bundle = obj._repr_mimebundle_()
    assert "image/svg+xml" not in bundle, name  # nothing to draw, whether or not dot is here
    assert bundle["text/plain"] and "Traceback" not in bundle["text/html"], name
    return bundle


def test_an_instance_without_executions_says_it_has_no_turns(
    pm: Postmortem, graphviz_state: bool
) -> None:
    ghost = pm.instance(GHOST)
    bundle = check_bundle("instance", ghost, graphviz_state)
    assert "no turns" in bundle["text/plain"] and "executions=0" in bundle["text/plain"]
    assert "No executions recorded" in bundle["text/html"]
    assert "no turns" in bundle["text/html"]
    store = check_bundle("store", pm, graphviz_state)
    assert GHOST in store["text/html"]
    # A store that calls an instance Completed but holds no execution of it is damaged.
    found = check_bundle("findings", pm.findings(GHOST), graphviz_state)
    assert found["text/plain"] == (
        "1 findings\nerror malformed_history ghost: instance ghost (completed) has no execution"
    )
    graph = pm.graph(GHOST)
    assert graph is not None
    drawn = check_bundle("graph", graph, graphviz_state)
    assert "no executions recorded" in (drawn.get("image/svg+xml") or ghost.to_dot())


def test_turns_of_an_instance_without_executions_raise_a_clear_index_error(
    pm: Postmortem,
) -> None:
    ghost = pm.instance(GHOST)
    for index in (0, -1, 3):
        with pytest.raises(IndexError, match=r"instance 'ghost' has no turns \(no executions"):
            ghost.turn(index)
    with pytest.raises(ValueError, match="'ghost' has no turns"):
        pm.steps(GHOST)
    with pytest.raises(ValueError, match="'ghost' has no turns"):
        pm.stepper(GHOST)
    with pytest.raises(SourceError, match="'ghost' has no execution 1"):
        ghost.execution()
    with pytest.raises(IndexError, match="'ghost' has no turns"):
        TurnDisplay(pm.session, ghost.timeline(), 0)


def test_a_single_turn_instance_renders_every_display(pm: Postmortem, graphviz_state: bool) -> None:
    inst = pm.instance(SINGLE)
    text = check_bundle("instance", inst, graphviz_state)
    assert "turns=1" in text["text/plain"] and "1 turn:" in text["text/html"]
    assert ".turn(0)" in text["text/html"]
    check_bundle("execution", inst.execution(), graphviz_state)
    first, last = inst.turn(0), inst.turn(-1)
    assert first.index == last.index == 0
    turn = check_bundle("turn", first, graphviz_state)
    assert "1/1" in turn["text/plain"] and "(1 of 1)" in turn["text/html"]
    steps = pm.steps(SINGLE)
    for move in (steps.first, steps.last, steps.step, steps.back, steps.next_finding):
        assert move().index == 0
    check_bundle("steps", steps, graphviz_state)
    check_bundle_without_graph("findings", pm.findings(SINGLE))
    check_bundle("store", pm, graphviz_state)


def test_a_single_turn_instance_rejects_other_turns_by_name_and_range(pm: Postmortem) -> None:
    inst = pm.instance(SINGLE)
    for index in (1, -2, 10):
        with pytest.raises(IndexError, match=r"'single' has 1 turn: .*use 0 to 0, or -1 to -1"):
            inst.turn(index)


def test_two_turns_name_the_range_in_the_error() -> None:
    pm = Postmortem(in_memory_model(fan_out("pair", ["pair-child"])))
    inst = pm.instance("pair")
    count = len(inst.timeline())
    assert count >= 2
    assert inst.turn(-count).index == 0
    with pytest.raises(IndexError, match=rf"'pair' has {count} turns: turn {count} is out"):
        inst.turn(count)


def test_a_single_turn_stepper_is_a_widget_whose_buttons_stay_put(pm: Postmortem) -> None:
    pytest.importorskip("ipywidgets")
    w = pm.stepper(SINGLE)
    assert (w.slider.min, w.slider.max, w.slider.value) == (0, 0, 0)
    for key in ("forward", "last", "back", "first", "next_finding", "previous_finding"):
        assert w.click(key).index == 0, key
    assert "(1 of 1)" in w.status.value and "State after" in w.view.value
    assert "application/vnd.jupyter.widget-view+json" in w._repr_mimebundle_()
