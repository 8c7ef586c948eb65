"""Jupyter display: objects that render themselves through ``_repr_mimebundle_``.

Every bundle has ``text/plain`` and ``text/html``; ``image/svg+xml`` is added when
Graphviz can render.  Front-ends prefer HTML over SVG, so the HTML embeds the
same SVG inline above its summary; without ``dot`` the HTML says how to install
Graphviz instead.  A repr never raises: a traceback in a cell is worse than a
plain sentence.  Everything taken from the data is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from durascope.replay import (
    Execution,
    Finding,
    Instance,
    Model,
    Timeline,
    Turn,
    diagnose,
    event_summary,
    safe_text,
)
from durascope.viz._graph import Graph, build_graph, execution_status
from durascope.viz._render import RenderError, render_svg

if TYPE_CHECKING:
    from durascope.viz.notebook import StepsDisplay

MimeBundle = dict[str, str]
SEVERITY_COLOUR = {"error": "#D55E00", "warning": "#E69F00", "info": "#0072B2"}
TABLE = '<table style="border-collapse:collapse;font-size:90%">'


def h(value: object, limit: int | None = None) -> str:
    """Data as safe HTML text: control characters visible, markup escaped."""
    return html.escape(safe_text(value, limit))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], limit: int = 200) -> str:
    """An HTML table of escaped cells (at most ``limit`` rows, then a count)."""
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{h(x)}</th>' for x in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td style="padding:2px 8px;vertical-align:top">{h(c, 300)}</td>' for c in row)
        + "</tr>"
        for row in rows[:limit]
    )
    more = f"<p>... and {len(rows) - limit} more</p>" if len(rows) > limit else ""
    return f"{TABLE}<tr>{head}</tr>{body}</table>{more}"


def graph_html(graph: Graph | None) -> tuple[str, str | None]:
    """The graph as inline HTML plus the raw SVG (None when Graphviz cannot render)."""
    if graph is None:
        return "", None
    try:
        svg = render_svg(graph)
    except RenderError as exc:
        note = (
            '<p style="border-left:4px solid #E69F00;padding:4px 8px"><b>Graph not shown.</b> '
            f"{h(exc)}. Then re-run this cell. "
            "The DOT source is available with <code>.to_dot()</code>.</p>"
        )
        return note, None
    start = svg.find("<svg")
    return (
        f'<div style="overflow:auto;max-width:100%">{svg[start:] if start >= 0 else svg}</div>',
        svg,
    )


def findings_table(findings: Sequence[Finding]) -> str:
    """Findings as an HTML table, severity in words and colour."""
    if not findings:
        return "<p>No findings.</p>"
    rows = "".join(
        f'<tr><td style="padding:2px 8px;color:{SEVERITY_COLOUR[f.severity]}">'
        f"<b>{h(f.severity)}</b></td>"
        + "".join(
            f'<td style="padding:2px 8px;vertical-align:top">{h(c, 400)}</td>'
            for c in (f.kind, f.instance, f.execution, f.event_id, f.turn, f.message, f.evidence)
        )
        + "</tr>"
        for f in findings
    )
    head = "".join(
        f'<th style="text-align:left;padding:2px 8px">{x}</th>'
        for x in ("severity", "kind", "instance", "exec", "event", "turn", "message", "evidence")
    )
    return f"{TABLE}<tr>{head}</tr>{rows}</table>"


def turn_range_error(timeline: Timeline, index: int) -> str:
    """Why ``index`` names no turn of ``timeline``: the instance and the valid range."""
    iid = safe_text(timeline.instance.instance_id, 200)
    count = len(timeline)
    if count == 0:
        why = "no executions recorded" if not timeline.instance.executions else "no events"
        return f"instance {iid!r} has no turns ({why}); turn {index} does not exist"
    return (
        f"instance {iid!r} has {count} turn{'s' if count != 1 else ''}: turn {index} is out of "
        f"range (use 0 to {count - 1}, or -{count} to -1 from the end)"
    )


def finding_line(f: Finding) -> str:
    """One finding as a plain line."""
    where = f" exec {f.execution}" if f.execution is not None else ""
    event = f" #{f.event_id}" if f.event_id is not None else ""
    return safe_text(f"{f.severity} {f.kind} {f.instance}{where}{event}: {f.message}")


class Session:
    """What the displays share: the model, its findings (computed once) and timelines."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._findings: tuple[Finding, ...] | None = None
        self._timelines: dict[str, Timeline] = {}

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding in the model, errors first."""
        if self._findings is None:
            self._findings = tuple(diagnose(self.model))
        return self._findings

    def timeline(self, instance_id: str) -> Timeline:
        """The instance's timeline (built once)."""
        if instance_id not in self._timelines:
            self._timelines[instance_id] = Timeline.of(self.model.instance(instance_id))
        return self._timelines[instance_id]

    def findings_of(self, instance_id: str) -> tuple[Finding, ...]:
        """Findings about one instance."""
        return tuple(f for f in self.findings if f.instance == instance_id)


