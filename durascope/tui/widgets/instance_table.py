"""The instance browser's table: one row per instance (rows, not widgets).

Cells are ``Text``, never ``str``: a ``str`` cell is parsed as Rich markup, and ids
and names come from the store (``[/]`` in an id would raise).  Rows are keyed by
instance id; a reload updates only the cells that changed and appends new
instances, instead of rebuilding ten thousand rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from durascope.replay import Finding, Instance, collector_paused, safe_text
from durascope.tui.text import badges, status

__all__ = ["InstanceTable", "matches"]

_REBUILD_BEYOND = 64
"""Rows leaving the table in one update beyond which it is rebuilt instead."""

_COLUMNS = (
    ("instance", "instance"),
    ("orchestration", "name"),
    ("status", "status"),
    ("execs", "execs"),
    ("findings", "findings"),
)


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


class _Cell(Text):
    """A one-line cell whose width the table takes from :class:`InstanceTable`.

    ``DataTable`` measures every new cell through the console (about half of the
    first screen on 10,000 instances, measured by ``bench/bench_tui.py``); a
    one-line ``Text`` is as wide as its ``cell_len``, which the table computes
    itself, so the console measure is switched off.
    """

    __rich_measure__ = None  # type: ignore[assignment]


def _cell(text: Text) -> _Cell:
    """``text`` as a cell (same characters, style and spans)."""
    cell = _Cell(text.plain, style=text.style)
    cell.spans = list(text.spans)
    return cell


_Signature = tuple[str, str, str, int, tuple[int, int, int] | None]
"""What a row shows, column by column, as plain values (compared to skip unchanged cells)."""

_FindingsOf = Callable[[Instance], list[Finding] | None]


def _signature(inst: Instance, findings: list[Finding] | None) -> _Signature:
    counts = None
    if findings is not None:
        severities = [f.severity for f in findings]
        counts = (
            severities.count("error"),
            severities.count("warning"),
            severities.count("info"),
        )
    return (inst.instance_id, inst.orchestration_name, inst.status, len(inst.executions), counts)


class InstanceTable(DataTable[Text]):
    """Instances with name, status, execution count and finding badges."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label, key in _COLUMNS:
            self.add_column(label, key=key)
        self._widths = {key: len(label) for label, key in _COLUMNS}

    _widths: dict[str, int] = {}
    """The widest cell of each column so far (with its label): the columns' widths."""

    def _fit(self, cells: tuple[_Cell, ...]) -> None:
        for (_, key), cell in zip(_COLUMNS, cells, strict=True):
            if cell.cell_len > self._widths[key]:
                self._widths[key] = cell.cell_len

    def _apply_widths(self) -> None:
        for key, width in self._widths.items():
            self.columns[ColumnKey(key)].content_width = width
        self.refresh()

    _ids: list[str] = []
    _signatures: dict[str, _Signature] = {}
    rebuilds = 0
    """How many times every row was rebuilt (for tests)."""
    updated_rows = 0
    """How many rows the last :meth:`show` added or changed (for tests)."""

    def _cells(self, inst: Instance, findings: list[Finding] | None) -> tuple[_Cell, ...]:
        cells = (
            _Cell(safe_text(inst.instance_id, 60)),
            _Cell(safe_text(inst.orchestration_name, 30)),
            _cell(status(inst.status)),
            _Cell(str(len(inst.executions))),
            _cell(badges(findings)),
        )
        self._fit(cells)
        return cells

    def show(
        self,
        instances: list[Instance],
        findings: Mapping[str, list[Finding]] | None,
    ) -> None:
        """Show ``instances`` in order: update changed rows, add new ones, drop gone ones."""
        # Each row is a few long-lived objects and a cursor-watcher call; the collector,
        # triggered by the allocations, would rescan the growing table again and again
        # (a quarter of the first screen on 10,000 instances, bench/bench_tui.py).
        with collector_paused():
            self._show(instances, findings)

    def _show(
        self,
        instances: list[Instance],
        findings: Mapping[str, list[Finding]] | None,
    ) -> None:
        def of(inst: Instance) -> list[Finding] | None:
            return None if findings is None else findings.get(inst.instance_id, [])

        new_ids = [inst.instance_id for inst in instances]
        wanted = set(new_ids)
        gone = [i for i in self._ids if i not in wanted]
        kept = [i for i in self._ids if i in wanted]
        if (
            not self._ids
            or len(gone) > _REBUILD_BEYOND
            or new_ids[: len(kept)] != kept  # not the old order plus new ones at the end
        ):
            self._rebuild(instances, of)
            return
        for instance_id in gone:
            self.remove_row(instance_id)
            del self._signatures[instance_id]
        updated = 0
        signatures = dict(self._signatures)
        for inst in instances[: len(kept)]:
            sig = _signature(inst, of(inst))
            before = signatures[inst.instance_id]
            if before != sig:
                signatures[inst.instance_id] = sig
                updated += 1
                cells = self._cells(inst, of(inst))
                for (_, column), old, new, cell in zip(_COLUMNS, before, sig, cells, strict=True):
                    if old != new:
                        self.update_cell(inst.instance_id, column, cell)
        for inst in instances[len(kept) :]:
            signatures[inst.instance_id] = _signature(inst, of(inst))
            self.add_row(*self._cells(inst, of(inst)), key=inst.instance_id)
            updated += 1
        self._signatures = signatures
        self._ids = new_ids
        self.updated_rows = updated
        self._apply_widths()

    def _rebuild(self, instances: list[Instance], of: _FindingsOf) -> None:
        self.rebuilds += 1
        self.clear()
        self._widths = {key: len(label) for label, key in _COLUMNS}
        self._signatures = {}
        for inst in instances:
            found = of(inst)
            self._signatures[inst.instance_id] = _signature(inst, found)
            self.add_row(*self._cells(inst, found), key=inst.instance_id)
        self._ids = [inst.instance_id for inst in instances]
        self.updated_rows = len(instances)
        self._apply_widths()

    def instance_at_cursor(self) -> str | None:
        """The instance id of the highlighted row."""
        ids = self._ids
        if not ids or self.cursor_row < 0 or self.cursor_row >= len(ids):
            return None
        return ids[self.cursor_row]
