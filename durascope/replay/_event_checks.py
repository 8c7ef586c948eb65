"""What can be wrong with one execution's events as a sequence: envelopes and event ids.

Every event's envelope repeats the instance and execution that hold it, and an
execution's event ids run 1..n in order, once each; turns, completions and child
links name events by those ids.  A hand-edited or mis-copied history can break
either while every event still decodes.  The integrity rule reports such damage;
the rules that match schedules with children (collisions, inferred misroutes,
a stuck parent's discarded start) skip a damaged execution rather than report
what the damage makes up (a schedule colliding with itself).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from durascope.history import Event, OrchestrationStarted
from durascope.replay._model import Execution

MISSING_KEPT = 10
"""How many missing ids :class:`EventDamage` keeps (a message names a few and counts the rest)."""


@dataclass(frozen=True)
class EventDamage:
    """What is wrong with the events of one execution.

    Attributes:
        foreign: Events whose envelope names another instance or execution.
        repeated: ``(event_id, count)`` of ids held by more than one event.
        invalid: Ids below 1.
        missing: The first few (:data:`MISSING_KEPT`) ids between 1 and the
            highest id that no event has.
        missing_count: How many such ids there are in all.
        out_of_order: The ids are ``1..n`` once each, but not in that order.
    """

    foreign: tuple[Event, ...] = ()
    repeated: tuple[tuple[int, int], ...] = ()
    invalid: tuple[int, ...] = ()
    missing: tuple[int, ...] = ()
    missing_count: int = 0
    out_of_order: bool = False

    @property
    def bad_ids(self) -> bool:
        """Whether the event ids are not ``1..n`` in order, once each."""
        return bool(self.repeated or self.invalid or self.missing_count or self.out_of_order)


def event_damage(instance_id: str, execution: Execution) -> EventDamage | None:
    """The damage of an execution's events, or None when there is none.

    A missing id 1 in an execution without its ``OrchestrationStarted`` is that
    start's absence, which the integrity rule reports on its own, so it is not
    counted here.
    """
    events = execution.events
    execution_id = execution.execution_id
    foreign = tuple(
        e
        for e in events
        # The cheap comparison first: this runs over every event of every store.  An
        # envelope field the data left out says nothing; only a stated one can disagree.
        if (e.instance_id != instance_id and "instance_id" in e.model_fields_set)
        or (e.execution_id != execution_id and "execution_id" in e.model_fields_set)
    )
    ids = [e.event_id for e in events]
    if ids == list(range(1, len(ids) + 1)):
        return EventDamage(foreign=foreign) if foreign else None
    seen = Counter(ids)
    repeated = tuple(sorted((i, n) for i, n in seen.items() if n > 1))
    invalid = tuple(sorted(i for i in seen if i < 1))
    missing, missing_count = _missing(seen)
    if missing[:1] == (1,) and not any(isinstance(e, OrchestrationStarted) for e in events):
        missing, missing_count = missing[1:], missing_count - 1
    damage = EventDamage(
        foreign=foreign,
        repeated=repeated,
        invalid=invalid,
        missing=missing,
        missing_count=missing_count,
        out_of_order=not (repeated or invalid or missing_count) and ids != sorted(ids),
    )
    return damage if damage.foreign or damage.bad_ids else None


def _missing(seen: Counter[int]) -> tuple[tuple[int, ...], int]:
    """The first few ids in ``1..max`` that ``seen`` lacks, and how many it lacks.

    Walks the gaps between the distinct ids, not every integer up to the highest:
    one event id of ``10**12`` is a single gap, not a trillion ids to list.
    """
    kept: list[int] = []
    count = 0
    previous = 0
    for i in sorted(i for i in seen if i >= 1):
        gap = i - previous - 1
        if gap > 0:
            count += gap
            room = MISSING_KEPT - len(kept)
            kept.extend(range(previous + 1, previous + 1 + min(gap, room)))
        previous = i
    return tuple(kept), count
