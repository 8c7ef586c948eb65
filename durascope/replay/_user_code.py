"""Load a user's orchestration code from a file, without running their runtime.

The module is executed only because the user named it (``--module FILE``).
While it imports, ``duroxide`` and ``durascope.compat.duroxide`` resolve to a
recording stand-in:

- ``Runtime(...).register_*`` calls are recorded into a :class:`Registry`;
  ``start`` and ``shutdown`` do nothing;
- ``SqliteProvider``, ``Client`` and ``RuntimeOptions`` open nothing and run
  nothing: every call on them returns an inert value (no attribute access or
  call on it fails, it is falsy and prints as an empty string), so a script
  such as the README's, which starts an instance and prints
  ``client.wait_for_orchestration(...).output``, loads as it is;
- every other name (``OrchestrationContext``, ``ActivityContext``,
  ``parse_result``, ...) is :mod:`durascope.compat.duroxide`'s, so orchestration
  code that calls ``dx.parse_result`` behaves as it does on the runtime.

Whatever the module prints while it loads is discarded (the command's own
report is on stdout).  Module-level code that depends on a real run (say, an
``assert`` on a result) belongs under ``if __name__ == "__main__":``; the file
is loaded under another name, so such a block does not run.

durascope-native modules may instead define ``register(runtime)`` or hold
:class:`Registry` / :class:`Runtime` objects.
"""

from __future__ import annotations

import importlib.util
import io
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

from durascope.replay._model import SourceError
from durascope.runtime import DEFAULT_VERSION, Registry, Runtime

_COMPAT_MODULE = "durascope.compat.duroxide"
_STAND_IN_NAMES = ("duroxide", _COMPAT_MODULE)

_DUROXIDE_INFRASTRUCTURE = frozenset(
    {
        "PostgresProvider",
        "PostgresEntraOptions",
        "InstanceFilter",
        "PruneOptions",
        "TagFilter",
        "init_tracing",
    }
)
"""duroxide-python names about running or managing a runtime, which durascope's
facade does not have: inert while a module loads for replay (orchestration code
has no use for them)."""


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

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert()


class _Inert:
    """Stands in for providers, clients, options and what their calls return.

    Every attribute and every call is another inert value; it is falsy, empty
    when iterated, and prints as an empty string.
    """

    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert()

    def __call__(self, *_: Any, **__: Any) -> _Inert:
        return _Inert()

    def __bool__(self) -> bool:
        return False

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __str__(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "<not run: loaded for replay>"

    @staticmethod
    def open(*_: Any, **__: Any) -> _Inert:
        return _Inert()

    @staticmethod
    def in_memory(*_: Any, **__: Any) -> _Inert:
        return _Inert()


class _StandIn(types.ModuleType):
    """The ``duroxide`` module a user's file sees while it loads (module docstring)."""

    def __init__(self, registry: Registry, compat: types.ModuleType) -> None:
        super().__init__("duroxide", "durascope's stand-in for duroxide, loaded for replay")
        self._compat = compat
        self.Runtime = lambda *a, **k: _RecordingRuntime(registry, *a, **k)
        self.SqliteProvider = _Inert
        self.Client = _Inert
        self.RuntimeOptions = _Inert

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        compat = self.__dict__["_compat"]
        if hasattr(compat, name):
            return getattr(compat, name)
        if name in _DUROXIDE_INFRASTRUCTURE:
            return _Inert
        raise AttributeError(f"module 'duroxide' has no attribute {name!r} in durascope")


_MISSING = object()


@contextmanager
def _recording_imports(registry: Registry) -> Iterator[None]:
    compat_package = importlib.import_module("durascope.compat")
    compat = importlib.import_module(_COMPAT_MODULE)  # the stand-in passes names through to it
    saved = {n: sys.modules.get(n) for n in _STAND_IN_NAMES}
    saved_attribute = compat_package.__dict__.get("duroxide", _MISSING)
    stand_in = _StandIn(registry, compat)
    for n in _STAND_IN_NAMES:
        sys.modules[n] = stand_in
    # ``from durascope.compat import duroxide`` reads the package attribute, not sys.modules.
    compat_package.duroxide = stand_in  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for n, old in saved.items():
            if old is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = old
        if saved_attribute is _MISSING:
            compat_package.__dict__.pop("duroxide", None)
        else:
            compat_package.duroxide = saved_attribute  # type: ignore[attr-defined]


def load_user_code(path: str | Path) -> Registry:
    """Execute ``path`` and return the orchestrations and activities it registers.

    Args:
        path: A Python file: duroxide-python style (``duroxide`` or
            ``durascope.compat.duroxide`` registrations) or durascope's own
            (``register(runtime)``, or module-level :class:`Registry` /
            :class:`Runtime` objects).

    Returns:
        The registrations, ready for :func:`~durascope.replay.reexecute`.

    Raises:
        SourceError: The file is missing or a directory, fails to import, or registers
            nothing.
    """
    p = Path(path)
    if p.is_dir():
        raise SourceError(f"{p}: is a directory, not a module file (name the .py file)")
    if not p.is_file():
        raise SourceError(f"{p}: no such module file")
    registry = Registry()
    spec = importlib.util.spec_from_file_location(f"durascope_user_module_{abs(hash(str(p)))}", p)
    if spec is None or spec.loader is None:
        raise SourceError(f"{p}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    directory = str(p.parent.resolve())
    sys.path.insert(0, directory)
    try:
        with _recording_imports(registry), redirect_stdout(io.StringIO()):
            spec.loader.exec_module(module)
            register = getattr(module, "register", None)
            if callable(register):
                register(_RecordingRuntime(registry))
    except SourceError:
        raise
    except BaseException as exc:  # the user's module raised while importing
        try:
            detail = str(exc).strip().splitlines()
        except Exception:  # its __str__ raises too: the type has to do
            detail = []
        text = f": {detail[-1]}" if detail else ""
        raise SourceError(f"{p}: importing it raised {type(exc).__name__}{text}") from None
    finally:
        sys.path.remove(directory)
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
