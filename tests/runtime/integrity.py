"""Invariants every durascope store must satisfy after any crash or contention."""

from __future__ import annotations

import json
from collections import Counter

from durascope.history import is_terminal
from durascope.runtime import SqliteStore


async def integrity_problems(store: SqliteStore) -> list[str]:
    """Return a description of every broken invariant (empty when the store is sound).

    Checked: event ids of each execution are 1..n without gaps or repeats; exactly
    one ``OrchestrationStarted`` (event 1) and at most one terminal event per
    execution; no schedule completed twice; and the turn journal covers every
    event exactly once, with turn numbers 1..t per instance.
    """
    problems: list[str] = []
    for row in await store.list_instances():
        turns = await store.list_turns(row.instance_id)
        numbers = [t.turn for t in turns]
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{row.instance_id}: turn numbers {numbers}")
        journal: Counter[tuple[int, int]] = Counter(
            (t.execution_id, eid) for t in turns for eid in t.delta_event_ids
        )
        for ex in await store.list_executions(row.instance_id):
            events = await store.read_history(row.instance_id, ex.execution_id)
            ids = [e.event_id for e in events]
            where = f"{row.instance_id}#{ex.execution_id}"
            if ids != list(range(1, len(ids) + 1)):
                problems.append(f"{where}: event ids {ids}")
            if not events or events[0].type != "OrchestrationStarted":
                problems.append(f"{where}: does not start with OrchestrationStarted")
            if sum(e.type == "OrchestrationStarted" for e in events) != 1:
                problems.append(f"{where}: several OrchestrationStarted")
            if sum(is_terminal(e) for e in events) > 1:
                problems.append(f"{where}: several terminal events")
            completions = Counter(
                e.source_event_id
                for e in events
                if e.type.endswith(("Completed", "Failed", "Fired"))
                and e.source_event_id is not None
            )
            twice = [src for src, n in completions.items() if n > 1]
            if twice:
                problems.append(f"{where}: schedules completed twice: {twice}")
            for eid in ids:
                if journal[(ex.execution_id, eid)] != 1:
                    problems.append(
                        f"{where}: event {eid} in {journal[(ex.execution_id, eid)]} turn records"
                    )
        covered = set(journal)
        known = {
            (ex.execution_id, e.event_id)
            for ex in await store.list_executions(row.instance_id)
            for e in await store.read_history(row.instance_id, ex.execution_id)
        }
        if covered - known:
            problems.append(
                f"{row.instance_id}: journal names missing events {sorted(covered - known)}"
            )
    return problems


def decoded(output: str | None) -> object:
    """Decode a stored JSON output."""
    return None if output is None else json.loads(output)
