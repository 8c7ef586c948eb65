"""Durable futures: what a yielded task waits on while the replayer walks history.

A leaf future belongs to one action (one schedule event); composite futures
implement ``all`` and ``race``.  Resolution happens only when the replayer
applies a completion event, so results follow history order, as in duroxide.
"""

from __future__ import annotations

from typing import Any, Literal

from durascope.history import ErrorDetails

LeafKind = Literal["activity", "timer", "external", "queue", "suborch", "detached"]


class DurableFuture:
    """Base future: pending until resolved or rejected; can be dropped."""

    def __init__(self) -> None:
        self.done = False
        self.ok = True
        self.value: Any = None
        self.error: str | None = None
        self.error_details: ErrorDetails | None = None
        self.dropped = False
        self.parent: CompositeFuture | None = None

    def resolve(self, value: Any) -> None:
        """Complete successfully (ignored once done or dropped)."""
        if self.done or self.dropped:
            return
        self.done, self.ok, self.value = True, True, value
        if self.parent is not None:
            self.parent.child_done(self)

    def reject(self, message: str, details: ErrorDetails | None = None) -> None:
        """Complete with an error the orchestration will see as an exception."""
        if self.done or self.dropped:
            return
        self.done, self.ok, self.error, self.error_details = True, False, message, details
        if self.parent is not None:
            self.parent.child_done(self)

    def drop(self, on_drop: DropSink) -> None:
        """Abandon the future (a race loser); leaves report themselves to ``on_drop``."""
        raise NotImplementedError


class DropSink:
    """Collects dropped leaf futures (the replayer turns them into cancellations)."""

    def __init__(self) -> None:
        self.leaves: list[LeafFuture] = []

    def add(self, leaf: LeafFuture) -> None:
        """Record a dropped leaf."""
        self.leaves.append(leaf)


class LeafFuture(DurableFuture):
    """The future of one action; ``schedule_id`` is set when bound to its event."""

    def __init__(self, kind: LeafKind, name: str = "") -> None:
        super().__init__()
        self.kind: LeafKind = kind
        self.name = name
        self.schedule_id: int | None = None

    def drop(self, on_drop: DropSink) -> None:
        """Drop the future unless it already completed."""
        if self.done or self.dropped:
            return
        self.dropped = True
        on_drop.add(self)


class CompositeFuture(DurableFuture):
    """A future over several children (``all`` / ``race``)."""

    def __init__(self, children: list[DurableFuture]) -> None:
        super().__init__()
        self.children = children
        for child in children:
            child.parent = self

    def child_done(self, child: DurableFuture) -> None:
        """Called by a child when it completes."""
        raise NotImplementedError

    def drop(self, on_drop: DropSink) -> None:
        """Drop every unfinished child."""
        if self.done or self.dropped:
            return
        self.dropped = True
        for child in self.children:
            child.drop(on_drop)


class AllFuture(CompositeFuture):
    """Done when every child is done; never fails (errors are reported per child)."""

    def __init__(self, children: list[DurableFuture], *, unwrap: bool = False) -> None:
        super().__init__(children)
        self._unwrap = unwrap
        self._check()

    def child_done(self, child: DurableFuture) -> None:
        """Complete once the last child completes."""
        self._check()

    def _check(self) -> None:
        if all(c.done for c in self.children):
            self.resolve(
                [
                    (c.value if self._unwrap else {"ok": c.value}) if c.ok else {"err": c.error}
                    for c in self.children
                ]
            )


class RaceFuture(CompositeFuture):
    """Done with the first child to complete; the others are dropped."""

    def __init__(self, children: list[DurableFuture], on_drop: DropSink) -> None:
        super().__init__(children)
        self._on_drop = on_drop
        for child in children:
            if child.done:
                self.child_done(child)
                break

    def child_done(self, child: DurableFuture) -> None:
        """The first child to finish wins."""
        if self.done or self.dropped:
            return
        index = self.children.index(child)
        for other in self.children:
            if other is not child:
                other.drop(self._on_drop)
        if child.ok:
            self.resolve({"index": index, "value": child.value})
        else:
            self.reject(child.error or "", child.error_details)
