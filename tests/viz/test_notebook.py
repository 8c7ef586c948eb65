"""Notebook reprs with and without ``dot``, escaping, the stepper, and ``render_to_file``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from durascope.replay import Model, open_model
from durascope.viz import RenderError, render_svg, render_to_file
from durascope.viz._notebook import Displayable
from durascope.viz.notebook import Postmortem
from durascope.viz.notebook import open as open_store
from tests.viz import demo_store, fan_out, in_memory_model

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")


@pytest.fixture(scope="module")
def pm() -> Postmortem:
    return open_store(demo_store())


@pytest.fixture
def no_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PATH without the Graphviz executables (how a fresh machine looks)."""
    monkeypatch.setenv("PATH", str(tmp_path))


def every_display(pm: Postmortem) -> dict[str, Displayable]:
    inst = pm.instance("legacy-loop")
    return {
        "store": pm,
        "instance": inst,
        "execution": inst.execution(2),
        "turn": inst.turn(-1),
        "findings": pm.findings(),
        "graph": pm.graph("fixed-supervisor"),  # type: ignore[dict-item]
        "steps": pm.steps("legacy-loop"),
    }


@needs_dot
def test_every_object_renders_svg_html_and_text(pm: Postmortem) -> None:
    for name, obj in every_display(pm).items():
        bundle = obj._repr_mimebundle_()
        assert set(bundle) == {"image/svg+xml", "text/html", "text/plain"}, name
        assert "<svg" in bundle["image/svg+xml"], name
        assert "<svg" in bundle["text/html"], name  # front-ends prefer HTML, so it embeds the graph
        assert "<?xml" not in bundle["text/html"], name
        assert "Traceback" not in bundle["text/html"] + bundle["text/plain"], name
        assert bundle["text/plain"] and repr(obj) == bundle["text/plain"], name
    store = pm._repr_mimebundle_()
    assert store["text/plain"].startswith("Postmortem(") and "8 error" in store["text/plain"]
    assert "child_id_collision" in store["text/html"] and "legacy-loop" in store["text/html"]
    findings = pm.findings()._repr_mimebundle_()["text/plain"]
    assert (
        findings.splitlines()[0] == "17 findings"
        and "stuck_parent legacy-loop exec 2 #2" in findings
    )


def test_without_dot_the_html_says_how_to_install_graphviz(pm: Postmortem, no_dot: None) -> None:
    for name, obj in every_display(pm).items():
        bundle = obj._repr_mimebundle_()
        assert "image/svg+xml" not in bundle, name
        page = bundle["text/html"]
        assert (
            "Graph not shown" in page and "Graphviz" in page and "apt-get install graphviz" in page
        ), name
        assert ".to_dot()" in page and "Traceback" not in page, name
        assert bundle["text/plain"], name
    assert "digraph" in pm.instance("legacy-loop").to_dot()  # DOT needs nothing installed
    with pytest.raises(RenderError, match="apt-get install graphviz"):
        render_svg(pm.graph("legacy-loop") or "")


def test_without_the_graphviz_package_the_hint_names_the_extra(
    pm: Postmortem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    bundle = pm.instance("fixed-supervisor")._repr_mimebundle_()
    assert "image/svg+xml" not in bundle
    assert "durascope[viz]" in bundle["text/html"]


def test_reprs_never_raise() -> None:
    class Broken(Displayable):
        def graph(self) -> None:
            raise RuntimeError("store vanished <gone>")

        def summary_html(self) -> str:
            raise OSError("disk")

        def summary_text(self) -> str:
            raise ValueError("nope")

    bundle = Broken()._repr_mimebundle_()
    assert "store vanished &lt;gone&gt;" in bundle["text/html"] and "disk" in bundle["text/html"]
    assert "nope" in bundle["text/plain"] and "nope" in repr(Broken())


def test_include_and_exclude_filter_the_bundle(pm: Postmortem) -> None:
    inst = pm.instance("legacy-loop")
    assert set(inst._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert "text/html" not in inst._repr_mimebundle_(exclude=["text/html"])


def test_data_is_html_escaped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # keep to the HTML path
    evil = "<script>alert(1)</script>"
    pm = Postmortem(in_memory_model(fan_out(evil, ["<img src=x onerror=alert(2)>"])))
    for obj in (pm, pm.instance(evil), pm.instance(evil).execution(1), pm.findings()):
        page = obj._repr_mimebundle_()["text/html"]
        assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in pm._repr_mimebundle_()["text/html"]


def test_steps_go_to_the_first_finding(pm: Postmortem) -> None:
    steps = pm.steps("fixed-supervisor")
    turn = steps.next_finding()
    assert [v.verdict for v in turn.turn.messages] == ["filtered"]
    assert [f.kind for f in turn.findings()] == ["filtered_notification"]
    assert "filtered_notification" in turn.summary_text()
    html = turn.summary_html()
    assert "filtered" in html and "other execution" in html and "State after" in html
    assert steps.next_finding().index == turn.index  # no later finding: stays put
    legacy = pm.steps("legacy-loop")
    assert legacy.next_finding().index == 2 and legacy.first().index == 0


def test_widget_steps_with_slider_and_buttons(pm: Postmortem) -> None:
    pytest.importorskip("ipywidgets")
    w = pm.stepper("fixed-supervisor")
    assert w.slider.max == len(w.steps) - 1 and w.slider.value == 0
    w.click("next_finding")
    assert w.slider.value == 3 and "finding" in w.status.value
    assert "filtered" in w.view.value
    w.slider.value = 1  # the slider drives the cursor
    assert w.steps.stepper.position == 1 and "turn 2 (2 of 5)" in w.status.value
    w.click("last")
    assert w.slider.value == 4
    w.click("back")
    assert w.steps.stepper.position == 3
    assert "application/vnd.jupyter.widget-view+json" in w._repr_mimebundle_()


def test_render_to_file_picks_the_format_from_the_suffix(tmp_path: Path) -> None:
    model: Model = open_model(demo_store())
    render_to_file(model, "legacy-loop", tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    with pytest.raises(ValueError, match=r"use \.dot, \.svg or \.png"):
        render_to_file(model, "legacy-loop", tmp_path / "g.pdf")
    if shutil.which("dot"):
        render_to_file(model, "legacy-loop", tmp_path / "g.svg")
        render_to_file(model, "legacy-loop", tmp_path / "g.png")
        assert "<svg" in (tmp_path / "g.svg").read_text()
        assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")


def test_render_to_file_without_dot_writes_nothing(tmp_path: Path, no_dot: None) -> None:
    model = open_model(demo_store())
    with pytest.raises(RenderError, match="install Graphviz"):
        render_to_file(model, "legacy-loop", tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
