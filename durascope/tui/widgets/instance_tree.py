"""The parent/child tree of the highlighted instance, with each continue-as-new chain.

Building the tree reads the instance's events and its children's (store I/O on a
store not yet loaded), so :func:`build_tree` runs wherever the caller likes (a
worker) and :meth:`InstanceTree.show` only draws what it returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from durascope.replay import Model
from durascope.tui.text import plain

__all__ = ["MAX_DEPTH", "InstanceTree", "TreeSpec", "build_tree"]

MAX_DEPTH = 20


@dataclass(frozen=True)
class TreeSpec:
    """One node to draw: its label, the instance it opens, its children."""

    label: Text
    instance_id: str
    children: tuple[TreeSpec, ...] = field(default=())


def build_tree(model: Model, instance_id: str) -> TreeSpec:
    """The tree holding ``instance_id``, from its root (reads the tree's events)."""
    # Climb by the recorded parent ids (no event needs to be read for that).
    root_id = instance_id
    seen = {root_id}
    while True:
        parent = model.instances[root_id].parent_instance_id
        if parent is None or parent not in model.instances or parent in seen:
            break
        root_id = parent
        seen.add(root_id)
    return TreeSpec(plain(root_id), root_id, _executions(model, root_id, 0, set()))


def _executions(
    model: Model, instance_id: str, depth: int, visited: set[str]
) -> tuple[TreeSpec, ...]:
    if instance_id in visited or depth > MAX_DEPTH or instance_id not in model.instances:
        return ()
    visited.add(instance_id)
    inst = model.instances[instance_id]
    links = model.links_from(instance_id)
    out = []
    for ex in inst.executions:
        status = "continued as new" if ex.status == "ContinuedAsNew" else ex.status
        leaves = []
        for link in (k for k in links if k.parent_execution == ex.execution_id):
            child = model.instances.get(link.child_instance)
            state = child.status if child else "never started"
            mark = "" if link.points_back else "  (id already taken: start discarded)"
            grandchildren = (
                _executions(model, link.child_instance, depth + 1, visited)
                if link.points_back
                else ()
            )
            leaves.append(
                TreeSpec(
                    plain(f"#{link.event_id} {link.child_instance} [{state}]{mark}"),
                    link.child_instance,
                    grandchildren,
                )
            )
        out.append(TreeSpec(Text(f"exec {ex.execution_id}: {status}"), instance_id, tuple(leaves)))
    return tuple(out)


class InstanceTree(Tree[str]):
    """Root -> executions -> the children each execution scheduled (node data: instance id)."""

    shown_for: str | None = None
    """The instance whose tree is drawn."""

    def show(self, spec: TreeSpec, for_instance: str) -> None:
        """Draw a tree built by :func:`build_tree`."""
        self.shown_for = for_instance
        self.clear()
        self.root.set_label(spec.label)
        self.root.data = spec.instance_id
        self._add(self.root, spec.children)
        self.root.expand_all()

    def _add(self, node: TreeNode[str], children: tuple[TreeSpec, ...]) -> None:
        for child in children:
            branch = node.add(child.label, data=child.instance_id)
            self._add(branch, child.children)
