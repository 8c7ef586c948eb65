"""Built-in scenarios: small programs that show what the debugger is for.

Each scenario registers its code on a runtime and drives it through a client,
on a real SQLite store.  ``durascope demo`` runs them, into a store it stamps as
its own so that a second run replaces that store and never anyone else's;
``fixtures/generate.py`` writes the stores and bundles the tests use.
"""

from durascope.scenarios._catalog import SCENARIOS, Scenario, scenario
from durascope.scenarios._demo_store import (
    NotADemoStoreError,
    check_replaceable,
    create_demo_store,
    record_demo_instances,
)
from durascope.scenarios._run import run_scenarios

__all__ = [
    "SCENARIOS",
    "NotADemoStoreError",
    "Scenario",
    "check_replaceable",
    "create_demo_store",
    "record_demo_instances",
    "run_scenarios",
    "scenario",
]
