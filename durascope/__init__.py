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

    Synchronous and safe inside a running event loop (a Jupyter cell): stores
    are read with the standard library's sqlite3, read-only, and no event loop
    is started or driven.  The returned object and everything it hands out
    render themselves in a notebook.

    Args:
        path: The store's SQLite file (keep a duroxide store's ``-wal`` beside it)
            or a bundle (``.json`` or ``.json.gz``).  Nothing is written to it.

    Returns:
        The post-mortem: its graph, instances, turns, findings and steppers.

    Raises:
        SourceError: The file is missing or is not a store or bundle (one line).
    """
    from durascope.viz.notebook import open as open_postmortem

    return open_postmortem(path)
