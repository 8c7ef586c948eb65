"""Findings: what the diagnostics point out, in DESIGN.md's stable vocabulary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

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
    side.  ``turn`` is the instance's turn index where the finding shows, if known.
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
    turn: int | None = None

    def sort_key(self) -> tuple[int, str, int, int]:
        """Errors first, then by instance, execution, event."""
        return (
            SEVERITY_ORDER[self.severity],
            self.instance,
            self.execution or 0,
            self.event_id or 0,
        )


FINDINGS_ADAPTER: TypeAdapter[list[Finding]] = TypeAdapter(list[Finding])
