"""The debugger's view model: instances, executions, child links, pending messages.

One model for every input (durascope store, duroxide store, bundle).  Events
of an execution are loaded on first access through the source that made the
model, so opening a large store reads only the index of instances and
executions; a bundle holds its events in memory already.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, Protocol

from durascope.history import Event, OrchestrationStarted, TurnRecord, WorkItem

SourceKind = Literal["durascope", "duroxide", "bundle", "memory"]
"""What PATH turned out to be (``memory``: built from an in-process simulation)."""

EventLoader = Callable[[str, int], tuple[Event, ...]]
"""``(instance, execution) -> events``, used for lazy loading."""

TurnJournal = tuple[tuple[TurnRecord, ...], tuple[int, ...]]
"""An instance's captured turns, and the turn numbers of journal rows that did not decode."""


class SourceError(Exception):
    """An input cannot be opened or read; the message is one plain line."""


class HistoryReader(Protocol):
    """Bulk access behind a model read from a store file."""

    def load_all(self, model: Model, progress: Callable[[int], None] | None = None) -> int:
        """Load every execution's events in one pass; return how many were read."""
        ...

    def data_version(self) -> int:
        """A number that changes whenever another connection commits."""
        ...

    def close(self) -> None:
        """Release the file."""
        ...


@dataclass(frozen=True)
class Origin:
    """Where a model came from.

    Attributes:
        kind: ``durascope``, ``duroxide`` or ``bundle``.
        path: The file it was read from.
        runtime_version: The runtime version recorded in the data, if any.
        exported_at_ms: For bundles, when the export was made.
        source_kind: For bundles, the kind of store the export was made from.
        redacted: For bundles, whether payloads were replaced by size and hash.
    """

    kind: SourceKind
    path: str
    runtime_version: str | None = None
    exported_at_ms: int | None = None
    source_kind: SourceKind | None = None
    redacted: bool = False

    @property
    def has_turn_journal(self) -> bool:
        """Whether turns were captured (durascope stores, and bundles made from them)."""
        return self.kind in ("durascope", "memory") or self.source_kind == "durascope"


@dataclass(eq=False)
class Execution:
    """One execution of an instance; ``events`` load on first access."""

    instance_id: str
    execution_id: int
    status: str
    output: str | None
    started_at_ms: int | None = None
    completed_at_ms: int | None = None
    event_count: int | None = None
    _loader: EventLoader | None = field(default=None, repr=False)
    _events: tuple[Event, ...] | None = field(default=None, repr=False)

    @property
    def events(self) -> tuple[Event, ...]:
        """The execution's history, in ``event_id`` order."""
        if self._events is None:
            self._events = self._loader(self.instance_id, self.execution_id) if self._loader else ()
        return self._events

    @property
    def loaded(self) -> bool:
        """Whether the events are in memory."""
        return self._events is not None

    @property
    def started(self) -> OrchestrationStarted | None:
        """The execution's ``OrchestrationStarted`` event, if its history has one."""
        first = next((e for e in self.events if isinstance(e, OrchestrationStarted)), None)
        return first


def current_of(executions: Sequence[Execution], stated: int) -> Execution | None:
    """The execution ``stated`` names, else the highest one; None without executions.

    A current execution id that names no execution is a damaged instance row; the
    newest execution is the one a runtime would work on next, and falling back to
    it keeps one bad row from making the instance (and the store) unreadable.
    """
    named = next((ex for ex in executions if ex.execution_id == stated), None)
    if named is not None or not executions:
        return named
    return max(executions, key=lambda ex: ex.execution_id)


