"""Time travel over a timeline: step, seek, jump between executions and findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from durascope.replay._state import ExecutionState
from durascope.replay._timeline import Timeline, Turn


@dataclass(frozen=True)
class TurnView:
    """What the debugger shows at one position: the turn and the state after it."""

    turn: Turn
    state: ExecutionState
    position: int
    total: int


class Stepper:
    """A cursor over a timeline (positions are 0-based turn indexes).

    Opening a stepper folds the timeline's executions once (its checkpoints), so
    that every seek afterwards, however far, folds only from a nearby checkpoint.

    Args:
        timeline: The instance's turns.
        finding_turns: Turn indexes that carry findings, for ``next_finding``.
    """

    def __init__(self, timeline: Timeline, finding_turns: Sequence[int] = ()) -> None:
        if not timeline.turns:
            raise ValueError(f"instance {timeline.instance.instance_id!r} has no turns")
        timeline.build_checkpoints()
        self.timeline = timeline
        self.position = 0
        self.finding_turns = sorted(set(finding_turns))

    def __len__(self) -> int:
        return len(self.timeline)

    @property
    def current(self) -> TurnView:
        """The turn at the cursor and the state after it."""
        return TurnView(
            turn=self.timeline.turns[self.position],
            state=self.timeline.state_after(self.position),
            position=self.position,
            total=len(self.timeline),
        )

    def seek(self, index: int) -> TurnView:
        """Jump to turn ``index`` (clamped to the timeline)."""
        self.position = max(0, min(index, len(self.timeline) - 1))
        return self.current

    def step(self, count: int = 1) -> TurnView:
        """Move forward ``count`` turns (backward when negative)."""
        return self.seek(self.position + count)

    def back(self, count: int = 1) -> TurnView:
        """Move backward ``count`` turns."""
        return self.seek(self.position - count)

    def first(self) -> TurnView:
        """The first turn."""
        return self.seek(0)

    def last(self) -> TurnView:
        """The newest turn (follow mode uses it)."""
        return self.seek(len(self.timeline) - 1)

    def next_execution(self) -> TurnView:
        """The first turn of the next execution (stays put on the last one)."""
        current = self.timeline.turns[self.position].execution_id
        for i in range(self.position + 1, len(self.timeline)):
            if self.timeline.turns[i].execution_id != current:
                return self.seek(i)
        return self.current

    def previous_execution(self) -> TurnView:
        """The first turn of the previous execution (or of this one, if not on it)."""
        turns = self.timeline.turns
        current = turns[self.position].execution_id
        start = self.position
        while start > 0 and turns[start - 1].execution_id == current:
            start -= 1
        if start != self.position:
            return self.seek(start)
        if start == 0:
            return self.current
        prev = turns[start - 1].execution_id
        while start > 0 and turns[start - 1].execution_id == prev:
            start -= 1
        return self.seek(start)

    def first_finding(self) -> TurnView | None:
        """The earliest turn with a finding (the current one included), or None."""
        return self.seek(self.finding_turns[0]) if self.finding_turns else None

    def next_finding(self) -> TurnView | None:
        """The next turn with a finding, or None."""
        later = [i for i in self.finding_turns if i > self.position]
        return self.seek(later[0]) if later else None

    def previous_finding(self) -> TurnView | None:
        """The previous turn with a finding, or None."""
        earlier = [i for i in self.finding_turns if i < self.position]
        return self.seek(earlier[-1]) if earlier else None
