"""Post-mortems in a notebook: ``open(PATH)`` and objects that draw themselves.

``open`` is synchronous and never touches an event loop (stores are read with
the standard library's sqlite3, read-only), so it works in a Jupyter cell whose
kernel already runs one.  The public entry point is ``durascope.open``, which
calls it::

    import durascope
    pm = durascope.open("run.db")
    pm                                  # graph of every instance + summary
    pm.findings()                       # what went wrong, as a table
    steps = pm.steps("orders-42")
    steps.next_finding()                # the turn where the first finding shows
    pm.stepper("orders-42")             # slider + buttons (needs ipywidgets)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from durascope.replay import Model, Stepper, open_model
from durascope.viz._graph import Graph, build_graph
from durascope.viz._notebook import (
    Displayable,
    ExecutionDisplay,
    FindingsDisplay,
    InstanceDisplay,
    Session,
    TurnDisplay,
    findings_table,
    h,
    table,
)

OVERVIEW_LIMIT = 60
"""Above this many instances the overview draws only the trees with findings."""

__all__ = [
    "ExecutionDisplay",
    "FindingsDisplay",
    "InstanceDisplay",
    "Postmortem",
    "StepsDisplay",
    "TurnDisplay",
    "open",
]


def open(path: str | Path) -> Postmortem:
    """Open a durascope store, a duroxide store or a bundle for display.

    Args:
        path: The file to read (read-only; a live runtime may keep writing it).

    Raises:
        SourceError: The file is missing or is not a store or bundle (one line).
    """
    return Postmortem(open_model(path))


class StepsDisplay(Displayable):
    """A cursor over an instance's turns; each move returns the ``TurnDisplay`` it lands on."""

    def __init__(self, session: Session, instance_id: str) -> None:
        self.session = session
        self.timeline = session.timeline(instance_id)
        turns = [f.turn_index for f in session.findings_of(instance_id) if f.turn_index is not None]
        self.stepper = Stepper(self.timeline, turns)
        self._untouched = True  # before any move, a finding on turn 0 counts as "next"

    def __len__(self) -> int:
        return len(self.timeline)

    @property
    def current(self) -> TurnDisplay:
        """The turn at the cursor."""
        return TurnDisplay(self.session, self.timeline, self.stepper.position)

    def seek(self, index: int) -> TurnDisplay:
        """Jump to turn ``index`` (0-based, clamped)."""
        self.stepper.seek(index)
        self._untouched = False
        return self.current

    def step(self, count: int = 1) -> TurnDisplay:
        """Forward ``count`` turns (back when negative)."""
        self.stepper.step(count)
        self._untouched = False
        return self.current

    def back(self, count: int = 1) -> TurnDisplay:
        """Back ``count`` turns."""
        return self.step(-count)

    def first(self) -> TurnDisplay:
        """The first turn."""
        return self.seek(0)

    def last(self) -> TurnDisplay:
        """The last turn."""
        return self.seek(len(self.timeline) - 1)

    def next_finding(self) -> TurnDisplay:
        """The next turn with a finding (from the start, the first one); stays put if none."""
        first = self._untouched and self.stepper.position in self.stepper.finding_turns
        self._untouched = False
        if not first:
            self.stepper.next_finding()
        return self.current

    def previous_finding(self) -> TurnDisplay:
        """The previous turn with a finding; stays put if none."""
        self.stepper.previous_finding()
        self._untouched = False
        return self.current

    def graph(self) -> Graph | None:
        """The current turn's graph."""
        return self.current.graph()

    def summary_html(self) -> str:
        """The current turn, as HTML."""
        return self.current.summary_html()

    def summary_text(self) -> str:
        """The current turn, as text."""
        return self.current.summary_text()


class Postmortem(Displayable):
    """A model wrapped for notebooks: the store's graph, instances, findings and steppers.

    Args:
        model: An opened model (see ``durascope.replay.open_model``).
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self.session = Session(model)

    def __getitem__(self, instance_id: str) -> InstanceDisplay:
        return self.instance(instance_id)

    def __iter__(self) -> Iterator[InstanceDisplay]:
        return (self.instance(i) for i in self.model.instances)

    def __len__(self) -> int:
        return len(self.model.instances)

    def instance(self, instance_id: str) -> InstanceDisplay:
        """One instance.

        Raises:
            SourceError: It is not in this store.
        """
        return InstanceDisplay(self.session, self.model.instance(instance_id))

    def findings(self, instance_id: str | None = None) -> FindingsDisplay:
        """Every finding (or those about one instance), errors first."""
        found = self.session.findings
        if instance_id is not None:
            found = self.session.findings_of(instance_id)
        return FindingsDisplay(self.session, found)

    def steps(self, instance_id: str) -> StepsDisplay:
        """A cursor over an instance's turns; its moves return turns that draw themselves.

        Raises:
            ValueError: The instance has no turns.
        """
        return StepsDisplay(self.session, instance_id)

    def stepper(self, instance_id: str) -> Any:
        """An interactive stepper (slider and buttons) over an instance's turns.

        Raises:
            ImportError: ipywidgets is missing (the message says which extra to install).
            ValueError: The instance has no turns.
        """
        from durascope.viz._widget import TurnStepper

        return TurnStepper(self.steps(instance_id))

    def graph(
        self,
        focus: str | Iterable[str] | None = None,
        *,
        max_executions: int = 6,
        max_children: int = 12,
    ) -> Graph | None:
        """The graph of the store (or of the trees holding ``focus``).

        Without ``focus``, a store of more than ``OVERVIEW_LIMIT`` instances draws
        only the trees that have findings (None when there are none).
        """
        if focus is None and len(self.model.instances) > OVERVIEW_LIMIT:
            troubled = [
                f.instance for f in self.session.findings if f.instance in self.model.instances
            ]
            focus = list(dict.fromkeys(troubled))[:20]
            if not focus:
                return None
        return build_graph(
            self.model,
            focus=focus,
            findings=self.session.findings,
            max_executions=max_executions,
            max_children=max_children,
        )

    def summary_html(self) -> str:
        """Instances with status and findings, as an HTML table."""
        o = self.model.origin
        statuses = Counter(i.status for i in self.model.instances.values())
        per_instance = Counter(f.instance for f in self.session.findings)
        rows = [
            (
                i.instance_id,
                i.orchestration_name,
                i.status,
                len(i.executions),
                per_instance[i.instance_id],
            )
            for i in self.model.instances.values()
        ]
        note = ""
        if len(rows) > OVERVIEW_LIMIT:
            note = (
                f"<p>{len(rows)} instances: the graph shows only trees with findings; "
                "use <code>.graph(focus=ID)</code>.</p>"
            )
        return (
            f"<h4>{h(o.kind)} store {h(o.path)}</h4>"
            + f"<p>{len(rows)} instances: "
            + h(", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
            + "</p>"
            + note
            + "<b>Findings</b>"
            + findings_table(self.session.findings)
            + "<b>Instances</b>"
            + table(("instance", "orchestration", "status", "executions", "findings"), rows)
        )

    def summary_text(self) -> str:
        """A one-line description of the store."""
        o = self.model.origin
        found = Counter(f.severity for f in self.session.findings)
        counts = ", ".join(f"{n} {s}" for s, n in sorted(found.items())) or "no findings"
        return (
            f"Postmortem({str(o.path)!r}, {o.kind} store, "
            f"{len(self.model.instances)} instances, {counts})"
        )
