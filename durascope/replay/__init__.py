"""The debugger's core: open any input into one view model (and, later, replay it).

``open_model(path)`` reads a durascope store (live or not), a real duroxide
SQLite store, or a bundle, read-only, and says which it opened.  Nothing here
imports a UI library.
"""

from durascope.replay._bundle import (
    BUNDLE_SCHEMA_VERSION,
    Bundle,
    build_bundle,
    load_bundle,
    select_tree,
    write_bundle,
)
from durascope.replay._collector import collector_paused
from durascope.replay._diagnostics import diagnose, inferred_because
from durascope.replay._findings import (
    FINDINGS_ADAPTER,
    Finding,
    FindingKind,
    Ref,
    RefRole,
    Severity,
)
from durascope.replay._model import (
    ChildLink,
    Execution,
    Instance,
    Model,
    Origin,
    PendingMessage,
    SourceError,
    SourceKind,
)
from durascope.replay._open import open_model
from durascope.replay._output_files import refuse_input_as_output, write_atomically
from durascope.replay._redact import redaction_marker
from durascope.replay._reexecute import (
    Divergence,
    Reexecution,
    UnregisteredOrchestration,
    reexecute,
    side_by_side,
)
from durascope.replay._simulated_source import model_from_simulation
from durascope.replay._state import ExecutionFold, ExecutionState, Schedule, fold
from durascope.replay._stepper import Stepper, TurnView
from durascope.replay._text import event_summary, safe_text
from durascope.replay._timeline import Timeline, Turn
from durascope.replay._user_code import load_user_code
from durascope.replay._what_if import PolicyOutcome, WhatIf, what_if

__all__ = [
    # Opening inputs
    "open_model",
    "model_from_simulation",
    "SourceError",
    "SourceKind",
    # The view model
    "Model",
    "Origin",
    "Instance",
    "Execution",
    "PendingMessage",
    "ChildLink",
    # Time travel
    "Timeline",
    "Turn",
    "Stepper",
    "TurnView",
    "ExecutionState",
    "ExecutionFold",
    "Schedule",
    "fold",
    # Re-execution and what-if
    "load_user_code",
    "reexecute",
    "Reexecution",
    "Divergence",
    "UnregisteredOrchestration",
    "side_by_side",
    "what_if",
    "WhatIf",
    "PolicyOutcome",
    # Diagnostics
    "diagnose",
    "inferred_because",
    "Finding",
    "FindingKind",
    "Severity",
    "Ref",
    "RefRole",
    "FINDINGS_ADAPTER",
    # Bundles
    "Bundle",
    "BUNDLE_SCHEMA_VERSION",
    "build_bundle",
    "collector_paused",
    "write_bundle",
    "load_bundle",
    "select_tree",
    "redaction_marker",
    # Output files
    "refuse_input_as_output",
    "write_atomically",
    # Text
    "event_summary",
    "safe_text",
]
