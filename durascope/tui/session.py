"""What the TUI is looking at: the model, its findings and timelines, reloadable when live."""

from __future__ import annotations

import gc
import threading
from collections import defaultdict
from pathlib import Path

from durascope.replay import Finding, Model, Timeline, diagnose, open_model


class DebugSession:
    """The opened input plus derived data, shared by every screen.

    Loading and diagnosing run in thread workers; the UI reads the attributes.

    Args:
        path: A durascope store, a duroxide store or a bundle.
        allow_writes: Whether write actions may be offered (durascope stores only).
    """

    def __init__(self, path: str | Path, *, allow_writes: bool = False) -> None:
        self.path = str(path)
        self.allow_writes = allow_writes
        self.model: Model = open_model(self.path)
        self.findings: list[Finding] | None = None
        self._by_instance: dict[str, list[Finding]] = {}
        self._timelines: dict[str, Timeline] = {}
        self._lock = threading.Lock()

    @property
    def writable(self) -> bool:
        """Write actions are possible: explicitly allowed, and a durascope store."""
        return self.allow_writes and self.model.origin.kind == "durascope"

    def diagnose(self) -> list[Finding]:
        """Compute the findings (loads every event once; run it in a worker)."""
        with self._lock:
            self.model.load_all()
            findings = diagnose(self.model)
            by_instance: dict[str, list[Finding]] = defaultdict(list)
            for f in findings:
                by_instance[f.instance].append(f)
            self.findings, self._by_instance = findings, dict(by_instance)
        # The TUI process owns its heap, and the loaded model lives as long as the
        # session: freezing it keeps the full collections that UI allocations trigger
        # from walking a million model objects during a keypress (the p99 repaint
        # outliers of bench/tui.py).  A reload unfreezes first, so nothing leaks.
        gc.freeze()
        return findings

    def findings_of(self, instance_id: str) -> list[Finding]:
        """The findings about one instance (empty until diagnosed)."""
        return self._by_instance.get(instance_id, [])

    def timeline(self, instance_id: str) -> Timeline:
        """The instance's timeline (cached until the next reload)."""
        with self._lock:
            if instance_id not in self._timelines:
                self._timelines[instance_id] = Timeline.of(self.model.instance(instance_id))
            return self._timelines[instance_id]

    def changed(self) -> bool:
        """Whether the store has new commits since it was read (live mode)."""
        return self.model.changed()

    def reload(self) -> None:
        """Re-read the input and re-diagnose (run it in a worker)."""
        fresh = open_model(self.path)
        with self._lock:
            old, self.model = self.model, fresh
            self._timelines = {}
        old.close()
        gc.unfreeze()  # the old model may now be collected
        self.diagnose()

    def close(self) -> None:
        """Release the input (and let its objects be collected again)."""
        self.model.close()
        gc.unfreeze()
