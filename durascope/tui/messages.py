"""App-level messages posted by workers."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class FindingsReady(Message):
    """Diagnosis finished (first load or after a live reload)."""

    count: int


@dataclass
class StoreReloaded(Message):
    """The store changed on disk and was read again (live mode)."""

    instances: int
