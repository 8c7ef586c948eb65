"""Resolve each ``SubOrchestrationScheduled`` to the child instance it names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from durascope.history import SubOrchestrationScheduled
from durascope.runtime import full_child_id

if TYPE_CHECKING:
    from durascope.replay._model import ChildLink, Instance, Model


def resolve_child_links(model: Model) -> tuple[ChildLink, ...]:
    """Every schedule with its child, marking the one the child's record points back at.

    A child records its parent as ``(parent_instance, parent_id, parent_execution_id)``.
    Pre-fix histories have no execution there, and an auto id repeats across
    continue-as-new, so several schedules can match: the child was started by the
    first of them (later starts were discarded or absorbed), so only that one
    points back.
    """
    links = [link for instance in model.instances.values() for link in _links_of(model, instance)]
    # Without a recorded execution, only the earliest matching schedule started the child.
    claimed: set[str] = set()
    result: list[ChildLink] = []
    for link in sorted(links, key=lambda k: (k.parent_instance, k.parent_execution, k.event_id)):
        if link.points_back and link.child_parent and link.child_parent[2] is None:
            if link.child_instance in claimed:
                link = _replace_points_back(link, False)
            claimed.add(link.child_instance)
        result.append(link)
    return tuple(result)


def resolve_links_from(model: Model, instance_id: str) -> tuple[ChildLink, ...]:
    """The links of one parent only (reads its events and its children's first events)."""
    links = _links_of(model, model.instance(instance_id))
    claimed: set[str] = set()
    result = []
    for link in links:
        if link.points_back and link.child_parent and link.child_parent[2] is None:
            if link.child_instance in claimed:
                link = _replace_points_back(link, False)
            claimed.add(link.child_instance)
        result.append(link)
    return tuple(result)


def _links_of(model: Model, instance: Instance) -> list[ChildLink]:
    from durascope.replay._model import ChildLink

    links: list[ChildLink] = []
    for execution in instance.executions:
        for event in execution.events:
            if not isinstance(event, SubOrchestrationScheduled):
                continue
            child_id = full_child_id(instance.instance_id, event.instance)
            child = model.instances.get(child_id)
            recorded: tuple[str | None, int | None, int | None] | None = None
            if child is not None and child.executions:
                started = child.executions[0].started
                if started is not None:
                    recorded = (
                        started.parent_instance,
                        started.parent_id,
                        started.parent_execution_id,
                    )
            points_back = recorded is not None and (
                recorded[0] == instance.instance_id
                and recorded[1] == event.event_id
                and recorded[2] in (None, execution.execution_id)
            )
            links.append(
                ChildLink(
                    parent_instance=instance.instance_id,
                    parent_execution=execution.execution_id,
                    event_id=event.event_id,
                    name=event.name,
                    scheduled_as=event.instance,
                    child_instance=child_id,
                    child_exists=child is not None,
                    child_parent=recorded,
                    points_back=points_back,
                )
            )
    return links


def _replace_points_back(link: ChildLink, value: bool) -> ChildLink:
    from dataclasses import replace

    return replace(link, points_back=value)
