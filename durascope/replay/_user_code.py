"""Load a user's orchestration code from a file, without running their runtime.

The module is executed only because the user named it (``--module FILE``).
While it imports, ``duroxide`` and ``durascope.compat.duroxide`` resolve to a
recording stand-in: ``Runtime(...).register_*`` calls are recorded into a
:class:`Registry`, ``start``/``shutdown`` and client calls do nothing, and no
store is opened.  durascope-native modules may instead define
``register(runtime)`` or hold :class:`Registry` / :class:`Runtime` objects.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from durascope.replay._model import SourceError
from durascope.runtime import DEFAULT_VERSION, Registry, Runtime


class _RecordingRuntime:
    """Stands in for ``duroxide.Runtime``: records registrations, runs nothing."""

    def __init__(self, registry: Registry, *_: Any, **__: Any) -> None:
        self._registry = registry

    def _register(self, add: Callable[[Any], None], fn: Any) -> Any:
        if fn is not None:
            add(fn)
            return fn

        def decorator(func: Any) -> Any:
            add(func)
            return func

        return decorator

    def register_activity(self, name: str, fn: Any = None) -> Any:
        return self._register(lambda f: self._registry.add_activity(name, f), fn)

    register_activity_typed = register_activity

    def register_orchestration(self, name: str, fn: Any = None) -> Any:
        return self._register(
            lambda f: self._registry.add_orchestration(name, f, DEFAULT_VERSION), fn
        )

    register_orchestration_typed = register_orchestration

    def register_orchestration_versioned(self, name: str, version: str, fn: Any = None) -> Any:
        return self._register(lambda f: self._registry.add_orchestration(name, f, version), fn)

    register_orchestration_versioned_typed = register_orchestration_versioned

    def start(self) -> None:
        """Does nothing during re-execution."""

    def shutdown(self, *_: Any) -> None:
        """Does nothing during re-execution."""


class _Inert:
    """Stands in for providers and clients: every call does nothing and returns None."""

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None

    @staticmethod
    def open(*_: Any, **__: Any) -> _Inert:
        return _Inert()

    @staticmethod
    def in_memory() -> _Inert:
        return _Inert()


def _stand_in(registry: Registry) -> types.ModuleType:
    module = types.ModuleType("duroxide")
    module.Runtime = lambda *a, **k: _RecordingRuntime(registry, *a, **k)  # type: ignore[attr-defined]
    module.SqliteProvider = _Inert  # type: ignore[attr-defined]
    module.Client = _Inert  # type: ignore[attr-defined]
    module.RuntimeOptions = _Inert  # type: ignore[attr-defined]
    module.OrchestrationResult = _Inert  # type: ignore[attr-defined]
    return module


@contextmanager
def _recording_imports(registry: Registry) -> Iterator[None]:
    names = ("duroxide", "durascope.compat.duroxide")
    saved = {n: sys.modules.get(n) for n in names}
    stand_in = _stand_in(registry)
    for n in names:
        sys.modules[n] = stand_in
    try:
        yield
    finally:
        for n, old in saved.items():
            if old is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = old


def load_user_code(path: str | Path) -> Registry:
    """Execute ``path`` and return the orchestrations and activities it registers.

    Raises:
        SourceError: The file is missing, fails to import, or registers nothing.
    """
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"{p}: no such module file")
    registry = Registry()
    spec = importlib.util.spec_from_file_location(f"durascope_user_module_{abs(hash(str(p)))}", p)
    if spec is None or spec.loader is None:
        raise SourceError(f"{p}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(p.parent.resolve()))
    try:
        with _recording_imports(registry):
            spec.loader.exec_module(module)
            register = getattr(module, "register", None)
            if callable(register):
                register(_RecordingRuntime(registry))
    except SourceError:
        raise
    except BaseException as exc:  # the user's module raised while importing
        raise SourceError(f"{p}: importing it raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(p.parent.resolve()))
    for value in vars(module).values():
        if isinstance(value, Registry) and value is not registry:
            _merge(registry, value)
        elif isinstance(value, Runtime):
            _merge(registry, value.registry)
    if not registry.orchestration_names():
        raise SourceError(f"{p}: registers no orchestration")
    return registry


def _merge(into: Registry, other: Registry) -> None:
    for name in other.orchestration_names():
        for version, fn in other.versions(name).items():
            into.add_orchestration(name, fn, version)
    for name, fn in other.activities().items():
        into.add_activity(name, fn)
