"""Graphs of parent and child executions, and their display.

The graph model (``build_graph`` -> ``Graph``) is plain Python: the TUI draws
from it directly.  ``to_dot`` writes DOT text with no dependency; ``render_svg``
and ``render_png`` need the graphviz package and the ``dot`` program and raise
``RenderError`` (with an install hint) without them.  Notebook display lives in
``durascope.viz.notebook`` (``open(PATH)``), the widget behind the ``notebook``
extra.  Nothing here imports textual, IPython or ipywidgets at import time.
"""

from durascope.viz._dot import quote, to_dot
from durascope.viz._graph import (
    EDGE_KINDS,
    Badge,
    EdgeKind,
    Graph,
    GraphCluster,
    GraphEdge,
    GraphNode,
    NodeKind,
    NodeMark,
    build_graph,
    dropped_node_id,
    execution_node_id,
    execution_status,
)
from durascope.viz._render import (
    INSTALL_HINT,
    RenderError,
    dot_available,
    render,
    render_png,
    render_svg,
    render_to_file,
)

__all__ = [
    # The graph model
    "build_graph",
    "Graph",
    "GraphNode",
    "GraphEdge",
    "GraphCluster",
    "Badge",
    "NodeKind",
    "NodeMark",
    "EdgeKind",
    "EDGE_KINDS",
    "execution_node_id",
    "dropped_node_id",
    "execution_status",
    # DOT
    "to_dot",
    "quote",
    # Rendering
    "render",
    "render_svg",
    "render_png",
    "render_to_file",
    "dot_available",
    "RenderError",
    "INSTALL_HINT",
]
