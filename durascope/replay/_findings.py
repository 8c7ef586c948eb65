"""Findings: what the diagnostics point out, in DESIGN.md's stable vocabulary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

FindingKind = Literal[
    "filtered_notification",
    "misrouted_notification",
    "child_id_collision",
    "stuck_parent",
    "nondeterminism",
    "orphan_message",
    "undelivered_event",
    "duplicate_notification",
    "never_dispatched",
    "malformed_history",
]
Severity = Literal["error", "warning", "info"]
Evidence = Literal["captured", "inferred"]

SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


RefRole = Literal[
    "child",
    "current execution",
    "sent by",
    "scheduled by",
    "hit",
    "held by",
    "waits on",
    "parent",
]
"""What a related reference is to its finding (the graph and the TUI key on these)."""


class Ref(BaseModel):
    """A reference to another instance, execution or event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: RefRole
    instance: str
    execution: int | None = None
    event_id: int | None = None


class Finding(BaseModel):
    """One thing that went wrong (or looks wrong) in a history.

    ``instance`` and ``execution`` name the execution the finding is about: for a
    notification, the execution it was addressed to; for a collision, the parent
    execution whose schedule collided; for a stuck parent, the waiting execution;
    for nondeterminism, the execution that diverged.  ``related`` names the other
    side.

    ``turn`` is the 1-based number of the instance's turn where the finding
    shows (None when it shows at no turn): the ``turn N of M`` the TUI and the
    CLI print, which for a durascope store is the turn journal's own number.
    Steppers and timelines are indexed from 0: use :attr:`turn_index` there.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["Finding"] = "Finding"
    kind: FindingKind
    severity: Severity
    instance: str
    execution: int | None
    event_id: int | None = None
    related: tuple[Ref, ...] = ()
    message: str
    evidence: Evidence
    turn: int | None = Field(default=None, ge=1)

    @property
    def turn_index(self) -> int | None:
        """``turn`` as a 0-based index into the instance's timeline (None without a turn)."""
        return None if self.turn is None else self.turn - 1

    def sort_key(self) -> tuple[int, str, int, int]:
        """Errors first, then by instance, execution, event."""
        return (
            SEVERITY_ORDER[self.severity],
            self.instance,
            self.execution or 0,
            self.event_id or 0,
        )


FINDINGS_ADAPTER: TypeAdapter[list[Finding]] = TypeAdapter(list[Finding])
