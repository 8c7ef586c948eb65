"""Tests of durascope.viz; shared helpers: the scenario store and in-memory models."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from durascope.history import (
    Event,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationStarted,
    SubOrchestrationCompleted,
    SubOrchestrationScheduled,
)
from durascope.replay import Execution, Instance, Model, Origin


@lru_cache(maxsize=1)
def demo_store() -> Path:
    """A store with every built-in scenario (both policies), built once per test process."""
    from durascope.scenarios import run_scenarios

    folder = Path(tempfile.mkdtemp(prefix="durascope-viz-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "scenarios.db"
    asyncio.run(run_scenarios(path))
    return path


def execution(
    instance_id: str, execution_id: int, events: Sequence[Event], status: str = "Completed"
) -> Execution:
    """An execution whose events are already in memory."""
    return Execution(instance_id, execution_id, status, None, _events=tuple(events))


def started(
    name: str,
    parent: str | None = None,
    parent_id: int | None = None,
    parent_exec: int | None = None,
) -> Event:
    """An ``OrchestrationStarted`` (event 1)."""
    return OrchestrationStarted(
        event_id=1,
        name=name,
        version="1",
        input="null",
        parent_instance=parent,
        parent_id=parent_id,
        parent_execution_id=parent_exec,
    )


def in_memory_model(instances: Sequence[Instance], path: str = "memory") -> Model:
    """A model made of instances built in the test (no store)."""
    return Model(
        origin=Origin(kind="bundle", path=path), instances={i.instance_id: i for i in instances}
    )


def fan_out(parent_id: str, child_ids: Sequence[str], executions: int = 1) -> list[Instance]:
    """A parent that continues as new ``executions - 1`` times, then fans out to explicit child ids.

    Every child completes and its completion is recorded in the last execution.
    """
    execs = []
    for n in range(1, executions):
        execs.append(
            execution(
                parent_id,
                n,
                [
                    started("Loop"),
                    OrchestrationContinuedAsNew(event_id=2, input=str(n + 1)),
                ],
            )
        )
    last = executions
    events: list[Event] = [started("Loop")]
    for k, child in enumerate(child_ids):
        events.append(
            SubOrchestrationScheduled(event_id=2 + k, name="Work", instance=child, input="null")
        )
    for k, _ in enumerate(child_ids):
        events.append(
            SubOrchestrationCompleted(
                event_id=2 + len(child_ids) + k, source_event_id=2 + k, result="1"
            )
        )
    events.append(OrchestrationCompleted(event_id=len(events) + 1, output="done"))
    execs.append(execution(parent_id, last, events))
    parent = Instance(
        parent_id, "Loop", "1", last, None, "Completed", "done", executions=tuple(execs)
    )
    children = [
        Instance(
            child,
            "Work",
            "1",
            1,
            parent_id,
            "Completed",
            "1",
            executions=(
                execution(
                    child,
                    1,
                    [
                        started("Work", parent_id, 2 + k, last),
                        OrchestrationCompleted(event_id=2, output="1"),
                    ],
                ),
            ),
        )
        for k, child in enumerate(child_ids)
    ]
    return [parent, *children]
