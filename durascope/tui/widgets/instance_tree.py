"""The parent/child tree of the highlighted instance, with each continue-as-new chain."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from durascope.replay import Model
from durascope.tui.text import plain


class InstanceTree(Tree[str]):
    """Root -> executions -> the children each execution scheduled (node data: instance id)."""

    def show(self, model: Model, instance_id: str) -> None:
        """Draw the tree holding ``instance_id`` (from its root)."""
        # Climb by the recorded parent ids (no event needs to be read for that).
        root_id = instance_id
        seen = {root_id}
        while True:
            parent = model.instances[root_id].parent_instance_id
            if parent is None or parent not in model.instances or parent in seen:
                break
            root_id = parent
            seen.add(root_id)
        self.clear()
        self.root.set_label(plain(root_id))
        self.root.data = root_id
        self._add(model, root_id, self.root, depth=0, visited=set())
        self.root.expand_all()

    def _add(
        self, model: Model, instance_id: str, node: object, depth: int, visited: set[str]
    ) -> None:
        if instance_id in visited or depth > 20 or instance_id not in model.instances:
            return
        visited.add(instance_id)
        inst = model.instances[instance_id]
        links = model.links_from(instance_id)
        for ex in inst.executions:
            status = "continued as new" if ex.status == "ContinuedAsNew" else ex.status
            branch = node.add(Text(f"exec {ex.execution_id}: {status}"), data=instance_id)  # type: ignore[attr-defined]
            for link in (k for k in links if k.parent_execution == ex.execution_id):
                child = model.instances.get(link.child_instance)
                state = child.status if child else "never started"
                mark = "" if link.points_back else "  (id already taken: start discarded)"
                leaf = branch.add(
                    plain(f"#{link.event_id} {link.child_instance} [{state}]{mark}"),
                    data=link.child_instance,
                )
                if link.points_back:
                    self._add(model, link.child_instance, leaf, depth + 1, visited)
