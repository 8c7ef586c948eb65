"""Drop-in replacement for the ``duroxide`` package's Python API.

Change ``from duroxide import ...`` to ``from durascope.compat.duroxide import ...``
and a duroxide-python script runs on durascope's embedded runtime, with the
sub-orchestration fixes on by default (``RuntimeOptions(policy="legacy")``
reproduces the pre-fix behaviour).
"""

from durascope.runtime import ActivityContext, OrchestrationContext
from durascope.runtime._compat import (
    Client,
    ExecutionInfo,
    HistoryEvent,
    InstanceInfo,
    InstanceTree,
    OrchestrationResult,
    Runtime,
    SqliteProvider,
    parse_result,
)
from durascope.runtime._compat_options import (
    MAX_TAG_NAME_BYTES,
    MAX_WORKER_TAGS,
    RuntimeOptions,
    TagFilterNames,
)

Event = HistoryEvent
TagFilter = TagFilterNames

__all__ = [
    "ActivityContext",
    "Client",
    "Event",
    "ExecutionInfo",
    "HistoryEvent",
    "InstanceInfo",
    "InstanceTree",
    "MAX_TAG_NAME_BYTES",
    "MAX_WORKER_TAGS",
    "OrchestrationContext",
    "OrchestrationResult",
    "Runtime",
    "RuntimeOptions",
    "SqliteProvider",
    "TagFilter",
    "parse_result",
]
