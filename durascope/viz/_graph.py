"""The graph model: (instance, execution) nodes and the edges between them.

Plain Python, no graphviz: the DOT writer, the notebook and the TUI all draw
from the same ``Graph``.  Healthy structure (continue-as-new chains, spawns,
deliveries) comes from histories and child links; what went wrong (filtered,
misrouted, stuck) comes from the diagnostics' findings, so the graph and
``durascope diagnose`` never disagree.  Collisions are structural (a schedule
naming an instance another schedule started) and enriched by their finding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from durascope.history import (
    ApplicationError,
    Cancelled,
    OrchestrationFailed,
    SubOrchCompleted,
    SubOrchFailed,
)
from durascope.replay import Execution, Finding, Model, Turn, diagnose, safe_text, select_tree

NodeKind = Literal["execution", "dropped", "missing", "more_executions", "more_children"]
EdgeKind = Literal["continue_as_new", "spawn", "delivery", "filtered", "misrouted", "collision"]
NodeMark = Literal["current", "waiting", "stuck", "collision_hit", "focus", "turn"]
EDGE_KINDS: tuple[EdgeKind, ...] = (
    "continue_as_new",
    "spawn",
    "delivery",
    "filtered",
    "misrouted",
    "collision",
)
LABEL_WIDTH = 48
"""Longest id shown in a label; the full text goes to the tooltip."""


def execution_node_id(instance_id: str, execution_id: int) -> str:
    """The node id of one execution (unambiguous: the execution is the last ``#`` field)."""
    return f"x:{instance_id}#{execution_id}"


def dropped_node_id(instance_id: str) -> str:
    """The node id of an instance's sink for filtered notifications."""
    return f"dropped:{instance_id}"


@dataclass(frozen=True)
class Badge:
    """How many findings of one kind and severity sit on a node."""

    kind: str
    severity: str
    count: int

    @property
    def text(self) -> str:
        """The badge in words, e.g. ``error: stuck parent x2``."""
        times = f" x{self.count}" if self.count > 1 else ""
        return f"{self.severity}: {self.kind.replace('_', ' ')}{times}"


@dataclass(frozen=True)
class GraphNode:
    """One box: an execution, a dropped sink, a missing instance, or a collapsed group.

    Attributes:
        id: Unique node id (see ``execution_node_id``).
        kind: What the node stands for.
        instance_id: The instance it belongs to.
        execution_id: The execution (execution nodes only).
        name: Orchestration name.
        status: ``Completed``, ``Failed``, ``Cancelled``, ``ContinuedAsNew``, ``Running``,
            or for other kinds a word such as ``dropped``.
        execution_count: How many executions the instance has.
        marks: ``current``, ``waiting``, ``stuck``, ``collision_hit``, ``focus``, ``turn``.
        findings: The findings about this node (badges are counted from them).
        notes: Extra label lines, in words (why it is stuck, what a collapse hides...).
        hidden: For collapse nodes, how many executions or children were folded.
    """

    id: str
    kind: NodeKind
    instance_id: str
    execution_id: int | None = None
    name: str = ""
    status: str = ""
    execution_count: int = 0
    marks: tuple[NodeMark, ...] = ()
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    hidden: int = 0

    @property
    def badges(self) -> tuple[Badge, ...]:
        """Findings counted by kind and severity, errors first."""
        counts = Counter((f.kind, f.severity) for f in self.findings)
        order = {"error": 0, "warning": 1, "info": 2}
        return tuple(
            Badge(kind, sev, n)
            for (kind, sev), n in sorted(counts.items(), key=lambda kv: (order[kv[0][1]], kv[0][0]))
        )

    @property
    def highlighted(self) -> bool:
        """Whether the per-turn view's turn ran on this node."""
        return "turn" in self.marks

    def label_lines(self) -> tuple[str, ...]:
        """The node's text, line by line, control characters made visible."""
        iid = safe_text(self.instance_id, LABEL_WIDTH)
        if self.kind == "execution":
            status = "continued as new" if self.status == "ContinuedAsNew" else self.status
            head = [safe_text(self.name, LABEL_WIDTH), iid]
            where = f"exec {self.execution_id} of {self.execution_count}: {status}"
            if "current" in self.marks and self.execution_count > 1:
                where += " (current)"
            lines = [*head, where]
        elif self.kind == "dropped":
            lines = ["DROPPED", f"filtered notifications of {iid}"]
        else:
            lines = [iid]
        lines += [safe_text(n, LABEL_WIDTH + 16) for n in self.notes]
        lines += [b.text for b in self.badges]
        return tuple(lines)

    def tooltip(self) -> str:
        """Full ids and the findings' sentences (for hover text)."""
        parts = [safe_text(self.instance_id)]
        if self.execution_id is not None:
            parts[0] += f" execution {self.execution_id}"
        parts += [safe_text(f"{f.severity} {f.kind}: {f.message}") for f in self.findings]
        return "\n".join(parts)


@dataclass(frozen=True)
class GraphEdge:
    """A directed edge; ``label`` says in words what colour and line style also show.

    Attributes:
        source: Node id.
        target: Node id.
        kind: One of ``EDGE_KINDS``.
        label: The edge's text.
        event_id: The schedule's event id in the parent execution, when there is one.
        child_instance: The child the edge concerns, when there is one.
        severity: The severity of the finding behind it, for failure edges.
        highlighted: Whether the per-turn view's turn made this edge.
        failed: For a delivery, whether it carried the child's failure.
    """

    source: str
    target: str
    kind: EdgeKind
    label: str
    event_id: int | None = None
    child_instance: str | None = None
    severity: str | None = None
    highlighted: bool = False
    failed: bool = False


@dataclass(frozen=True)
class GraphCluster:
    """The nodes of one instance that has more than one (its chain of executions)."""

    id: str
    instance_id: str
    label: str
    node_ids: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class Graph:
    """Nodes, edges and per-instance clusters, ready for any renderer."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    clusters: tuple[GraphCluster, ...]
    title: str
    focus: tuple[str, ...] = ()
    turn: Turn | None = None

    @cached_property
    def _by_id(self) -> dict[str, GraphNode]:
        return {n.id: n for n in self.nodes}

    def node(self, node_id: str) -> GraphNode:
        """A node by id.

        Raises:
            KeyError: No such node.
        """
        return self._by_id[node_id]

    def execution_node(self, instance_id: str, execution_id: int) -> GraphNode | None:
        """The node of one execution, or None when it is not drawn (collapsed or outside focus)."""
        return self._by_id.get(execution_node_id(instance_id, execution_id))

    def edges_of(self, kind: EdgeKind) -> tuple[GraphEdge, ...]:
        """The edges of one kind."""
        return tuple(e for e in self.edges if e.kind == kind)

    def to_dot(self) -> str:
        """DOT source for this graph (needs no graphviz)."""
        from durascope.viz._dot import to_dot

        return to_dot(self)

    def __repr__(self) -> str:
        kinds = Counter(e.kind for e in self.edges)
        edges = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        return f"Graph({len(self.nodes)} nodes, {len(self.edges)} edges: {edges or 'none'})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from durascope.viz._notebook import GraphDisplay  # display code stays out of the model

        return GraphDisplay(self)._repr_mimebundle_(include, exclude)


def execution_status(execution: Execution) -> str:
    """An execution's status read from its history (stores may say Running for a continued one)."""
    for event in reversed(execution.events):
        if event.type == "OrchestrationCompleted":
            return "Completed"
        if event.type == "OrchestrationContinuedAsNew":
            return "ContinuedAsNew"
        if isinstance(event, OrchestrationFailed):
            details = event.details
            cancelled = isinstance(details, ApplicationError) and isinstance(
                details.kind, Cancelled
            )
            return "Cancelled" if cancelled else "Failed"
    return execution.status


def build_graph(
    model: Model,
    *,
    focus: str | Iterable[str] | None = None,
    findings: Iterable[Finding] | None = None,
    max_executions: int = 6,
    max_children: int = 12,
    turn: Turn | None = None,
) -> Graph:
    """Build the graph of a model (or of the trees holding ``focus``).

    Args:
        model: The opened store or bundle.
        focus: An instance id (or several): draw only their trees, plus the instances
            their findings name (such as the holder of a colliding child id).
        findings: Findings to draw; ``None`` runs ``diagnose(model)``.
        max_executions: Per instance, executions beyond this fold into one
            "+N more executions" node (the first, the last ones and any with a
            finding stay).
        max_children: Per execution, children beyond this fold into one
            "+N more children" node (children with findings stay).
        turn: Highlight what this turn changed (its execution and edges).

    Raises:
        ValueError: A limit below 2 executions or 1 child.
        SourceError: A focus id that is not in the model.
    """
    if max_executions < 2 or max_children < 1:
        raise ValueError("max_executions must be at least 2 and max_children at least 1")
    focus_ids = () if focus is None else ((focus,) if isinstance(focus, str) else tuple(focus))
    selected: list[str] = [] if focus_ids else list(model.instances)
    chosen = set(selected)
    for fid in focus_ids:
        for iid in select_tree(model, fid):
            if iid not in chosen:
                selected.append(iid)
                chosen.add(iid)
    relevant = [
        f
        for f in (diagnose(model) if findings is None else findings)
        if not focus_ids or f.instance in chosen or any(r.instance in chosen for r in f.related)
    ]
    for f in relevant:  # context: the instance a collision hit, the holder of its id...
        for iid in (f.instance, *(r.instance for r in f.related)):
            if iid in model.instances and iid not in chosen:
                selected.append(iid)
                chosen.add(iid)
    title = f"{model.origin.kind} {model.origin.path}"
    if focus_ids:
        title += " - focus: " + ", ".join(focus_ids)
    from durascope.viz._build import GraphBuilder  # the builder needs these classes: import late

    builder = GraphBuilder(
        model, selected, relevant, (max_executions, max_children), turn, set(focus_ids)
    )
    return builder.build(safe_text(title, 160), focus_ids)


COMPLETIONS = ("SubOrchestrationCompleted", "SubOrchestrationFailed")


@dataclass(frozen=True)
class TurnChange:
    """What one turn changed, in terms the graph's edges can be matched against."""

    instance_id: str
    node: str
    scheduled: frozenset[int]
    received: frozenset[int]
    continued: bool
    started_new: bool
    notified: frozenset[tuple[str, int, int]]
    finished_child: bool

    @classmethod
    def of(cls, turn: Turn) -> TurnChange:
        """Read a turn's delta, messages and sent work items."""
        types = {e.type for e in turn.delta}
        return cls(
            instance_id=turn.instance_id,
            node=execution_node_id(turn.instance_id, turn.execution_id),
            scheduled=frozenset(
                e.event_id for e in turn.delta if e.type == "SubOrchestrationScheduled"
            ),
            received=frozenset(
                e.source_event_id for e in turn.delta if e.type in COMPLETIONS and e.source_event_id
            ),
            continued="OrchestrationContinuedAsNew" in types,
            started_new="OrchestrationStarted" in types and turn.execution_id > 1,
            notified=frozenset(
                (m.parent_instance, m.parent_execution_id, m.parent_id)
                for v in turn.messages
                if isinstance(m := v.message, SubOrchCompleted | SubOrchFailed)
            ),
            finished_child=any(
                isinstance(s.item, SubOrchCompleted | SubOrchFailed) for s in turn.sent
            ),
        )

    def scheduled_here(self, source: str, event_id: int) -> bool:
        """A spawn or collision edge made by this turn's schedule."""
        return source == self.node and event_id in self.scheduled

    def answered(self, child: str | None, key: tuple[str, int, int] | None = None) -> bool:
        """A child's answer this turn sent (the child's turn) or received (the parent's turn)."""
        return (child == self.instance_id and self.finished_child) or key in self.notified

    def chained(self, source: str, target: str) -> bool:
        """A continue-as-new edge this turn ended or started."""
        return (source == self.node and self.continued) or (
            target == self.node and self.started_new
        )
