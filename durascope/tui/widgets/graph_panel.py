"""The parent/child graph as text, drawn from viz's graph model (no graphviz)."""

from __future__ import annotations

from collections import defaultdict

from rich.text import Text
from textual.widgets import Static

from durascope.replay import safe_text
from durascope.viz import Graph, GraphEdge, GraphNode

__all__ = ["GraphPanel", "graph_to_text"]

_EDGE_WORDS = {
    "continue_as_new": "continued as new ->",
    "spawn": "started child ->",
    "delivery": "delivered to ->",
    "filtered": "FILTERED ->",
    "misrouted": "MISROUTED ->",
    "collision": "COLLISION ->",
}
_EDGE_STYLE = {
    "filtered": "bold yellow",
    "misrouted": "bold red",
    "collision": "bold magenta",
}


def _node_text(node: GraphNode) -> str:
    if node.kind == "execution":
        status = "continued as new" if node.status == "ContinuedAsNew" else node.status
        marks = (
            f" [{', '.join(m for m in node.marks if m not in ('focus',))}]" if node.marks else ""
        )
        return f"exec {node.execution_id}: {status}{marks}"
    if node.kind == "dropped":
        return "DROPPED (filtered notifications)"
    return " ".join(node.label_lines())


def graph_to_text(graph: Graph) -> Text:
    """Instances as blocks of executions; under each execution, its outgoing edges."""
    out = Text()
    by_instance: dict[str, list[GraphNode]] = defaultdict(list)
    for node in graph.nodes:
        by_instance[node.instance_id].append(node)
    outgoing: dict[str, list[GraphEdge]] = defaultdict(list)
    for edge in graph.edges:
        outgoing[edge.source].append(edge)
    nodes = {n.id: n for n in graph.nodes}
    for instance_id, members in by_instance.items():
        name = next((n.name for n in members if n.name), "")
        out.append(f"{safe_text(instance_id)}", style="bold")
        if name:
            out.append(f"  [{safe_text(name)}]", style="dim")
        out.append("\n")
        for node in members:
            style = "reverse" if node.highlighted else ""
            out.append(f"  {_node_text(node)}\n", style=style)
            for badge in node.badges:
                out.append(
                    f"      ! {badge.text}\n",
                    style="red" if badge.severity == "error" else "yellow",
                )
            for edge in outgoing.get(node.id, []):
                target = nodes.get(edge.target)
                where = (
                    f"{safe_text(target.instance_id)} exec {target.execution_id}"
                    if target is not None and target.execution_id is not None
                    else safe_text(target.instance_id if target else edge.target)
                )
                words = _EDGE_WORDS.get(edge.kind, edge.kind)
                out.append(f"      {words} {where}", style=_EDGE_STYLE.get(edge.kind, ""))
                if edge.label:
                    out.append(f"  ({safe_text(edge.label, 80)})", style="dim")
                out.append("\n")
    return out


class GraphPanel(Static):
    """Shows the instance tree with badges and the failure edges, as text."""

    def show(self, graph: Graph) -> None:
        """Replace the drawing."""
        self.update(graph_to_text(graph))

    def waiting(self) -> None:
        """Before the store is loaded and diagnosed (the graph carries the findings)."""
        self.update(Text("Drawn once the store is loaded and diagnosed…", style="dim"))
