"""Messages posted by workers and widgets."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from durascope.tui.navigation import StartAt
from durascope.tui.session import Snapshot

__all__ = ["InstanceChosen", "SnapshotReady", "TurnChosen"]


@dataclass
class SnapshotReady(Message):
    """A snapshot worker finished: ``snapshot`` is the new one, or None if nothing changed.

    ``error`` says why a build failed (the input could not be read this time).
    """

    snapshot: Snapshot | None
    error: str | None = None


@dataclass
class InstanceChosen(Message):
    """The user selected an instance id shown in a widget (a child, a parent, a ref)."""

    instance_id: str
    start: StartAt | None = None


@dataclass
class TurnChosen(Message):
    """The user selected something that happened at a turn of the open instance."""

    turn: int
