"""The layering at run time: importing the core loads no UI library (harlequin's check)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UI = ["textual", "graphviz", "IPython", "ipywidgets", "rich"]


def loaded_after(imports: list[str]) -> set[str]:
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in imports)
        + f"print(json.dumps(sorted(m for m in {UI!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize(
    "module",
    [
        "durascope",
        "durascope.history",
        "durascope.runtime",
        "durascope.compat.duroxide",
        "durascope.replay",
        "durascope.scenarios",
    ],
)
def test_core_imports_no_ui_library(module: str) -> None:
    assert loaded_after([module]) == set()


def test_viz_graph_model_imports_no_textual_nor_renderers() -> None:
    assert loaded_after(["durascope.viz"]) == set()


def test_tui_imports_no_graphviz_or_notebook_libraries() -> None:
    assert loaded_after(["durascope.tui"]) == {"textual", "rich"}


def test_cli_help_works_without_loading_ui_libraries() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from durascope.cli import build_parser; "
            "build_parser().format_help(); print(sorted(m for m in ('textual', 'graphviz') "
            "if m in sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "[]"


def test_python_dash_m_durascope_is_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "durascope", "diagnose", "/nonexistent/store.db"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("durascope: error: ") and proc.stderr.count("\n") == 1
