"""Run your own orchestrations on durascope, then look at them in the debugger.

    python examples/run_my_orchestrations.py            # writes ./orders.db, opens the TUI
    python examples/run_my_orchestrations.py --no-tui   # prints the diagnosis instead

The code is plain duroxide-python: only the import line says durascope.
"""

from __future__ import annotations

import sys
from typing import Any

from durascope.cli import main as durascope_cli
from durascope.compat.duroxide import Client, Runtime, SqliteProvider

STORE = "orders.db"

provider = SqliteProvider.open(STORE)
runtime = Runtime(provider)


@runtime.register_activity("Reserve")
def reserve(ctx: Any, item: str) -> dict[str, Any]:
    return {"item": item, "reserved": True}


@runtime.register_activity("Charge")
def charge(ctx: Any, order: dict[str, Any]) -> str:
    return f"charged {order['id']} for {len(order['items'])} items"


@runtime.register_orchestration("ReserveItem")
def reserve_item(ctx: Any, item: str) -> Any:
    return (yield ctx.schedule_activity("Reserve", item))


@runtime.register_orchestration("PlaceOrder")
def place_order(ctx: Any, order: dict[str, Any]) -> Any:
    ctx.set_custom_status("reserving")
    reservations = yield ctx.all(
        [ctx.schedule_sub_orchestration("ReserveItem", item) for item in order["items"]]
    )
    ctx.set_custom_status("charging")
    receipt = yield ctx.schedule_activity("Charge", order)
    return {"reservations": reservations, "receipt": receipt}


def run() -> None:
    """Start a few orders, wait for them, then open the debugger on the store."""
    runtime.start()
    client = Client(provider)
    for n in range(3):
        order = {"id": f"order-{n}", "items": [f"sku-{n}-{i}" for i in range(n + 1)]}
        client.start_orchestration(f"order-{n}", "PlaceOrder", order)
    for n in range(3):
        result = client.wait_for_orchestration(f"order-{n}", 30_000)
        print(f"order-{n}: {result.status} {result.output}")
    runtime.shutdown()
    provider.close()
    if "--no-tui" in sys.argv or not sys.stdout.isatty():
        sys.exit(durascope_cli(["diagnose", STORE]))
    sys.exit(durascope_cli(["tui", STORE]))


if __name__ == "__main__":
    run()