class Displayable:
    """Mixin: subclasses give a graph, an HTML summary and a text line; this makes the bundle."""

    def graph(self) -> Graph | None:
        """The graph to draw (None for none)."""
        return None

    def summary_html(self) -> str:
        """The HTML under the graph."""
        raise NotImplementedError

    def summary_text(self) -> str:
        """The ``text/plain`` rendering."""
        raise NotImplementedError

    def to_dot(self) -> str:
        """DOT source of the graph ("" when there is none)."""
        graph = self.graph()
        return graph.to_dot() if graph is not None else ""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> MimeBundle:
        bundle: MimeBundle = {"text/plain": self._safe(self.summary_text, "")}
        try:
            figure, svg = graph_html(self.graph())
        except Exception as exc:  # a broken store must show a sentence, not a traceback
            figure, svg = f"<p><b>Graph not shown:</b> {h(exc)}</p>", None
        if svg is not None:
            bundle["image/svg+xml"] = svg
        summary = self._safe(self.summary_html, "<p>")
        bundle["text/html"] = f'<div class="durascope">{figure}{summary}</div>'
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        return bundle

    @staticmethod
    def _safe(produce: Any, wrap: str) -> str:
        try:
            return str(produce())
        except Exception as exc:
            text = f"cannot show this: {safe_text(exc)}"
            return f"<p>{html.escape(text)}</p>" if wrap else text

    def __repr__(self) -> str:
        return self._safe(self.summary_text, "")


class GraphDisplay(Displayable):
    """A bare ``Graph`` in a cell: the drawing plus counts of nodes and edges."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph

    def graph(self) -> Graph | None:
        return self._graph

    def summary_text(self) -> str:
        return repr(self._graph)

    def summary_html(self) -> str:
        return f"<p>{h(self.summary_text())}</p>"


class FindingsDisplay(Displayable, Sequence[Finding]):
    """A list of findings: a table, and the graph of the instances they concern."""

    def __init__(self, session: Session, findings: Sequence[Finding]) -> None:
        self.session = session
        self.items = tuple(findings)

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> FindingsDisplay: ...
    def __getitem__(self, index: int | slice) -> Finding | FindingsDisplay:
        if isinstance(index, slice):
            return FindingsDisplay(self.session, self.items[index])
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.items)

    def graph(self) -> Graph | None:
        focus = list(
            dict.fromkeys(
                f.instance for f in self.items if f.instance in self.session.model.instances
            )
        )
        if not focus:
            return None
        return build_graph(self.session.model, focus=focus[:20], findings=self.items)

    def summary_html(self) -> str:
        return f"<h4>{len(self.items)} findings</h4>" + findings_table(self.items)

    def summary_text(self) -> str:
        return "\n".join([f"{len(self.items)} findings", *(finding_line(f) for f in self.items)])


class ExecutionDisplay(Displayable):
    """One execution: its history as a table, under its instance's graph."""

    def __init__(self, session: Session, instance: Instance, execution: Execution) -> None:
        self.session, self.instance, self.execution = session, instance, execution

    def graph(self) -> Graph | None:
        return build_graph(
            self.session.model, focus=self.instance.instance_id, findings=self.session.findings
        )

    def summary_html(self) -> str:
        ex = self.execution
        rows = [
            (e.event_id, e.type, e.source_event_id or "", event_summary(e, 200)) for e in ex.events
        ]
        return (
            f"<h4>{h(self.instance.instance_id)} execution {ex.execution_id}: "
            f"{h(execution_status(ex))}</h4>" + table(("event", "type", "source", "summary"), rows)
        )

    def summary_text(self) -> str:
        ex = self.execution
        return safe_text(
            f"Execution(instance={self.instance.instance_id!r}, execution={ex.execution_id}, "
            f"status={execution_status(ex)}, events={len(ex.events)})"
        )


