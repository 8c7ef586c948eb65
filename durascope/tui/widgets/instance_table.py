"""The instance browser's table: one row per instance (rows, not widgets).

Cells are ``Text``, never ``str``: a ``str`` cell is parsed as Rich markup, and ids
and names come from the store (``[/]`` in an id would raise).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from durascope.replay import Finding, Instance
from durascope.tui.text import badges, plain, status


def matches(inst: Instance, query: str) -> bool:
    """Filter: ``status:failed``, ``name:Foo``, or free text matched against id and name."""
    for token in query.split():
        key, _, value = token.partition(":")
        value = value.lower()
        if key == "status" and value:
            if inst.status.lower() != value:
                return False
        elif key == "name" and value:
            if value not in inst.orchestration_name.lower():
                return False
        elif token.lower() not in f"{inst.instance_id} {inst.orchestration_name}".lower():
            return False
    return True


class InstanceTable(DataTable[object]):
    """Instances with name, status, execution count and finding badges."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("instance", key="instance")
        self.add_column("orchestration", key="name")
        self.add_column("status", key="status")
        self.add_column("execs", key="execs")
        self.add_column("findings", key="findings")

    def show(
        self,
        instances: list[Instance],
        findings: dict[str, list[Finding]] | None,
    ) -> None:
        """Replace the rows (keys are instance ids)."""
        self.clear()
        self.add_rows(
            (
                plain(inst.instance_id, 60),
                plain(inst.orchestration_name, 30),
                status(inst.status),
                Text(str(len(inst.executions))),
                badges(None if findings is None else findings.get(inst.instance_id, [])),
            )
            for inst in instances
        )
        self._ids = [inst.instance_id for inst in instances]

    def instance_at_cursor(self) -> str | None:
        """The instance id of the highlighted row."""
        ids: list[str] = getattr(self, "_ids", [])
        if not ids or self.cursor_row < 0 or self.cursor_row >= len(ids):
            return None
        return ids[self.cursor_row]
