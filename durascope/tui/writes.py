"""Write actions on a durascope store (raise an event, cancel), behind --allow-writes."""

from __future__ import annotations

import json

from durascope.runtime import Client, SqliteStore
from durascope.tui.screens.confirm import WriteRequest

__all__ = ["perform"]


async def perform(path: str, request: WriteRequest) -> str:
    """Carry out a confirmed write through the runtime's client; returns what was done."""
    store = await SqliteStore.open(path)
    try:
        client = Client(store)
        if request.action == "raise":
            try:
                data = json.loads(request.data)
            except json.JSONDecodeError:
                data = request.data
            await client.raise_event(request.instance_id, request.name, data)
            return f"raised {request.name!r} on {request.instance_id}"
        await client.cancel_instance(request.instance_id, "cancelled from durascope tui")
        return f"cancel requested for {request.instance_id}"
    finally:
        await store.close()
