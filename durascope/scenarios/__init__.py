"""Built-in scenarios: small programs that show what the debugger is for.

Each scenario registers its code on a runtime and drives it through a client,
on a real SQLite store.  ``durascope demo`` runs them; ``fixtures/generate.py``
writes the stores and bundles the tests use.
"""

from durascope.scenarios._catalog import SCENARIOS, Scenario, scenario
from durascope.scenarios._run import run_scenarios

__all__ = ["SCENARIOS", "Scenario", "run_scenarios", "scenario"]
