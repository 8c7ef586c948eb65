"""Pausing Python's cyclic garbage collector around bulk work on the view model."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector during bulk decoding or diagnosis.

    A load, or a diagnosis building every timeline, allocates a million long-lived
    objects and no cycles; the collector, triggered by the allocations, would rescan
    the growing heap again and again (about half of a load's time at a million
    events, and more of a diagnosis, measured by ``bench/inspection.py``).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # What the pause allocated is long-lived (the loaded model): put it straight
        # into the oldest generation.  Left young, the first collections would scan
        # it twice, find nothing to free and promote it (at 100,000 events, 0.5 s
        # after every diagnosis); the next full collection still examines it.  Not
        # when something else keeps objects frozen (the TUI): unfreezing would
        # release those too.
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
