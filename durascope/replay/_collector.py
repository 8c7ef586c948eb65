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
        if was_enabled:
            gc.enable()
