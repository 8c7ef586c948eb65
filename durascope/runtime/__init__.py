"""The durable runtime: replay engine, orchestration API, store, dispatchers, client.

The turn function :func:`process_turn` is pure and shared with the debugger.
:class:`Runtime` and :class:`Client` are the async API over a SQLite store;
:mod:`durascope.compat.duroxide` is the duroxide-python compatible sync facade.
"""

from durascope.runtime._activities import ActivityContext, activity_failure_message
from durascope.runtime._background_loop import BackgroundLoop
from durascope.runtime._child_ids import (
    AUTO_SUFFIX,
    ReservedInstanceIdError,
    check_root_instance_id,
    child_suffix,
    full_child_id,
)
from durascope.runtime._client import Client, InstanceTree, OrchestrationState
from durascope.runtime._context import OrchestrationContext
from durascope.runtime._dispatchers import RuntimeOptions
from durascope.runtime._engine import process_turn
from durascope.runtime._registry import DEFAULT_VERSION, OrchestrationResolver, Registry
from durascope.runtime._replayer import (
    NondeterminismDetected,
    OrchestrationFn,
    Replayer,
    ReplayResult,
)
from durascope.runtime._runtime import Runtime
from durascope.runtime._schema import SCHEMA_VERSION
from durascope.runtime._simulator import SimulatedInstance, Simulation
from durascope.runtime._store import SqliteStore
from durascope.runtime._store_types import (
    ExecutionRow,
    InstanceRow,
    LockLostError,
    OrchestrationBatch,
    QueuedMessage,
    StoreBusyError,
    StoreError,
    WorkBatch,
)
from durascope.runtime._tag_filter import TagFilter
from durascope.runtime._tasks import RetryPolicy, Task
from durascope.runtime._turn_types import (
    ENGINE_VERSION,
    ExecutionStatus,
    TurnInput,
    TurnOutcome,
)

__all__ = [
    # Running orchestrations
    "Runtime",
    "RuntimeOptions",
    "Client",
    "OrchestrationState",
    "InstanceTree",
    "Registry",
    "OrchestrationResolver",
    "OrchestrationContext",
    "ActivityContext",
    "OrchestrationFn",
    "RetryPolicy",
    "TagFilter",
    "Task",
    "DEFAULT_VERSION",
    "BackgroundLoop",
    # The turn function (shared with the debugger)
    "process_turn",
    "TurnInput",
    "TurnOutcome",
    "ExecutionStatus",
    "ENGINE_VERSION",
    "SCHEMA_VERSION",
    "Replayer",
    "ReplayResult",
    "NondeterminismDetected",
    "Simulation",
    "SimulatedInstance",
    # Child ids
    "AUTO_SUFFIX",
    "ReservedInstanceIdError",
    "check_root_instance_id",
    "child_suffix",
    "full_child_id",
    "activity_failure_message",
    # Store
    "SqliteStore",
    "OrchestrationBatch",
    "WorkBatch",
    "InstanceRow",
    "ExecutionRow",
    "QueuedMessage",
    "StoreError",
    "StoreBusyError",
    "LockLostError",
]
