"""What the reliability tests did, counted as they run and printed at the end of the session.

The closing note and the README's reliability section quote these figures; they
are printed by ``pytest_terminal_summary`` in ``conftest.py``, not asserted.
"""

from __future__ import annotations

from collections import Counter

FUZZED: Counter[str] = Counter()
"""Hostile inputs fed to the debugger, by kind, and CLI runs (``cli runs``)."""

KILLS: Counter[str] = Counter()
"""SIGKILL trials: trials, orchestrations, and the faults injected by point."""

WHERE: Counter[str] = Counter()
"""Where inside the transactions the kills landed (``ack before statement 3``...)."""

NOTES: list[str] = []
"""One-line results of the other reliability tests (contention, lease expiry...)."""
