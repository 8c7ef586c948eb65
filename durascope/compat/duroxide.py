"""Drop-in replacement for the ``duroxide`` package's Python API.

Change ``from duroxide import ...`` to ``from durascope.compat.duroxide import ...``
and a duroxide-python script runs on durascope's embedded runtime, with the
sub-orchestration fixes on by default (``RuntimeOptions(policy="legacy")``
reproduces the pre-fix behaviour).
"""

from durascope.runtime import ActivityContext, OrchestrationContext, RuntimeOptions
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

Event = HistoryEvent

__all__ = [
    "ActivityContext",
    "Client",
    "Event",
    "ExecutionInfo",
    "HistoryEvent",
    "InstanceInfo",
    "InstanceTree",
    "OrchestrationContext",
    "OrchestrationResult",
    "Runtime",
    "RuntimeOptions",
    "SqliteProvider",
    "parse_result",
]