@dataclass(eq=False)
class Instance:
    """An instance with its executions, captured turns and tree links.

    ``current_execution_id`` always names one of ``executions`` when there are
    any: a stated id that names none is kept in ``stated_current_execution_id``
    and replaced by the highest execution (see :func:`current_of`), which the
    diagnosis reports as ``malformed_history``.
    """

    instance_id: str
    orchestration_name: str
    orchestration_version: str | None
    current_execution_id: int
    parent_instance_id: str | None
    status: str
    output: str | None
    custom_status: str | None = None
    executions: tuple[Execution, ...] = ()
    _turn_loader: Callable[[str], TurnJournal] | None = field(default=None, repr=False)
    _turns: tuple[TurnRecord, ...] | None = field(default=None, repr=False)
    _undecodable_turns: tuple[int, ...] = field(default=(), repr=False)
    stated_current_execution_id: int | None = None
    """The current execution id the data stated, when it named no execution; else None."""
    repeated_executions: tuple[int, ...] = ()
    """Execution ids the input held more than once, once per extra copy (which was ignored)."""
    repeated_copies: int = 0
    """How many more copies of this instance the input held (ignored: the first is used)."""

    def __post_init__(self) -> None:
        current = current_of(self.executions, self.current_execution_id)
        if current is not None and current.execution_id != self.current_execution_id:
            self.stated_current_execution_id = self.current_execution_id
            self.current_execution_id = current.execution_id

    @property
    def turns(self) -> tuple[TurnRecord, ...]:
        """Captured turns (durascope stores and bundles made from them); else empty."""
        return self._load_turns()

    @property
    def undecodable_turns(self) -> tuple[int, ...]:
        """Turn numbers of journal rows that did not decode (and are missing from ``turns``)."""
        self._load_turns()
        return self._undecodable_turns

    def _load_turns(self) -> tuple[TurnRecord, ...]:
        if self._turns is None:
            if self._turn_loader is None:
                self._turns = ()
            else:
                self._turns, self._undecodable_turns = self._turn_loader(self.instance_id)
        return self._turns

    def execution(self, execution_id: int | None = None) -> Execution:
        """One execution (the current one by default).

        Raises:
            SourceError: No such execution.
        """
        wanted = execution_id if execution_id is not None else self.current_execution_id
        for ex in self.executions:
            if ex.execution_id == wanted:
                return ex
        raise SourceError(f"instance {self.instance_id!r} has no execution {wanted}")

    @property
    def is_terminal(self) -> bool:
        """Completed or failed (a continued-as-new current execution is still going)."""
        return self.status in ("Completed", "Failed")


@dataclass(frozen=True)
class PendingMessage:
    """A queued message not yet consumed (or stuck)."""

    queue: Literal["orchestrator", "worker"]
    id: int
    instance_id: str
    item: WorkItem | None
    raw: str
    visible_at_ms: int | None
    attempt_count: int
    locked: bool


@dataclass(frozen=True)
class ChildLink:
    """A ``SubOrchestrationScheduled`` resolved to the child instance it names.

    Attributes:
        parent_instance: The scheduling instance.
        parent_execution: The scheduling execution.
        event_id: The schedule's event id in that execution.
        scheduled_as: The event's ``instance`` (auto suffix or explicit id).
        child_instance: The full child id.
        child_exists: Whether the child instance is in the model.
        child_parent: The child's recorded ``(parent_instance, parent_id, parent_execution_id)``
            from its first ``OrchestrationStarted``, if it exists.
        points_back: The child's record names this very schedule (instance and event id,
            and execution where the child recorded one).
    """

    parent_instance: str
    parent_execution: int
    event_id: int
    name: str
    scheduled_as: str
    child_instance: str
    child_exists: bool
    child_parent: tuple[str | None, int | None, int | None] | None
    points_back: bool


@dataclass(frozen=True)
class _LinkIndex:
    """Child links by parent instance and by child instance, each in ``child_links`` order.

    ``children_of`` and ``scheduling_link`` are called once per instance by the
    diagnosis, the tree view and the graph; a scan of every link per call made
    them quadratic in the number of instances.
    """

    links: tuple[ChildLink, ...]
    by_parent: dict[str, list[ChildLink]]
    by_child: dict[str, list[ChildLink]]

    @classmethod
    def of(cls, links: tuple[ChildLink, ...]) -> _LinkIndex:
        by_parent: dict[str, list[ChildLink]] = {}
        by_child: dict[str, list[ChildLink]] = {}
        for link in links:
            by_parent.setdefault(link.parent_instance, []).append(link)
            by_child.setdefault(link.child_instance, []).append(link)
        return cls(links, by_parent, by_child)


