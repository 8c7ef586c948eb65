"""duroxide-python's ``RuntimeOptions`` and ``TagFilter`` helper, for the compat facade.

``RuntimeOptions`` takes exactly duroxide-python's arguments (positionally too, in
its order) and maps the ones with a meaning here onto durascope's
:class:`durascope.runtime.RuntimeOptions`; the others (log format, service name,
sessions, lock-renewal buffers) are accepted and kept but change nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import KW_ONLY, dataclass, replace
from typing import Any

from durascope.history import SubOrchestrationPolicy
from durascope.runtime._dispatchers import RuntimeOptions as NativeOptions
from durascope.runtime._tag_filter import MAX_WORKER_TAGS, TagFilter

MAX_TAG_NAME_BYTES = 256
"""duroxide's limit on the length of an activity tag."""

_LOG_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "off": logging.CRITICAL + 1,
}


@dataclass(frozen=True)
class RuntimeOptions:
    """duroxide-python's ``RuntimeOptions``: every argument optional (None: the default).

    Mapped onto durascope's options: ``orchestration_concurrency``,
    ``worker_concurrency``, ``dispatcher_poll_interval_ms`` (the longest idle wait
    between polls), ``worker_lock_timeout_ms``, ``orchestrator_lock_timeout_ms``,
    ``max_attempts``, ``worker_node_id`` (the worker id in turn records),
    ``worker_tag_filter`` (duroxide-python's strings, see :class:`TagFilter`) and
    ``log_level`` (a level name such as ``"info"`` sets the ``durascope`` loggers'
    level when the runtime starts).  The rest are accepted and ignored.  Keyword-only
    extras: ``policy`` (``"legacy"`` reproduces the pre-fix sub-orchestration
    behaviour) and ``retry_backoff_ms`` (first delay before unregistered work is
    retried, 1 s by default as in duroxide).
    """

    orchestration_concurrency: int | None = None
    worker_concurrency: int | None = None
    dispatcher_poll_interval_ms: int | None = None
    worker_lock_timeout_ms: int | None = None
    log_format: str | None = None
    log_level: str | None = None
    service_name: str | None = None
    service_version: str | None = None
    max_sessions_per_runtime: int | None = None
    session_idle_timeout_ms: int | None = None
    worker_node_id: str | None = None
    worker_tag_filter: str | None = None
    orchestrator_lock_timeout_ms: int | None = None
    orchestrator_lock_renewal_buffer_ms: int | None = None
    max_attempts: int | None = None
    worker_lock_renewal_buffer_ms: int | None = None
    session_lock_timeout_ms: int | None = None
    session_lock_renewal_buffer_ms: int | None = None
    _: KW_ONLY
    policy: SubOrchestrationPolicy = "fixed"
    retry_backoff_ms: int | None = None

    def native(self) -> NativeOptions:
        """The durascope options these stand for (durascope's defaults where unset)."""
        mapped: dict[str, Any] = {
            "orchestration_concurrency": self.orchestration_concurrency,
            "worker_concurrency": self.worker_concurrency,
            "orchestration_lock_ms": self.orchestrator_lock_timeout_ms,
            "worker_lock_ms": self.worker_lock_timeout_ms,
            "max_attempts": self.max_attempts,
            "idle_poll_max_ms": self.dispatcher_poll_interval_ms,
            "worker_id": self.worker_node_id,
            "retry_backoff_ms": self.retry_backoff_ms,
            "worker_tag_filter": (
                None if self.worker_tag_filter is None else TagFilter.parse(self.worker_tag_filter)
            ),
        }
        given = {name: value for name, value in mapped.items() if value is not None}
        return replace(NativeOptions(policy=self.policy), **given)

    def apply_log_level(self) -> None:
        """Set the ``durascope`` loggers' level from ``log_level`` when it names a level."""
        level = _LOG_LEVELS.get((self.log_level or "").strip().lower())
        if level is not None:
            logging.getLogger("durascope").setLevel(level)


class TagFilterNames:
    """duroxide-python's ``TagFilter`` helper: the strings ``worker_tag_filter`` takes."""

    DEFAULT_ONLY = "default_only"
    ANY = "any"
    NONE = "none"

    @staticmethod
    def tags(tags: list[str]) -> str:
        """Only activities with one of ``tags`` (not untagged ones)."""
        return json.dumps({"tags": list(tags)})

    @staticmethod
    def default_and(tags: list[str]) -> str:
        """Untagged activities and those with one of ``tags``."""
        return json.dumps({"default_and": list(tags)})


__all__ = ["MAX_TAG_NAME_BYTES", "MAX_WORKER_TAGS", "RuntimeOptions", "TagFilterNames"]
