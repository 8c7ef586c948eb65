"""Assembling a ``Graph``: place instances breadth-first from the roots, then draw edges.

Separate from the graph model so the model stays small to read; ``build_graph``
in ``_graph`` is the entry point.  Placement decides what is drawn (collapsing
executions and children past the limits, keeping anything a finding names);
edges are only drawn between placed nodes.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass

from durascope.replay import ChildLink, Finding, Model, Turn, fold, safe_text
from durascope.viz._graph import (
    COMPLETIONS,
    LABEL_WIDTH,
    EdgeKind,
    Graph,
    GraphCluster,
    GraphEdge,
    GraphNode,
    NodeMark,
    TurnChange,
    dropped_node_id,
    execution_node_id,
    execution_status,
)

COLLISIONS_LISTED = 3
"""Colliding schedules listed on the node they hit; more are counted."""


@dataclass
class _Draft:
    """A node under construction (marks and findings arrive after placement)."""

    node: GraphNode
    marks: list[NodeMark]
    findings: list[Finding]
    notes: list[str]


class GraphBuilder:
    """Places instances breadth-first from the roots, then draws edges between placed nodes."""

    def __init__(
        self,
        model: Model,
        selected: list[str],
        findings: list[Finding],
        limits: tuple[int, int],
        turn: Turn | None,
        focus: set[str],
    ) -> None:
        self.model, self.selected, self.findings, self.focus = model, selected, findings, focus
        self.max_executions, self.max_children = limits
        self.touch = TurnChange.of(turn) if turn is not None else None
        self.turn = turn
        self.drafts: dict[str, _Draft] = {}
        self.edges: list[GraphEdge] = []
        self.placed: dict[tuple[str, int], str] = {}  # (instance, execution) -> node drawing it
        self.first: dict[str, str] = {}
        self.last: dict[str, str] = {}
        self.spawns: list[tuple[str, ChildLink]] = []
        chosen = set(selected)
        self.tree: dict[str, ChildLink] = {}
        for iid in selected:
            link = model.scheduling_link(iid)
            # a link the child never recorded (a root hit by a schedule) is a collision,
            # not a spawn
            owned = link is not None and (
                link.points_back or (link.child_parent or (None,))[0] == link.parent_instance
            )
            if (
                link is not None
                and owned
                and link.parent_instance in chosen
                and link.parent_instance != iid
            ):
                self.tree[iid] = link
        self.kids: dict[tuple[str, int], list[ChildLink]] = defaultdict(list)
        for link in sorted(
            model.child_links, key=lambda k: (k.parent_instance, k.parent_execution, k.event_id)
        ):
            if link.parent_instance in chosen and (
                not link.child_exists or self.tree.get(link.child_instance) == link
            ):
                self.kids[(link.parent_instance, link.parent_execution)].append(link)
        self.receipts: dict[tuple[str, int], dict[int | None, str]] = {}
        self.collisions = {
            (f.instance, f.execution, f.event_id): f
            for f in findings
            if f.kind == "child_id_collision"
        }
        self.misrouted = {
            (f.instance, f.execution, f.event_id)
            for f in findings
            if f.kind == "misrouted_notification"
        }
        self.pinned = {(f.instance, f.execution) for f in findings} | {
            (r.instance, r.execution) for f in findings for r in f.related
        }
        self.pinned_instances = {iid for iid, _ in self.pinned}
        for iid in list(self.pinned_instances):  # keep the way down to anything a finding names
            walked: set[str] = set()
            while iid in self.tree and iid not in walked:
                walked.add(iid)
                up = self.tree[iid]
                self.pinned.add((up.parent_instance, up.parent_execution))
                self.pinned_instances.add(up.parent_instance)
                iid = up.parent_instance
        if turn is not None:
            self.pinned.add((turn.instance_id, turn.execution_id))

    def build(self, title: str, focus: tuple[str, ...]) -> Graph:
        seen: set[str] = set()
        for start in [i for i in self.selected if i not in self.tree] + self.selected:
            if start in seen or (start in self.tree and not self._in_cycle(start)):
                continue  # the second pass only reaches cycles of parent links (hostile data)
            queue = deque([start])
            while queue:
                iid = queue.popleft()
                if iid not in seen:
                    seen.add(iid)
                    queue.extend(self._place_instance(iid))
        self._structural_edges()
        self._finding_edges()
        self._marks()
        nodes = tuple(
            GraphNode(
                **{
                    **d.node.__dict__,
                    "marks": tuple(dict.fromkeys(d.marks)),
                    "findings": tuple(d.findings),
                    "notes": (*d.node.notes, *d.notes),
                }
            )
            for d in self.drafts.values()
        )
        groups: dict[str, list[str]] = defaultdict(list)
        for n in nodes:
            groups[n.instance_id].append(n.id)
        clusters = tuple(
            GraphCluster(f"cluster_{i}", iid, safe_text(iid, LABEL_WIDTH), tuple(ids))
            for i, (iid, ids) in enumerate(groups.items())
            if len(ids) > 1
        )
        return Graph(nodes, tuple(self.edges), clusters, title, focus, self.turn)

    def _in_cycle(self, iid: str) -> bool:
        """Whether climbing parent links from ``iid`` never reaches a root."""
        walked: set[str] = set()
        while iid in self.tree and iid not in walked:
            walked.add(iid)
            iid = self.tree[iid].parent_instance
        return iid in walked

    def _add(self, node: GraphNode) -> str:
        if node.id not in self.drafts:
            self.drafts[node.id] = _Draft(node, [], [], [])
        return node.id

    def _missing(self, iid: str, status: str, note: str, name: str = "") -> str:
        """A box for an instance with no execution to draw (never started, unknown, empty)."""
        return self._add(
            GraphNode(f"missing:{iid}", "missing", iid, name=name, status=status, notes=(note,))
        )

    def _edge(
        self, source: str, target: str, kind: EdgeKind, label: str, hl: bool = False, **kw: object
    ) -> None:
        if source in self.drafts and target in self.drafts:
            text = f"[this turn] {label}" if hl else label
            self.edges.append(GraphEdge(source, target, kind, text, highlighted=hl, **kw))  # type: ignore[arg-type]

    def _place_instance(self, iid: str) -> list[str]:
        inst = self.model.instances[iid]
        execs = sorted(inst.executions, key=lambda e: e.execution_id)
        if not execs:
            nid = self._missing(iid, inst.status, "no executions recorded", inst.orchestration_name)
            self.first[iid] = self.last[iid] = nid
            return []
        count, limit = len(execs), self.max_executions
        keep = {0, *range(count - (limit - 1), count)} if count > limit else set(range(count))
        keep |= {i for i, ex in enumerate(execs) if (iid, ex.execution_id) in self.pinned}
        children: list[str] = []
        previous: str | None = None
        i = 0
        while i < count:
            if i in keep:
                ex = execs[i]
                nid = self._add(
                    GraphNode(
                        execution_node_id(iid, ex.execution_id),
                        "execution",
                        iid,
                        ex.execution_id,
                        name=ex.started.name if ex.started else inst.orchestration_name,
                        status=execution_status(ex),
                        execution_count=count,
                    )
                )
                self.placed[(iid, ex.execution_id)] = nid
                children += self._place_children(iid, ex.execution_id, nid)
                span, i = 1, i + 1
            else:
                run = [execs[i]]
                while i + len(run) < count and i + len(run) not in keep:
                    run.append(execs[i + len(run)])
                a, b = run[0].execution_id, run[-1].execution_id
                hidden_kids = sum(len(self.kids.get((iid, ex.execution_id), ())) for ex in run)
                notes = [f"+{len(run)} more executions ({a}-{b})"]
                if hidden_kids:
                    notes.append(f"with {hidden_kids} children not shown")
                nid = self._add(
                    GraphNode(
                        f"more-executions:{iid}#{a}-{b}",
                        "more_executions",
                        iid,
                        status="collapsed",
                        notes=tuple(notes),
                        hidden=len(run),
                    )
                )
                for ex in run:
                    self.placed[(iid, ex.execution_id)] = nid
                span, i = len(run), i + len(run)
            if previous is not None:
                hl = self.touch is not None and self.touch.chained(previous, nid)
                label = "continued as new" + (f" x{span}" if span > 1 else "")
                self._edge(previous, nid, "continue_as_new", label, hl)
            previous = nid
            self.first.setdefault(iid, nid)
            self.last[iid] = nid
        return children

    def _place_children(self, iid: str, execution_id: int, source: str) -> list[str]:
        links = self.kids.get((iid, execution_id), [])
        pinned = [k.child_instance in self.pinned_instances for k in links]
        room = max(self.max_children - sum(pinned), 0)
        unpinned_rank = 0
        shown: list[ChildLink] = []
        hidden: list[ChildLink] = []
        for link, pin in zip(links, pinned, strict=True):
            keep = pin or unpinned_rank < room
            unpinned_rank += 0 if pin else 1
            (shown if keep else hidden).append(link)
        for link in shown:
            self.spawns.append((source, link))
        if hidden:
            statuses = Counter(
                self.model.instances[k.child_instance].status if k.child_exists else "not started"
                for k in hidden
            )
            nid = self._add(
                GraphNode(
                    f"more-children:{iid}#{execution_id}",
                    "more_children",
                    iid,
                    status="collapsed",
                    notes=(
                        f"+{len(hidden)} more children",
                        ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())),
                    ),
                    hidden=len(hidden),
                )
            )
            self._edge(source, nid, "spawn", f"spawned {len(hidden)} more children")
        return [k.child_instance for k in shown if k.child_exists]

    def _structural_edges(self) -> None:
        touch = self.touch
        for source, link in self.spawns:
            child = link.child_instance
            if not link.child_exists:
                pending = any(m.instance_id == child for m in self.model.pending)
                self._missing(
                    child, "not started", "start pending" if pending else "never started", link.name
                )
            target = self.first.get(child, f"missing:{child}")
            hl = touch is not None and touch.scheduled_here(source, link.event_id)
            self._edge(
                source,
                target,
                "spawn",
                f"spawn #{link.event_id}: {safe_text(child, LABEL_WIDTH)}",
                hl,
                event_id=link.event_id,
                child_instance=child,
            )
            if link.child_exists and child in self.last:
                self._delivery(source, link)
        claims: dict[str, list[str]] = defaultdict(list)  # hit node -> the schedules that hit it
        for link in self.model.child_links:
            source = self.placed.get((link.parent_instance, link.parent_execution), "")
            if (
                not link.child_exists
                or self.tree.get(link.child_instance) == link
                or link.child_instance not in self.first
            ):
                continue
            found = self.collisions.get(
                (link.parent_instance, link.parent_execution, link.event_id)
            )
            fast = (
                found is not None and found.severity == "warning"
            )  # the fix fails the parent fast
            outcome = "failed fast" if fast else "start discarded"
            hl = touch is not None and touch.scheduled_here(source, link.event_id)
            self._edge(
                source,
                self.first[link.child_instance],
                "collision",
                f"COLLISION #{link.event_id}: id already taken ({outcome})",
                hl,
                event_id=link.event_id,
                child_instance=link.child_instance,
                severity=found.severity if found else "error",
            )
            claims[self.first[link.child_instance]].append(
                f"{link.parent_instance} exec {link.parent_execution} #{link.event_id}"
            )
        for node_id, claimed_by in claims.items():
            self._mark_collisions(node_id, claimed_by)

    def _mark_collisions(self, node_id: str, claimed_by: list[str]) -> None:
        """Mark the instance colliding schedules hit, with each claim (a count past a few)."""
        draft = self.drafts.get(node_id)
        if draft is None:
            return
        if "collision_hit" not in draft.marks:
            draft.marks.append("collision_hit")
        if len(claimed_by) == 1:
            draft.notes.append(f"id also claimed by {claimed_by[0]}")
            return
        shown = claimed_by[:COLLISIONS_LISTED]
        draft.notes.append(f"id also claimed by {len(claimed_by)} other schedules:")
        draft.notes += [f"- {claim}" for claim in shown]
        if len(claimed_by) > len(shown):
            draft.notes.append(f"- and {len(claimed_by) - len(shown)} more")

    def _delivery(self, target: str, link: ChildLink) -> None:
        key = (link.parent_instance, link.parent_execution)
        if key not in self.receipts:  # indexed once per execution: fan-outs can be wide
            ex = self.model.instances[link.parent_instance].execution(link.parent_execution)
            self.receipts[key] = {
                e.source_event_id: e.type for e in ex.events if e.type in COMPLETIONS
            }
        got = self.receipts[key].get(link.event_id)
        if got is None or (*key, link.event_id) in self.misrouted:
            return  # never answered, or answered by a completion that was not this child's
        word = "completed" if got == "SubOrchestrationCompleted" else "failed"
        touch = self.touch
        hl = touch is not None and (
            (target == touch.node and link.event_id in touch.received)
            or touch.answered(link.child_instance)
        )
        self._edge(
            self.last[link.child_instance],
            target,
            "delivery",
            f"{word}: result to #{link.event_id}",
            hl,
            event_id=link.event_id,
            child_instance=link.child_instance,
            failed=word == "failed",
        )

    def _finding_edges(self) -> None:
        touch = self.touch
        for f in self.findings:
            if (
                f.kind not in ("filtered_notification", "misrouted_notification")
                or f.execution is None
            ):
                continue
            refs = {r.role: r for r in f.related}
            child = refs.get("child") or refs.get("sent by")
            addressed = self.placed.get((f.instance, f.execution))
            source = self.last.get(child.instance) if child else addressed
            key = (f.instance, f.execution, f.event_id or 0)
            hl = touch is not None and touch.answered(child.instance if child else None, key)
            if f.kind == "filtered_notification" and source:
                now = refs.get("current execution")
                sink = self._add(
                    GraphNode(dropped_node_id(f.instance), "dropped", f.instance, status="dropped")
                )
                where = f", dropped in exec {now.execution}" if now and now.execution else ""
                what = "result" if child else "activity/timer result"
                self._edge(
                    source,
                    sink,
                    "filtered",
                    f"FILTERED: {what} for exec {f.execution} #{f.event_id}{where}",
                    hl,
                    event_id=f.event_id,
                    child_instance=child.instance if child else None,
                    severity=f.severity,
                )
            elif f.kind == "misrouted_notification" and source and addressed:
                sched = refs.get("scheduled by")
                meant = f"exec {sched.execution} #{sched.event_id}" if sched else f"#{f.event_id}"
                self._edge(
                    source,
                    addressed,
                    "misrouted",
                    f"MISROUTED: meant for {meant}, landed on exec {f.execution}",
                    hl,
                    event_id=f.event_id,
                    child_instance=child.instance if child else None,
                    severity=f.severity,
                )

    def _mark(self, node_id: str, mark: NodeMark, note: str | None = None) -> None:
        draft = self.drafts.get(node_id)
        if draft is not None and mark not in draft.marks:
            draft.marks.append(mark)
            if note:
                draft.notes.append(note)

    def _marks(self) -> None:
        for f in self.findings:
            if f.instance not in self.model.instances:
                nid = self._missing(f.instance, "missing", "no such instance in this store")
            else:
                inst = self.model.instances[f.instance]
                nid = self.placed.get((f.instance, f.execution or inst.current_execution_id), "")
            if nid in self.drafts:
                self.drafts[nid].findings.append(f)
            if f.kind == "stuck_parent":
                waits = next((r.instance for r in f.related if r.role == "waits on"), "a child")
                self._mark(nid, "stuck", f"STUCK: waits on {safe_text(waits, LABEL_WIDTH)}")
                self._mark(nid, "waiting", "its answer can never arrive")
        for iid, inst in self.model.instances.items():
            nid = self.placed.get((iid, inst.current_execution_id), "")
            if nid not in self.drafts:
                continue
            self._mark(nid, "current")
            if iid in self.focus:
                for key, other in self.placed.items():
                    if key[0] == iid:
                        self._mark(other, "focus")
            open_waits = self._waits(iid)
            if open_waits:
                more = " ..." if len(open_waits) > 2 else ""
                self._mark(
                    nid,
                    "waiting",
                    f"waiting on {len(open_waits)}: " + ", ".join(open_waits[:2]) + more,
                )
        if self.turn is not None and self.touch is not None:
            self._mark(
                self.touch.node, "turn", f"this turn: #{self.turn.number} ({self.turn.result})"
            )

    def _waits(self, iid: str) -> list[str]:
        inst = self.model.instances[iid]
        if (
            inst.is_terminal
            or not inst.executions
            or execution_status(inst.execution()) != "Running"
        ):
            return []
        ex = inst.execution()
        state = fold(iid, ex.execution_id, ex.events)
        return [
            f"child {s.detail}" if s.kind == "child" else f"{s.kind} #{s.event_id}"
            for s in state.open_schedules
        ]
