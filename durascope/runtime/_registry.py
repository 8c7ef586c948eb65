"""Registries of orchestration and activity code, by name and version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from durascope.runtime._replayer import OrchestrationFn

ActivityFn = Callable[[Any, Any], Any]
"""``(ctx, input) -> result``; may be a plain or an ``async`` function."""

DEFAULT_VERSION = "1.0.0"
"""The version an unversioned registration gets (as in duroxide)."""


class OrchestrationResolver(Protocol):
    """What the turn function needs: code for a name and (optional) version."""

    def resolve(self, name: str, version: str | None) -> tuple[str, OrchestrationFn] | None:
        """Return ``(resolved version, function)``, or None when unregistered."""
        ...


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    # Numeric parts compare as numbers, so "1.10.0" sorts after "1.9.0".
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in version.split("."))


class Registry:
    """Orchestrations and activities known to one runtime."""

    def __init__(self) -> None:
        self._orchestrations: dict[str, dict[str, OrchestrationFn]] = {}
        self._activities: dict[str, ActivityFn] = {}

    def add_orchestration(
        self, name: str, fn: OrchestrationFn, version: str = DEFAULT_VERSION
    ) -> None:
        """Register ``fn`` as version ``version`` of orchestration ``name``."""
        self._orchestrations.setdefault(name, {})[version] = fn

    def add_activity(self, name: str, fn: ActivityFn) -> None:
        """Register activity ``name``."""
        self._activities[name] = fn

    def resolve(self, name: str, version: str | None) -> tuple[str, OrchestrationFn] | None:
        """Exact version when given, else the latest registered version."""
        versions = self._orchestrations.get(name)
        if not versions:
            return None
        if version is not None:
            fn = versions.get(version)
            return (version, fn) if fn is not None else None
        latest = max(versions, key=_version_key)
        return latest, versions[latest]

    def activity(self, name: str) -> ActivityFn | None:
        """The activity function, or None when unregistered."""
        return self._activities.get(name)

    def orchestration_names(self) -> list[str]:
        """Registered orchestration names."""
        return sorted(self._orchestrations)

    def versions(self, name: str) -> dict[str, OrchestrationFn]:
        """The registered versions of one orchestration."""
        return dict(self._orchestrations.get(name, {}))

    def activities(self) -> dict[str, ActivityFn]:
        """Registered activities by name."""
        return dict(self._activities)
