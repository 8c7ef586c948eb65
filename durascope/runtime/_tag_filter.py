"""Which activities a runtime's workers take, by the tag they were scheduled with.

duroxide routes an activity scheduled with ``.with_tag("gpu")`` only to workers
whose tag filter admits ``gpu``; by default a worker takes untagged activities
only, so a tagged one waits for a runtime that asked for its tag.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

TagFilterKind = Literal["default_only", "tags", "default_and", "any", "none"]

MAX_WORKER_TAGS = 5
"""duroxide's limit on the tags one worker may subscribe to."""


class TagFilter(BaseModel):
    """A worker's tag filter (duroxide's ``TagFilter``).

    Attributes:
        kind: ``default_only`` (untagged activities; the default), ``tags`` (only
            activities with one of ``tags``), ``default_and`` (untagged ones and
            those with one of ``tags``), ``any`` (every activity) or ``none`` (no
            activities: an orchestration-only runtime).
        tags: The tags of ``tags`` and ``default_and``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: TagFilterKind = "default_only"
    tags: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> TagFilter:
        """Read duroxide-python's string form of a filter.

        ``"default_only"``, ``"any"``, ``"none"``, ``'{"tags": [...]}'`` or
        ``'{"default_and": [...]}'``; anything else is the default.

        Raises:
            ValueError: A tag list is empty or longer than ``MAX_WORKER_TAGS``.
        """
        if text in ("default_only", "any", "none"):
            return cls(kind=text)  # type: ignore[arg-type]
        try:
            value = json.loads(text)
        except ValueError:
            return cls()
        for kind in ("tags", "default_and"):
            raw = value.get(kind) if isinstance(value, dict) else None
            if isinstance(raw, list):
                tags = frozenset(t for t in raw if isinstance(t, str))
                if not tags or len(tags) > MAX_WORKER_TAGS:
                    raise ValueError(
                        f"a worker tag filter needs 1 to {MAX_WORKER_TAGS} tags, got {len(tags)}"
                    )
                return cls(kind=kind, tags=tags)  # type: ignore[arg-type]
        return cls()

    def admits(self, tag: str | None) -> bool:
        """Whether a worker with this filter takes an activity scheduled with ``tag``."""
        if self.kind == "any":
            return True
        if self.kind == "none":
            return False
        if tag is None:
            return self.kind in ("default_only", "default_and")
        return self.kind in ("tags", "default_and") and tag in self.tags

    def sql(self, tag_expression: str) -> tuple[str, dict[str, str]]:
        """A SQL condition on ``tag_expression`` (the row's tag or NULL), with named parameters."""
        if self.kind == "any":
            return "1", {}
        if self.kind == "none":
            return "0", {}
        if self.kind == "default_only":
            return f"{tag_expression} IS NULL", {}
        params = {f"tag{i}": tag for i, tag in enumerate(sorted(self.tags))}
        listed = f"{tag_expression} IN ({', '.join(':' + name for name in params)})"
        if self.kind == "tags":
            return listed, params
        return f"({tag_expression} IS NULL OR {listed})", params
