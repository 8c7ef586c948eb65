"""Sub-orchestration instance ids and the reserved ``sub::`` marker.

Event ids restart at 1 on continue-as-new, so ``{parent}::sub::{event_id}``
repeats across executions (the seed bug).  The fixed policy qualifies auto ids
with the execution from the second execution on: ``sub::{exec}_{event_id}``.
"""

from __future__ import annotations

import re

from durascope.history import SubOrchestrationPolicy

SUB_ORCH_AUTO_PREFIX = "sub::"
RESERVED_MARKER = "::sub::"
AUTO_SUFFIX = re.compile(r"^sub::(?:(\d+)_)?(\d+)$")
"""Both auto-id forms: ``sub::N`` (execution 1, or any execution pre-fix) and ``sub::E_N``."""


class ReservedInstanceIdError(ValueError):
    """A client tried to start a root instance with an id reserved for children."""


def child_suffix(policy: SubOrchestrationPolicy, execution_id: int, event_id: int) -> str:
    """The ``SubOrchestrationScheduled.instance`` value of an auto-id child."""
    if policy == "fixed" and execution_id > 1:
        return f"{SUB_ORCH_AUTO_PREFIX}{execution_id}_{event_id}"
    return f"{SUB_ORCH_AUTO_PREFIX}{event_id}"


def full_child_id(parent: str, scheduled_instance: str) -> str:
    """The child's instance id from the parent id and the scheduled ``instance`` value.

    A value starting with ``sub::`` is prefixed with the parent id (duroxide's
    ``build_child_instance_id``); any other explicit id is used verbatim.
    """
    if scheduled_instance.startswith(SUB_ORCH_AUTO_PREFIX):
        return f"{parent}::{scheduled_instance}"
    return scheduled_instance


def check_root_instance_id(instance_id: str) -> None:
    """Reject root ids that use the reserved child marker (``sub::`` or ``::sub::``).

    Raises:
        ReservedInstanceIdError: With duroxide's message.
    """
    if instance_id.startswith(SUB_ORCH_AUTO_PREFIX) or RESERVED_MARKER in instance_id:
        raise ReservedInstanceIdError(
            f"Invalid input: instance id '{instance_id}' uses the reserved "
            f"sub-orchestration marker '{SUB_ORCH_AUTO_PREFIX}'"
        )