@dataclass
class Model:
    """Everything the debugger knows about one input (see the module docstring)."""

    origin: Origin
    instances: Mapping[str, Instance]
    pending: tuple[PendingMessage, ...] = ()
    data_version: int | None = None
    reader: HistoryReader | None = field(default=None, repr=False)
    orphan_turns: tuple[TurnRecord, ...] = ()
    """Captured turns of ids that never became instances (messages for missing instances)."""
    _links_indexed: _LinkIndex | None = field(default=None, init=False, repr=False, compare=False)

    def load_all(self, progress: Callable[[int], None] | None = None) -> int:
        """Load every event now (one streaming pass) instead of execution by execution."""
        if self.reader is None:
            return sum(len(ex.events) for i in self.instances.values() for ex in i.executions)
        return self.reader.load_all(self, progress)

    def changed(self) -> bool:
        """Whether the underlying store has new commits since this model was read."""
        if self.reader is None or self.data_version is None:
            return False
        return self.reader.data_version() != self.data_version

    def close(self) -> None:
        """Release the underlying file (a bundle has none)."""
        if self.reader is not None:
            self.reader.close()

    def instance(self, instance_id: str) -> Instance:
        """One instance.

        Raises:
            SourceError: It is not in this input.
        """
        try:
            return self.instances[instance_id]
        except KeyError:
            pass
        where = f"no instance {instance_id!r} in {self.origin.path} ({self.origin.kind})"
        queued, discarded = self.orphan_message_counts(instance_id)
        if not queued and not discarded:
            raise SourceError(where)
        messages = [
            f"{n} {what} message{'' if n == 1 else 's'}"
            for n, what in ((queued, "queued"), (discarded, "discarded"))
            if n
        ]
        raise SourceError(
            f"{where}: the id has no history, only {' and '.join(messages)} addressed to it "
            "(diagnose --instance reports them)"
        )

    def orphan_message_counts(self, instance_id: str) -> tuple[int, int]:
        """Messages addressed to an id that is no instance here: ``(queued, discarded)``.

        Queued ones are still on a queue; discarded ones a captured turn dropped
        because the instance did not exist.  ``(0, 0)`` for an instance.
        """
        if instance_id in self.instances:
            return 0, 0
        queued = sum(m.instance_id == instance_id for m in self.pending)
        discarded = sum(len(t.messages) for t in self.orphan_turns if t.instance == instance_id)
        return queued, discarded

    def __iter__(self) -> Iterator[Instance]:
        return iter(self.instances.values())

    @cached_property
    def child_links(self) -> tuple[ChildLink, ...]:
        """Every sub-orchestration schedule, resolved to its child (loads all events)."""
        from durascope.replay._links import resolve_child_links

        return resolve_child_links(self)

    def _link_index(self) -> _LinkIndex:
        """``child_links`` grouped by parent and by child (rebuilt if ``child_links`` is reset)."""
        links = self.child_links
        index = self._links_indexed
        if index is None or index.links is not links:
            index = self._links_indexed = _LinkIndex.of(links)
        return index

    def links_from(self, instance_id: str) -> tuple[ChildLink, ...]:
        """The links of one parent, without resolving every link of the model.

        Reads only that instance's events and its children's first events, which is
        what a view of one tree needs on a large store.
        """
        if self.__dict__.get("child_links") is not None:
            return tuple(self.children_of(instance_id))
        from durascope.replay._links import resolve_links_from

        return resolve_links_from(self, instance_id)

    def children_of(self, instance_id: str, execution_id: int | None = None) -> list[ChildLink]:
        """The child links scheduled by an instance (optionally one execution)."""
        return [
            link
            for link in self._link_index().by_parent.get(instance_id, ())
            if execution_id is None or link.parent_execution == execution_id
        ]

    def scheduling_link(self, child_instance: str) -> ChildLink | None:
        """The schedule a child answers to: the one its own record points back at.

        None for a root, and for an instance whose id some schedule merely collided with.
        """
        return next(
            (k for k in self._link_index().by_child.get(child_instance, ()) if k.points_back),
            None,
        )

    def roots(self) -> list[Instance]:
        """Instances without a parent."""
        return [i for i in self.instances.values() if not i.parent_instance_id]
