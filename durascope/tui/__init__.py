"""The Textual terminal UI (``durascope tui``); needs the ``tui`` extra.

It draws the graph from :mod:`durascope.viz`'s graph model, never from graphviz.
"""

from durascope.tui.app import DurascopeApp, run_tui

__all__ = ["DurascopeApp", "run_tui"]
