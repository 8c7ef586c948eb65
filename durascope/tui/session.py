"""What the TUI is looking at: snapshots of the input, swapped in whole when ready.

A :class:`Snapshot` is one opened model with its findings.  Loading every event
and diagnosing take seconds on a large store, so they run in a worker on a model
of their own (:meth:`DebugSession.build_snapshot`) while the UI keeps reading the
current snapshot; the UI thread then swaps the new one in with a single
assignment (:meth:`DebugSession.install`).  Nothing holds a lock across a load:
the UI thread never waits for a worker.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from durascope.replay import Finding, Model, Timeline, diagnose, open_model

__all__ = ["QUICK_TIMELINE_EVENTS", "DebugSession", "Snapshot"]

QUICK_TIMELINE_EVENTS = 3_000
"""A timeline of an in-memory instance up to this many events is built on the UI thread."""


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One read of the input, immutable once installed.

    Attributes:
        model: The view model.
        findings: Its findings, or None before the first diagnosis.
        by_instance: The findings grouped by the instance they are about.
        generation: Increases with every snapshot a session installs.
        timelines: Timelines built from this model (a cache; filled on demand).
    """

    model: Model
    findings: list[Finding] | None = None
    by_instance: Mapping[str, list[Finding]] = field(default_factory=dict)
    generation: int = 0
    timelines: dict[str, Timeline] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        """Every event and turn is in memory (diagnosed, or a bundle): reads do no I/O."""
        return self.findings is not None or self.model.reader is None

    def findings_of(self, instance_id: str) -> list[Finding]:
        """The findings about one instance (empty until diagnosed)."""
        return self.by_instance.get(instance_id, [])

    def timeline(self, instance_id: str) -> Timeline:
        """The instance's timeline, its checkpoints folded (built once per snapshot).

        It may read the store (run it in a worker unless :meth:`quick_timeline`).  A
        timeline is cached only once complete, so a worker still folding one never
        shares it with the UI thread.

        Raises:
            SourceError: The instance is not in this snapshot, or the store failed.
        """
        cached = self.timelines.get(instance_id)
        if cached is None:
            cached = Timeline.of(self.model.instance(instance_id))
            cached.build_checkpoints()
            cached = self.timelines.setdefault(instance_id, cached)
        return cached

    def quick_timeline(self, instance_id: str) -> bool:
        """Whether the instance's timeline can be had on the UI thread without I/O."""
        if instance_id in self.timelines:
            return True
        inst = self.model.instances.get(instance_id)
        if inst is None or not self.loaded:
            return False
        return sum(len(ex.events) for ex in inst.executions) <= QUICK_TIMELINE_EVENTS


class DebugSession:
    """The opened input plus derived data, shared by every screen.

    The UI thread reads :attr:`snapshot` (or the shortcuts below); workers build
    the next one with :meth:`build_snapshot`, and the UI thread installs it.

    Args:
        path: A durascope store, a duroxide store or a bundle.
        allow_writes: Whether write actions may be offered (durascope stores only).
    """

    def __init__(self, path: str | Path, *, allow_writes: bool = False) -> None:
        self.path = str(path)
        self.allow_writes = allow_writes
        self.snapshot = Snapshot(open_model(self.path))
        self._attempted: int | None = None  # the data version the last build read

    @property
    def model(self) -> Model:
        """The current snapshot's model."""
        return self.snapshot.model

    @property
    def findings(self) -> list[Finding] | None:
        """The current snapshot's findings (None until the first diagnosis)."""
        return self.snapshot.findings

    @property
    def writable(self) -> bool:
        """Write actions are possible: explicitly allowed, and a durascope store."""
        return self.allow_writes and self.model.origin.kind == "durascope"

    def findings_of(self, instance_id: str) -> list[Finding]:
        """The findings about one instance in the current snapshot."""
        return self.snapshot.findings_of(instance_id)

    def timeline(self, instance_id: str) -> Timeline:
        """The instance's timeline in the current snapshot (see :meth:`Snapshot.timeline`)."""
        return self.snapshot.timeline(instance_id)

    def changed(self) -> bool:
        """Whether the store has commits that no snapshot, nor the last attempt, has read.

        So a build that failed is retried only once the store changes again.
        """
        model = self.snapshot.model
        if model.reader is None or model.data_version is None:
            return False
        now = model.reader.data_version()
        return now != model.data_version and now != self._attempted

    def build_snapshot(self) -> Snapshot:
        """Read the input afresh, load every event and diagnose (run it in a worker).

        A store is opened again, so the current snapshot stays readable while this
        runs; a bundle (already in memory, never changing) is diagnosed as it is.

        Raises:
            SourceError: The input cannot be read (a half-written file, say).
        """
        current = self.snapshot
        model = current.model if current.model.reader is None else open_model(self.path)
        self._attempted = model.data_version
        try:
            model.load_all()
            findings = diagnose(model)
        except BaseException:
            if model is not current.model:
                model.close()
            raise
        by_instance: dict[str, list[Finding]] = defaultdict(list)
        for f in findings:
            by_instance[f.instance].append(f)
        return Snapshot(model, findings, dict(by_instance), current.generation + 1)

    def install(self, snapshot: Snapshot) -> Model | None:
        """Make ``snapshot`` current (UI thread); returns the model it retired, if any.

        The caller closes the retired model once its screens have moved on.
        """
        old = self.snapshot
        self.snapshot = snapshot
        # The TUI process owns its heap and the loaded model lives until the next
        # snapshot: freezing it keeps the full collections that UI allocations
        # trigger from walking a million model objects during a keypress (the p99
        # repaint outliers of bench/bench_tui.py).  The model holds no reference
        # cycles, so a retired one is freed by reference counting, frozen or not.
        gc.freeze()
        return old.model if old.model is not snapshot.model else None

    def close(self) -> None:
        """Release the input (and let its objects be collected again)."""
        self.snapshot.model.close()
        gc.unfreeze()
