"""Whether an instance's captured turns can stand for its history.

A durascope store's journal numbers an instance's turns 1..n (its key makes
each number unique) and, between them, the turns' deltas hold every event of
the instance's history exactly once.  A store row deleted by hand, or a bundle
edited or put together from two exports, can break either while every record
still decodes.  The timeline then falls back to turns inferred from history,
and the integrity rule says why in a ``malformed_history`` warning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from durascope.replay._model import Instance

SHOWN = 3
"""How many turn numbers or events a description names before it counts the rest."""


@dataclass(frozen=True)
class JournalFlaw:
    """Why the captured turns of an instance do not stand for its history.

    Attributes:
        kind: ``numbering`` (turn numbers are not 1..n once each), ``overlap`` (an
            event is in the delta of two turns) or ``gap`` (an event is in none).
        detail: What is wrong, as a phrase naming a few of the turns or events.
    """

    kind: Literal["numbering", "overlap", "gap"]
    detail: str


def journal_flaw(instance: Instance) -> JournalFlaw | None:
    """The first reason the instance's captured turns cannot be trusted, or None.

    An event in two deltas or in none comes first (it names the events a reader
    can look up); then the numbering.  Turn records that did not decode count as
    present for the numbering (their absence is reported on its own), so only
    their events can be missing.
    """
    records = instance.turns
    # Set operations first: this runs on every instance a timeline is built for, and
    # the per-event walks that name the culprits only when something is wrong.
    covered: dict[int, set[int]] = {}
    listed = 0
    for r in records:
        covered.setdefault(r.execution_id, set()).update(r.delta_event_ids)
        listed += len(r.delta_event_ids)
    if listed != sum(len(ids) for ids in covered.values()):
        twice = _Sample()
        seen: set[tuple[int, int]] = set()
        for r in records:
            for event_id in r.delta_event_ids:
                if (r.execution_id, event_id) in seen:
                    twice.add(f"execution {r.execution_id} event {event_id}")
                seen.add((r.execution_id, event_id))
        verb = "is" if twice.count == 1 else "are"
        return JournalFlaw("overlap", f"{twice} {verb} in the delta of more than one turn")
    left_out = _Sample()
    for ex in instance.executions:
        held = covered.get(ex.execution_id, set())
        if {e.event_id for e in ex.events} <= held:
            continue
        for e in ex.events:
            if e.event_id not in held:
                left_out.add(f"execution {ex.execution_id} event {e.event_id}")
    if left_out.count:
        return JournalFlaw("gap", f"the captured turns leave out {left_out}")
    numbers = [r.turn for r in records]
    if instance.undecodable_turns:
        numbers = sorted([*numbers, *instance.undecodable_turns])
    if numbers != list(range(1, len(numbers) + 1)):
        return JournalFlaw("numbering", _numbering(numbers))
    return None


class _Sample:
    """The first few of a possibly long list of items, and how many there were."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.count = 0

    def add(self, item: str) -> None:
        self.count += 1
        if len(self.shown) < SHOWN:
            self.shown.append(item)

    def __str__(self) -> str:
        rest = self.count - len(self.shown)
        return ", ".join(self.shown) + (f" and {rest} more" if rest else "")


def _numbering(numbers: list[int]) -> str:
    counts = Counter(numbers)
    parts = [f"turn {n} appears {c} times" for n, c in sorted(counts.items()) if c > 1][:SHOWN]
    expected = set(range(1, len(numbers) + 1))
    absent = sorted(expected - counts.keys())
    if absent:
        parts.append(f"{_few([str(n) for n in absent])} {_be(absent)} missing")
    stray = sorted(n for n in counts if n not in expected)
    if stray:
        parts.append(f"{_few([str(n) for n in stray])} {_be(stray)} outside 1..{len(numbers)}")
    return (
        f"its {len(numbers)} turn records are not numbered 1..{len(numbers)} once each "
        f"({', '.join(parts) or 'they are out of order'})"
    )


def _few(items: list[str]) -> str:
    head = ", ".join(items[:SHOWN])
    return head if len(items) <= SHOWN else f"{head} and {len(items) - SHOWN} more"


def _be(items: Sequence[object]) -> str:
    return "is" if len(items) == 1 else "are"
