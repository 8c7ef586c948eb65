"""A private event loop on a daemon thread, behind every sync facade.

Sync callers (scripts, the duroxide-python compatible facade, notebook cells)
submit coroutines to this loop and block on the result.  Because the loop is
not the caller's, this works inside Jupyter, whose kernel already runs a loop
(``asyncio.run`` would fail there).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """An asyncio loop running forever on a daemon thread."""

    _shared: BackgroundLoop | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="durascope-loop", daemon=True
        )
        self._thread.start()

    @classmethod
    def shared(cls) -> BackgroundLoop:
        """The process-wide loop, started on first use."""
        with cls._shared_lock:
            if cls._shared is None or not cls._shared._thread.is_alive():
                cls._shared = cls()
            return cls._shared

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result.

        Raises:
            RuntimeError: When called from the loop's own thread (it would deadlock),
                e.g. from an ``async`` activity calling the sync client.
        """
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "a durascope sync call was made on the runtime's own event loop; "
                "use the async API (durascope.runtime.Client) from async code"
            )
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)
