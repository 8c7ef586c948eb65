"""A view model of an in-memory simulation (what-if runs, tests, benchmarks)."""

from __future__ import annotations

from durascope.replay._model import Execution, Instance, Model, Origin
from durascope.runtime import Simulation


def model_from_simulation(sim: Simulation, label: str = "simulation") -> Model:
    """The debugger's view of a :class:`Simulation`, captured turns included."""
    turns: dict[str, list[object]] = {}
    for record in sim.turns:
        turns.setdefault(record.instance, []).append(record)
    instances: dict[str, Instance] = {}
    for iid, state in sim.instances.items():
        executions = tuple(
            Execution(
                instance_id=iid,
                execution_id=ex,
                status=state.statuses.get(ex, "Running"),
                output=state.outputs.get(ex),
                event_count=len(events),
                _events=tuple(events),
            )
            for ex, events in sorted(state.executions.items())
        )
        instances[iid] = Instance(
            instance_id=iid,
            orchestration_name=state.orchestration_name,
            orchestration_version=state.orchestration_version,
            current_execution_id=state.current_execution_id,
            parent_instance_id=state.parent_instance_id,
            status=state.status,
            output=state.output,
            custom_status=state.custom_status,
            executions=executions,
            _turns=tuple(turns.get(iid, ())),  # type: ignore[arg-type]
        )
    orphans = tuple(r for r in sim.turns if r.instance not in sim.instances)
    return Model(
        origin=Origin(kind="memory", path=label),
        instances=instances,
        orphan_turns=orphans,
    )