class TurnDisplay(Displayable):
    """One dispatcher turn: messages with verdicts, the delta, work sent, and the state after."""

    def __init__(self, session: Session, timeline: Timeline, index: int) -> None:
        if not 0 <= index < len(timeline):
            raise IndexError(turn_range_error(timeline, index))
        self.session, self.timeline, self.index = session, timeline, index
        self.turn: Turn = timeline.turns[index]

    def graph(self) -> Graph | None:
        return build_graph(
            self.session.model,
            focus=self.turn.instance_id,
            findings=self.session.findings,
            turn=self.turn,
        )

    def findings(self) -> tuple[Finding, ...]:
        """Findings that show at this turn."""
        return tuple(
            f for f in self.session.findings_of(self.turn.instance_id) if f.turn_index == self.index
        )

    def summary_html(self) -> str:
        t = self.turn
        state = self.timeline.state_after(self.index)
        messages = [
            (type(v.message).__name__, v.verdict, v.reason, v.event_id or "") for v in t.messages
        ]
        delta = [(e.event_id, e.type, event_summary(e, 200)) for e in t.delta]
        sent = [
            (type(s.item).__name__, s.queue, s.target_instance, s.target_execution or "")
            for s in t.sent
        ]
        schedules = [(s.kind, s.event_id, s.name, s.detail, s.status) for s in state.schedules]
        found = self.findings()
        return (
            f"<h4>{h(t.instance_id)}: turn {t.number} ({self.index + 1} of {len(self.timeline)}), "
            f"execution {t.execution_id}, result {h(t.result)} [{h(t.evidence)}]</h4>"
            + "<b>Messages in</b>"
            + (
                table(("message", "verdict", "reason", "event"), messages)
                if messages
                else "<p>none</p>"
            )
            + "<b>Events appended</b>"
            + (table(("event", "type", "summary"), delta) if delta else "<p>none</p>")
            + "<b>Work sent</b>"
            + (table(("item", "queue", "target", "exec"), sent) if sent else "<p>none</p>")
            + f"<b>State after</b><p>status {h(state.status)}; "
            + f"custom status {h(state.custom_status or '-')}"
            + "</p>"
            + (table(("kind", "event", "name", "detail", "status"), schedules) if schedules else "")
            + (f"<b>Findings at this turn</b>{findings_table(found)}" if found else "")
        )

    def summary_text(self) -> str:
        t = self.turn
        verdicts = (
            ", ".join(f"{type(v.message).__name__} {v.verdict}" for v in t.messages)
            or "no messages"
        )
        lines = [
            safe_text(
                f"Turn(instance={t.instance_id!r}, {self.index + 1}/{len(self.timeline)}, "
                f"execution={t.execution_id}, result={t.result}, evidence={t.evidence}): {verdicts}"
            ),
            *(finding_line(f) for f in self.findings()),
        ]
        return "\n".join(lines)


class InstanceDisplay(Displayable):
    """One instance: its tree's graph, its executions and its findings."""

    def __init__(self, session: Session, instance: Instance) -> None:
        self.session, self.instance = session, instance

    def graph(self) -> Graph | None:
        return build_graph(
            self.session.model, focus=self.instance.instance_id, findings=self.session.findings
        )

    def execution(self, execution_id: int | None = None) -> ExecutionDisplay:
        """One execution (the current one by default)."""
        return ExecutionDisplay(self.session, self.instance, self.instance.execution(execution_id))

    def findings(self) -> FindingsDisplay:
        """Findings about this instance."""
        return FindingsDisplay(self.session, self.session.findings_of(self.instance.instance_id))

    def timeline(self) -> Timeline:
        """The instance's turns."""
        return self.session.timeline(self.instance.instance_id)

    def turn(self, index: int) -> TurnDisplay:
        """Turn ``index`` (0-based; negative counts from the end).

        Raises:
            IndexError: There is no such turn (the message names the instance and the
                valid range, or says it has no turns).
        """
        timeline = self.timeline()
        count = len(timeline)
        if not -count <= index < count:
            raise IndexError(turn_range_error(timeline, index))
        return TurnDisplay(self.session, timeline, index % count)

    def steps(self) -> StepsDisplay:
        """A cursor over the instance's turns."""
        from durascope.viz.notebook import StepsDisplay

        return StepsDisplay(self.session, self.instance.instance_id)

    def summary_html(self) -> str:
        inst = self.instance
        rows = [
            (
                ex.execution_id,
                execution_status(ex),
                len(ex.events),
                "yes" if ex.execution_id == inst.current_execution_id else "",
            )
            for ex in inst.executions
        ]
        parent = f", parent {h(inst.parent_instance_id)}" if inst.parent_instance_id else ""
        turns = len(self.timeline())
        if not rows:
            executions = (
                "<p>No executions recorded, so there are no turns to step through "
                f"(the store says {h(inst.status)}).</p>"
            )
        elif not turns:
            executions = table(("execution", "status", "events", "current"), rows) + (
                "<p>No turns: the executions hold no events to step through.</p>"
            )
        else:
            executions = table(("execution", "status", "events", "current"), rows) + (
                f"<p>{turns} turn{'s' if turns != 1 else ''}: "
                f"<code>.turn(0)</code> to <code>.turn({turns - 1})</code>, "
                "or <code>.steps()</code>.</p>"
            )
        return (
            f"<h4>{h(inst.instance_id)}: {h(inst.orchestration_name)}, "
            f"{h(inst.status)}{parent}</h4>"
            + executions
            + "<b>Findings</b>"
            + findings_table(self.session.findings_of(inst.instance_id))
        )

    def summary_text(self) -> str:
        inst = self.instance
        found = self.session.findings_of(inst.instance_id)
        turns = len(self.timeline())
        return safe_text(
            f"Instance({inst.instance_id!r}, {inst.orchestration_name}, status={inst.status}, "
            f"executions={len(inst.executions)}, "
            + (f"turns={turns}" if turns else "no turns")
            + f", findings={len(found)})"
        )
