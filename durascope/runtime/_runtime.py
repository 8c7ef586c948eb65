"""The embedded runtime: a registry of code plus dispatchers over a SQLite store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, overload

from durascope.runtime._client import Client
from durascope.runtime._dispatchers import Dispatchers, RuntimeOptions
from durascope.runtime._registry import DEFAULT_VERSION, Registry
from durascope.runtime._store import SqliteStore

F = TypeVar("F", bound=Callable[..., Any])


class Runtime:
    """A durascope runtime process (async API).

    Register code with :meth:`register_activity` / :meth:`register_orchestration`
    (as decorators or calls), then ``await start()``.  Several runtimes, in this or
    other processes, may share one store file.

    Args:
        store: The store (see :meth:`SqliteStore.open`).
        options: Concurrency, leases, poison threshold, policy.
        registry: Share code with another runtime (a new registry by default).
    """

    def __init__(
        self,
        store: SqliteStore,
        options: RuntimeOptions | None = None,
        *,
        registry: Registry | None = None,
    ) -> None:
        self.store = store
        self.options = options or RuntimeOptions()
        self.registry = registry or Registry()
        self.dispatchers: Dispatchers | None = None
        self.activity_client: Callable[[], Any] = self.client
        """What ``ActivityContext.get_client()`` returns a new one of (this runtime's client)."""

    @classmethod
    async def open(cls, path: str | Path, options: RuntimeOptions | None = None) -> Runtime:
        """Open (or create) a store file and build a runtime on it."""
        return cls(await SqliteStore.open(path), options)

    @overload
    def register_activity(self, name: str) -> Callable[[F], F]: ...
    @overload
    def register_activity(self, name: str, fn: F) -> F: ...

    def register_activity(self, name: str, fn: F | None = None) -> F | Callable[[F], F]:
        """Register an activity; usable as ``@runtime.register_activity("name")``."""

        def decorator(func: F) -> F:
            self.registry.add_activity(name, func)
            return func

        return decorator(fn) if fn is not None else decorator

    @overload
    def register_orchestration(
        self, name: str, *, version: str = DEFAULT_VERSION
    ) -> Callable[[F], F]: ...
    @overload
    def register_orchestration(self, name: str, fn: F, *, version: str = DEFAULT_VERSION) -> F: ...

    def register_orchestration(
        self, name: str, fn: F | None = None, *, version: str = DEFAULT_VERSION
    ) -> F | Callable[[F], F]:
        """Register an orchestration generator; usable as a decorator."""

        def decorator(func: F) -> F:
            self.registry.add_orchestration(name, func, version)
            return func

        return decorator(fn) if fn is not None else decorator

    def client(self) -> Client:
        """A client on the same store and policy."""
        return Client(self.store, policy=self.options.policy)

    async def start(self) -> None:
        """Start the dispatchers on the running event loop."""
        if self.dispatchers is not None:
            return
        self.dispatchers = Dispatchers(
            self.store, self.registry, self.options, client_factory=self.activity_client
        )
        self.dispatchers.start()

    async def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop fetching, finish turns and activities in flight (up to ``timeout_s``)."""
        if self.dispatchers is not None:
            await self.dispatchers.stop(timeout_s)
            self.dispatchers = None

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()
