"""The duroxide-python facade's options and tag routing, from durascope's side.

What the same calls return on the real duroxide is compared in
``tests/differential/test_compat_script.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from durascope.compat.duroxide import Client, Runtime, RuntimeOptions, SqliteProvider, TagFilter
from durascope.history import (
    ActivityFailed,
    OrchestrationFailed,
    SubOrchestrationFailed,
    application_error,
)
from durascope.runtime import Registry, SqliteStore
from durascope.runtime import Runtime as AsyncRuntime
from durascope.runtime import RuntimeOptions as NativeOptions
from durascope.runtime import TagFilter as NativeTagFilter
from durascope.runtime._compat import event_data


def test_duroxide_python_arguments_map_onto_durascope_options() -> None:
    options = RuntimeOptions(
        3,  # orchestration_concurrency, positionally as duroxide-python allows
        worker_concurrency=4,
        dispatcher_poll_interval_ms=25,
        worker_lock_timeout_ms=40_000,
        orchestrator_lock_timeout_ms=6_000,
        max_attempts=7,
        worker_node_id="pod-1",
        worker_tag_filter=TagFilter.default_and(["gpu"]),
        log_format="json",
        service_name="svc",
        session_lock_timeout_ms=1,
        policy="legacy",
    )
    assert options.native() == NativeOptions(
        orchestration_concurrency=3,
        worker_concurrency=4,
        orchestration_lock_ms=6_000,
        worker_lock_ms=40_000,
        max_attempts=7,
        policy="legacy",
        idle_poll_max_ms=25,
        worker_id="pod-1",
        worker_tag_filter=NativeTagFilter(kind="default_and", tags=frozenset({"gpu"})),
    )
    assert RuntimeOptions().native() == NativeOptions()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default_only", NativeTagFilter()),
        ("any", NativeTagFilter(kind="any")),
        ("none", NativeTagFilter(kind="none")),
        (TagFilter.tags(["gpu", "cpu"]), NativeTagFilter(kind="tags", tags={"gpu", "cpu"})),
        (TagFilter.default_and(["gpu"]), NativeTagFilter(kind="default_and", tags={"gpu"})),
        ("gpu", NativeTagFilter()),  # not understood: duroxide-python falls back likewise
        ('{"other": 1}', NativeTagFilter()),
    ],
)
def test_tag_filter_strings(text: str, expected: NativeTagFilter) -> None:
    assert NativeTagFilter.parse(text) == expected


def test_tag_filter_lists_are_bounded() -> None:
    with pytest.raises(ValueError, match="1 to 5 tags"):
        NativeTagFilter.parse(json.dumps({"tags": []}))
    with pytest.raises(ValueError, match="1 to 5 tags"):
        NativeTagFilter.parse(TagFilter.tags([f"t{i}" for i in range(6)]))


@pytest.mark.parametrize(
    ("kind", "admitted"),
    [
        ("default_only", {None}),
        ("tags", {"gpu"}),
        ("default_and", {None, "gpu"}),
        ("any", {None, "gpu", "cpu"}),
        ("none", set()),
    ],
)
def test_which_tags_a_filter_admits(kind: Any, admitted: set[str | None]) -> None:
    tags = frozenset({"gpu"}) if kind in ("tags", "default_and") else frozenset()
    f = NativeTagFilter(kind=kind, tags=tags)
    assert {t for t in (None, "gpu", "cpu") if f.admits(t)} == admitted


def tagged(ctx: Any, _: Any) -> Any:
    untagged = yield ctx.schedule_activity("Where", "plain")
    gpu = yield ctx.schedule_activity("Where", "gpu").with_tag("gpu")
    return [untagged, gpu]


async def test_a_tagged_activity_waits_for_a_worker_that_takes_its_tag(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "tags.db")
    code = Registry()
    code.add_orchestration("Tagged", tagged)
    code.add_activity("Where", lambda ctx, x: f"{x} on {ctx.worker_id} (tag {ctx.tag()})")
    default = AsyncRuntime(store, NativeOptions(worker_id="cpu-node"), registry=code)
    await default.start()
    client = default.client()
    await client.start_orchestration("t", "Tagged")
    try:
        rows: list[Any] = []
        for _ in range(200):
            rows = await store.pending_work_items()
            if rows and rows[0].item.tag == "gpu":
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # the default worker keeps leaving it alone
        rows = await store.pending_work_items()
        assert [(r.item.tag, r.attempt_count) for r in rows] == [("gpu", 0)]
        gpu_options = NativeOptions(
            worker_id="gpu-node",
            orchestration_concurrency=1,
            worker_tag_filter=NativeTagFilter(kind="tags", tags=frozenset({"gpu"})),
        )
        gpu = AsyncRuntime(store, gpu_options, registry=code)
        await gpu.start()
        try:
            state = await client.wait_for_orchestration("t", 10)
        finally:
            await gpu.shutdown()
    finally:
        await default.shutdown()
        await store.close()
    assert json.loads(state.output or "") == [
        "plain on cpu-node (tag None)",
        "gpu on gpu-node (tag gpu)",
    ]


def test_an_orchestration_only_runtime_runs_no_worker(tmp_path: Path) -> None:
    provider = SqliteProvider.open(tmp_path / "none.db")
    runtime = Runtime(provider, RuntimeOptions(worker_tag_filter=TagFilter.NONE))

    @runtime.register_orchestration("One")
    def one(ctx: Any, _: Any) -> Any:
        return (yield ctx.schedule_activity("Never", None))

    runtime.register_activity("Never", lambda ctx, x: "ran")
    runtime.start()
    try:
        client = Client(provider)
        client.start_orchestration("o", "One")
        with pytest.raises(RuntimeError, match="Operation timed out"):
            client.wait_for_orchestration("o", 500)
        assert [e.kind for e in client.read_execution_history("o", 1)] == [
            "OrchestrationStarted",
            "ActivityScheduled",
        ]
    finally:
        runtime.shutdown()
        provider.close()


def test_log_level_sets_the_durascope_loggers(tmp_path: Path) -> None:
    logger = logging.getLogger("durascope")
    before = logger.level
    provider = SqliteProvider.open(tmp_path / "log.db")
    runtime = Runtime(provider, RuntimeOptions(log_level="warn"))
    try:
        runtime.start()
        assert logger.level == logging.WARNING
    finally:
        runtime.shutdown()
        provider.close()
        logger.setLevel(before)


def test_failure_events_carry_their_error_details_as_data() -> None:
    details = application_error("ActivityFailed", "boom é")
    env = {"instance_id": "i", "execution_id": 1}
    expected = '{"Application":{"kind":"ActivityFailed","message":"boom é","retryable":false}}'
    for event in (
        ActivityFailed(event_id=3, source_event_id=2, details=details, **env),
        SubOrchestrationFailed(event_id=3, source_event_id=2, details=details, **env),
        OrchestrationFailed(event_id=4, details=details, **env),
    ):
        assert event_data(event) == expected


def test_activities_get_a_sync_client_and_their_orchestration(tmp_path: Path) -> None:
    provider = SqliteProvider.open(tmp_path / "client.db")
    runtime = Runtime(provider)

    @runtime.register_activity("Spawn")
    def spawn(ctx: Any, x: Any) -> Any:
        ctx.get_client().start_orchestration("spawned", "Leaf", x)
        return [ctx.orchestration_name, ctx.orchestration_version]

    @runtime.register_orchestration("Leaf")
    def leaf(ctx: Any, x: Any) -> Any:
        return x
        yield

    @runtime.register_orchestration("Parent")
    def parent(ctx: Any, x: Any) -> Any:
        return (yield ctx.schedule_activity("Spawn", x))

    runtime.start()
    try:
        client = Client(provider)
        client.start_orchestration("p", "Parent", 5)
        assert client.wait_for_orchestration("p", 10_000).output == ["Parent", "1.0.0"]
        assert client.wait_for_orchestration("spawned", 10_000).output == 5
    finally:
        runtime.shutdown()
        provider.close()
