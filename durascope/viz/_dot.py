"""Graph -> DOT source, written by hand so no graphviz package or binary is needed.

Ids and payloads come from production stores, so nothing from the data is ever
used as a DOT identifier: nodes are numbered ``n0, n1, ...`` and the data only
appears inside quoted strings, escaped by ``quote``.  Meaning is carried three
ways at once: colour (Okabe-Ito, safe for colour-blind readers), line style or
shape, and the label's words.
"""

from __future__ import annotations

import re

from durascope.viz._graph import EdgeKind, Graph, GraphEdge, GraphNode

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE, GREY = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#666666",
)

STATUS_STYLE: dict[str, tuple[str, str]] = {
    # status -> (fill, border); the status word is in the label too
    "Completed": ("#D9F0E8", GREEN),
    "Failed": ("#F8D9C6", VERMILLION),
    "Cancelled": ("#F2DDEA", PURPLE),
    "ContinuedAsNew": ("#EEEEEE", GREY),
    "Running": ("#DCEBF7", BLUE),
}

EDGE_STYLE: dict[EdgeKind, dict[str, str]] = {
    "continue_as_new": {"color": GREY, "style": "bold", "arrowhead": "normal"},
    "spawn": {"color": BLUE, "style": "solid", "arrowhead": "normal"},
    "delivery": {"color": GREEN, "style": "dashed", "arrowhead": "empty"},
    "filtered": {"color": GREY, "style": "dotted", "arrowhead": "tee", "penwidth": "1.5"},
    "misrouted": {
        "color": VERMILLION,
        "style": "bold,dashed",
        "arrowhead": "diamond",
        "penwidth": "2",
    },
    "collision": {"color": PURPLE, "style": "bold", "arrowhead": "odot", "penwidth": "2"},
}


def quote(text: object) -> str:
    r"""A DOT double-quoted string that shows ``text`` literally.

    Control characters (newlines, escape sequences) become visible ``\xNN``;
    backslashes are doubled so graphviz's label escapes (``\N``, ``\G``, ``\l``)
    cannot be triggered by data; quotes are escaped; unpaired surrogates are
    replaced so the output is always valid UTF-8.
    """
    return f'"{_escape(text)}"'


def _escape(text: object) -> str:
    value = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    value = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _label(lines: tuple[str, ...] | list[str]) -> str:
    r"""Several lines as one quoted label; the ``\n`` breaks are ours, never the data's."""
    return '"' + "\\n".join(_escape(line) for line in lines) + '"'


def _attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in attrs.items())


def node_attributes(node: GraphNode) -> dict[str, str]:
    """DOT attributes of a node (values already quoted)."""
    fill, border = STATUS_STYLE.get(node.status, ("#FFFFFF", GREY))
    styles = ["rounded", "filled"]
    shape, width = "box", "1"
    if node.kind == "dropped":
        shape, fill, border, styles = "octagon", "#FFFFFF", GREY, ["filled", "dashed"]
    elif node.kind == "missing":
        fill, styles = "#FFFFFF", ["rounded", "filled", "dotted"]
    elif node.kind in ("more_executions", "more_children"):
        shape, fill = "folder", "#F5F5F5"
        styles = ["filled"]
    if "waiting" in node.marks:
        styles.append("dashed")
    if "stuck" in node.marks:
        fill, border, width = "#FBE3B0", ORANGE, "3"
        styles = [s for s in styles if s != "dashed"] + ["bold"]
    if any(b.severity == "error" for b in node.badges) and "stuck" not in node.marks:
        width = "2.5"
    if "focus" in node.marks:
        width = str(max(float(width), 2.0))
    if "turn" in node.marks:
        border, width = ORANGE, "4"
    return {
        "label": _label(node.label_lines()),
        "shape": shape,
        "style": quote(",".join(dict.fromkeys(styles))),
        "fillcolor": quote(fill),
        "color": quote(border),
        "penwidth": width,
        "tooltip": _label(node.tooltip().split("\n")),
    }


def edge_attributes(edge: GraphEdge) -> dict[str, str]:
    """DOT attributes of an edge (values already quoted)."""
    style = dict(EDGE_STYLE[edge.kind])
    if edge.failed:
        style["color"] = VERMILLION
    if edge.highlighted:
        style["penwidth"] = "4"
        style["style"] = style["style"] if "bold" in style["style"] else style["style"] + ",bold"
    out = {"label": quote(edge.label), "tooltip": quote(edge.label)}
    out.update({k: quote(v) for k, v in style.items()})
    out["fontcolor"] = quote(style["color"])
    if edge.kind in ("misrouted", "collision"):
        out["constraint"] = "false"  # cross-tree edges must not drag the layout around
    if drawn_reversed(edge):
        out["dir"] = "back"
        out["arrowtail"] = out.pop("arrowhead")
        out["arrowhead"] = quote("none")
    return out


def drawn_reversed(edge: GraphEdge) -> bool:
    """Whether DOT writes the edge target -> source with ``dir=back`` (the arrow unchanged).

    A misrouted completion runs child -> parent while the collision that usually
    comes with it (the same execution rescheduling the same child id) runs
    parent -> child.  Dot lays two unconstrained edges of opposite directions
    between the same nodes on one line, labels on top of each other; written in
    the same direction they become parallel edges with separate labels.
    """
    return edge.kind == "misrouted"


def to_dot(graph: Graph) -> str:
    """The DOT source of a graph."""
    ids = {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}
    out = [
        "digraph durascope {",
        f"  graph [rankdir=TB, newrank=true, fontname=Helvetica, fontsize=11, labelloc=t, "
        f"label={quote(graph.title)}, tooltip={quote(graph.title)}];",
        '  node [fontname=Helvetica, fontsize=10, margin="0.12,0.06"];',
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    clustered: set[str] = set()
    for cluster in graph.clusters:
        clustered.update(cluster.node_ids)
        out.append(f"  subgraph {cluster.id} {{")
        out.append(
            f"    graph [label={quote(cluster.label)}, "
            'style="rounded,dashed", color="#999999", fontsize=9];'
        )
        for node_id in cluster.node_ids:
            out.append(f"    {ids[node_id]} [{_attrs(node_attributes(graph.node(node_id)))}];")
        out.append("  }")
    for node in graph.nodes:
        if node.id not in clustered:
            out.append(f"  {ids[node.id]} [{_attrs(node_attributes(node))}];")
    for edge in graph.edges:
        tail, head = (
            (edge.target, edge.source) if drawn_reversed(edge) else (edge.source, edge.target)
        )
        out.append(f"  {ids[tail]} -> {ids[head]} [{_attrs(edge_attributes(edge))}];")
    out.append("}")
    return "\n".join(out) + "\n"
