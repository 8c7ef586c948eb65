"""The interactive stepper: a slider and buttons over an instance's turns (ipywidgets).

Imported only when a stepper is asked for, so the rest of ``durascope.viz``
works without ipywidgets.  The view is an ``HTML`` widget holding the same
HTML the static ``TurnDisplay`` repr shows (graph, messages with verdicts,
state), so what the widget shows and what a saved notebook shows agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import ipywidgets as widgets  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - exercised by installs without the extra
    raise ImportError(
        "the interactive stepper needs ipywidgets: pip install 'durascope[notebook]' "
        "(the static views, pm.steps(ID).next_finding(), work without it)"
    ) from exc

from durascope.viz._notebook import TurnDisplay, h
from durascope.viz.notebook import StepsDisplay

BUTTONS: tuple[tuple[str, str, str], ...] = (
    # (key, label in words, tooltip)
    ("first", "first", "first turn"),
    ("back", "back", "previous turn"),
    ("forward", "forward", "next turn"),
    ("last", "last", "last turn"),
    ("previous_finding", "prev finding", "previous turn with a finding"),
    ("next_finding", "next finding", "next turn with a finding"),
)


class TurnStepper:
    """A slider and buttons that step through turns and redraw graph, messages and state.

    Args:
        steps: The cursor to drive (its position is the widget's position).
    """

    def __init__(self, steps: StepsDisplay) -> None:
        self.steps = steps
        last = max(len(steps) - 1, 0)
        self.slider = widgets.IntSlider(
            value=steps.stepper.position,
            min=0,
            max=last,
            description="turn",
            continuous_update=False,
        )
        moves: dict[str, Callable[[], TurnDisplay]] = {
            "first": steps.first,
            "back": steps.back,
            "forward": steps.step,
            "last": steps.last,
            "previous_finding": steps.previous_finding,
            "next_finding": steps.next_finding,
        }
        self.buttons: dict[str, Any] = {}
        for key, label, tip in BUTTONS:
            button = widgets.Button(
                description=label, tooltip=tip, layout=widgets.Layout(width="auto")
            )
            button.on_click(self._mover(moves[key]))
            self.buttons[key] = button
        self.status = widgets.HTML()
        self.view = widgets.HTML()
        self.slider.observe(self._on_slider, names="value")
        self.widget = widgets.VBox(
            [widgets.HBox([*self.buttons.values(), self.slider]), self.status, self.view]
        )
        self._show()

    def _mover(self, move: Callable[[], TurnDisplay]) -> Callable[[Any], None]:
        def on_click(_: Any) -> None:
            move()
            self._sync()

        return on_click

    def _on_slider(self, change: dict[str, Any]) -> None:
        if change["new"] != self.steps.stepper.position:
            self.steps.seek(int(change["new"]))
        self._show()

    def _sync(self) -> None:
        position = self.steps.stepper.position
        if self.slider.value != position:
            self.slider.value = position  # the observer redraws
        else:
            self._show()

    def _show(self) -> None:
        current = self.steps.current
        turn = current.turn
        found = current.findings()
        flag = f" - {len(found)} finding(s) at this turn" if found else ""
        self.status.value = (
            f"<b>{h(turn.instance_id)}</b>: turn {turn.number} "
            f"({self.steps.stepper.position + 1} of {len(self.steps)}), "
            f"execution {turn.execution_id}, "
            f"{h(turn.result)}{h(flag)}"
        )
        self.view.value = current._repr_mimebundle_(include=["text/html"])["text/html"]

    def seek(self, index: int) -> TurnDisplay:
        """Move to turn ``index`` and redraw (what the slider does)."""
        self.steps.seek(index)
        self._sync()
        return self.steps.current

    def click(self, key: str) -> TurnDisplay:
        """Press a button by key.

        Keys: ``first``, ``back``, ``forward``, ``last``, ``previous_finding``,
        ``next_finding`` (what a click in the notebook does).
        """
        self.buttons[key].click()
        return self.steps.current

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"TurnStepper({self.steps.current.summary_text().splitlines()[0]})"
