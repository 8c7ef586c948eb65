"""Run examples/postmortem.ipynb end to end in a real kernel, with and without Graphviz."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "postmortem.ipynb"
FIXTURES = ROOT / "fixtures"
DRAWN = ("open-store", "instance", "first-finding", "findings")  # cells whose output is a graph
WIDGET = "application/vnd.jupyter.widget-view+json"
HAS_WIDGETS = importlib.util.find_spec("ipywidgets") is not None


def test_example_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in nb.cells
        if c.cell_type == "code"
    )


def test_example_notebook_opens_the_fixture_store_with_the_public_entry_point() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "durascope.open(store)" in code
    assert '"fixtures", "scenarios.db"' in code and (FIXTURES / "scenarios.db").exists()
    assert "durascope.viz" not in code and "run_scenarios" not in code and "await" not in code


def _fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def run_notebook(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Execute the notebook with the kernel started in ``cwd``; outputs by cell id."""
    # the kernel is a subprocess: make this checkout importable there too
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), path) if p))
    before = {d: _fingerprint(d) for d in (FIXTURES, NOTEBOOK.parent)}
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    # read-only: the fixture store and the examples folder are left as they were
    assert {d: _fingerprint(d) for d in before} == before
    outputs = {c.id: list(c.outputs) for c in nb.cells if c.cell_type == "code"}
    everything = [o for cell in outputs.values() for o in cell]
    assert not [o for o in everything if o.output_type == "error"]
    for o in everything:
        shown = o.get("text", "") + "".join(str(v) for v in o.get("data", {}).values())
        assert "Traceback" not in shown and "cannot show this" not in shown
    return outputs


def _data(outputs: list[Any]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for o in outputs:
        for mime, value in o.get("data", {}).items():
            merged[mime] = merged.get(mime, "") + (value if isinstance(value, str) else str(value))
    return merged


def _check_findings(outputs: dict[str, list[Any]]) -> None:
    store, turn, found = (_data(outputs[c]) for c in ("open-store", "first-finding", "findings"))
    assert store["text/plain"].startswith("Postmortem(") and "scenarios.db" in store["text/plain"]
    assert "33 instances" in store["text/plain"] and "8 error" in store["text/plain"]
    # the first finding (most severe) shows at its turn
    assert turn["text/plain"].startswith("Turn(instance='deploy-approval'")
    assert "nondeterminism deploy-approval exec 1 #5" in turn["text/plain"]
    assert "Findings at this turn" in turn["text/html"]
    assert found["text/plain"].splitlines()[0] == "17 findings"
    assert "stuck_parent legacy-loop exec 2 #2" in found["text/plain"]
    for kind in (
        "child_id_collision",
        "misrouted_notification",
        "filtered_notification",
        "nondeterminism",
        "stuck_parent",
    ):
        assert kind in found["text/html"] and kind in found["text/plain"]
    instance = _data(outputs["instance"])
    assert instance["text/plain"].startswith("Instance('legacy-loop'")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
def test_example_notebook_shows_graphs_findings_and_the_stepper_widget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outputs = run_notebook(NOTEBOOK.parent, monkeypatch)  # where Jupyter starts the kernel
    for cell in DRAWN:
        data = _data(outputs[cell])
        assert "<svg" in data.get("image/svg+xml", ""), cell
        assert "<svg" in data["text/html"] and "Graph not shown" not in data["text/html"], cell
    assert "MISROUTED" in _data(outputs["open-store"])["image/svg+xml"]
    assert "COLLISION" in _data(outputs["instance"])["image/svg+xml"]
    _check_findings(outputs)
    stepper = _data(outputs["stepper"])
    printed = "".join(o.get("text", "") for o in outputs["stepper"])
    if HAS_WIDGETS:  # the notebook extra installs it: the stepper must be the widget itself
        assert WIDGET in stepper and "model_id" in stepper[WIDGET], outputs["stepper"]
        assert "durascope[notebook]" not in printed
    else:
        assert "durascope[notebook]" in printed


@pytest.mark.slow
def test_example_notebook_without_dot_says_how_to_install_graphviz(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no `dot` (jupyter starts the kernel by full path)
    # started outside examples/: the notebook finds the fixture through the package
    outputs = run_notebook(tmp_path, monkeypatch)
    for cell in DRAWN:
        data = _data(outputs[cell])
        assert "image/svg+xml" not in data and "<svg" not in data["text/html"], cell
        page = data["text/html"]
        assert "Graph not shown" in page and "apt-get install graphviz" in page, cell
        assert ".to_dot()" in page, cell
    _check_findings(outputs)
    if HAS_WIDGETS:
        assert WIDGET in _data(outputs["stepper"])
