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


@dataclass(frozen=True)
class EventDamage:
    """What is wrong with the events of one execution.

    Attributes:
        foreign: Events whose envelope names another instance or execution.
        repeated: ``(event_id, count)`` of ids held by more than one event.
        invalid: Ids below 1.
        missing: Ids between 1 and the highest id that no event has.
        out_of_order: The ids are ``1..n`` once each, but not in that order.
    """

    foreign: tuple[Event, ...] = ()
    repeated: tuple[tuple[int, int], ...] = ()
    invalid: tuple[int, ...] = ()
    missing: tuple[int, ...] = ()
    out_of_order: bool = False

    @property
    def bad_ids(self) -> bool:
        """Whether the event ids are not ``1..n`` in order, once each."""
        return bool(self.repeated or self.invalid or self.missing or self.out_of_order)


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
    missing = tuple(i for i in range(1, max(ids, default=0) + 1) if i not in seen)
    if missing[:1] == (1,) and not any(isinstance(e, OrchestrationStarted) for e in events):
        missing = missing[1:]
    damage = EventDamage(
        foreign=foreign,
        repeated=repeated,
        invalid=invalid,
        missing=missing,
        out_of_order=not (repeated or invalid or missing) and ids != sorted(ids),
    )
    return damage if damage.foreign or damage.bad_ids else None
