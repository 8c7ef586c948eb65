"""durascope: a durable orchestration runtime with duroxide's semantics, and a debugger.

- :mod:`durascope.history` — duroxide's events, work items and turn records;
- :mod:`durascope.runtime` — the replay engine, store, dispatchers and client;
- :mod:`durascope.compat.duroxide` — the duroxide-python compatible facade;
- :mod:`durascope.replay` — open stores and bundles, timelines, diagnostics;
- :mod:`durascope.viz` / :mod:`durascope.tui` — graphs, notebooks, terminal UI.

``durascope.open(path)`` is the notebook entry point (safe inside Jupyter's loop).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from durascope.viz.notebook import Postmortem

__version__ = "0.1.0"

__all__ = ["__version__", "open"]


def open(path: str | Path) -> Postmortem:
    """Open a durascope store, a duroxide store or a bundle for a postmortem.

    Synchronous and safe inside a running event loop (Jupyter).  The returned
    object and everything it hands out render themselves in a notebook.
    """
    from durascope.viz.notebook import open as open_postmortem

    return open_postmortem(path)
