"""The turn journal: what one orchestration dispatcher turn did, as a fact."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from durascope.history._work_items import WorkItem

Verdict = Literal["applied", "filtered", "duplicate", "discarded", "aborted"]
"""The fate of one fetched message.

- ``applied``: it became a history event (or started/continued an execution);
- ``filtered``: addressed to an execution that is not the current one;
- ``duplicate``: already in history, or twice in this turn's batch;
- ``discarded``: the instance is terminal or missing, so it was acked unprocessed;
- ``aborted``: the turn failed before it could apply (nondeterminism, system error).
"""

TurnResult = Literal[
    "continue",
    "completed",
    "failed",
    "continued_as_new",
    "cancelled",
    "discarded",
    "poisoned",
]
"""How a turn ended; ``discarded`` is a terminal fast-ack with nothing applied."""

SubOrchestrationPolicy = Literal["fixed", "legacy"]
"""``fixed`` (default) applies the sub-orchestration fixes; ``legacy`` is pre-fix."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MessageVerdict(_Frozen):
    """One fetched message and what the turn did with it."""

    message: WorkItem
    verdict: Verdict
    reason: str
    event_id: int | None = None
    """The history event the message became, when applied."""


class SentWorkItem(_Frozen):
    """A work item the turn enqueued, with where it goes.

    ``target_execution`` is the execution the runtime will apply the item to:

    - an activity, a timer: the execution that scheduled it (the item's ``execution_id``);
    - a child's ``SubOrchCompleted``/``SubOrchFailed``: the parent execution it is
      addressed to (``parent_execution_id``);
    - a ``StartOrchestration`` (a child's start, a detached start): 1, the execution
      the start creates (a start reaching an existing instance is discarded or ignored);
    - a ``ContinueAsNew``: the execution it starts, the turn's execution + 1;
    - ``CancelInstance``, ``ExternalRaised``, ``QueueMessage``: None, they go to
      whatever execution is current when they are fetched.
    """

    item: WorkItem
    queue: Literal["orchestrator", "worker"]
    target_instance: str
    target_execution: int | None = None


class TurnRecord(_Frozen):
    """A captured dispatcher turn, written in the same transaction as its ack."""

    type: Literal["TurnRecord"] = "TurnRecord"
    instance: str
    execution_id: int
    """The execution the turn ran against (the new one for a continue-as-new start)."""
    turn: int
    """1-based, counted per instance across all executions."""
    timestamp_ms: int
    policy: SubOrchestrationPolicy = "fixed"
    attempt: int = 1
    messages: tuple[MessageVerdict, ...] = ()
    delta_event_ids: tuple[int, ...] = ()
    sent: tuple[SentWorkItem, ...] = ()
    """Work items enqueued, each with the instance and execution it is addressed to."""
    cancelled_activities: tuple[int, ...] = ()
    result: TurnResult
    output: str | None = None
    """Output, error display message, or next input, for a terminal result."""
    custom_status: str | None = None
    worker_id: str | None = None
