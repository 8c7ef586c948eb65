"""Handling what the user's orchestration code raises, so that none of it escapes a turn.

duroxide-python fails the orchestration for anything its code raises (an exception
of any kind but ``KeyboardInterrupt``, ``sys.exit()`` included), however odd the
exception: one whose ``__str__`` raises is reported as ``Bad: <exception str()
failed>``.  The replayer does the same, and every text it makes of such an
exception goes through the helpers here, which cannot fail.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Generator
from typing import Any

_log = logging.getLogger("durascope.orchestration")

UNFORMATTABLE = "<exception str() failed>"
"""What Python's traceback module, and so duroxide-python, shows for such an exception."""


def format_raised(exc: BaseException) -> str:
    """The failure message for ``exc``: its traceback, as duroxide-python records it."""
    # The first frame is the replayer's own send/throw call, which says nothing to the user.
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    try:
        return "".join(traceback.format_exception(type(exc), exc, tb))
    except KeyboardInterrupt:
        raise
    except BaseException:
        # The traceback module guards __str__ but not everything a user's exception
        # may override (__notes__, a metaclass's __qualname__).
        return f"{type.__repr__(type(exc))}: {UNFORMATTABLE}"


def exception_text(exc: BaseException) -> str:
    """``str(exc)``, or Python's placeholder when the exception's ``__str__`` raises."""
    try:
        return str(exc)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return UNFORMATTABLE


def close_quietly(gen: Generator[Any, Any, Any]) -> None:
    """Close the code's generator, whatever its finally blocks do.

    A finally block that yields (Python raises "generator ignored GeneratorExit"),
    raises, or an ``except GeneratorExit`` that keeps going, cannot change a turn
    whose outcome is decided: duroxide-python drops the generator and Python reports
    such errors as unraisable; here they are logged at debug level and dropped.
    """
    try:
        gen.close()
    except KeyboardInterrupt:
        raise
    except BaseException:
        _log.debug("closing an orchestration generator raised", exc_info=True)
