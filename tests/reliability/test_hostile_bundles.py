"""Mutated bundles: keys deleted, wrong types, unknown events, hostile ids; bytes cut, flipped."""

from __future__ import annotations

import copy
import gzip
import json
import shutil
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reliability.hostile import (
    COMMANDS,
    HOSTILE,
    base_fixture,
    events_of,
    fuzz_settings,
    instance_ids,
    pick_instance,
    rename_everywhere,
    run_command,
    write_json,
)
from tests.reliability.tally import FUZZED

# -- bundle mutations --------------------------------------------------------------


def all_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            found.append((*prefix, k))
            found += all_paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found.append((*prefix, i))
            found += all_paths(v, (*prefix, i))
    return found


def parent_of(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(HOSTILE),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=6), st.one_of(st.integers(), st.none()), max_size=3),
    st.just({"type": "FromTheFuture", "event_id": 1}),
    st.just({"StartOrchestration": 5}),
    st.just([[]]),
)
EVENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "FromTheFuture",
            "OrchestrationStarted",
            "OrchestrationCompleted",
            "TimerFired",
            "SubOrchestrationScheduled",
            "ActivityCompleted",
            "Undecodable",
            "",
            "TurnRecord",
        ]
    ),
    st.sampled_from(HOSTILE),
    st.integers(),
    st.none(),
    st.just({"nested": True}),
)


@st.composite
def mutated_bundle(draw: st.DrawFn, base: dict[str, Any], paths: list[tuple[Any, ...]]) -> Any:
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(
                [
                    "delete",
                    "replace",
                    "replace",
                    "event-type",
                    "hostile-id",
                    "duplicate",
                    "reverse",
                    "hostile-field",
                ]
            )
        )
        try:
            if op in ("delete", "replace", "duplicate", "reverse"):
                path = draw(st.sampled_from(paths))
                parent = parent_of(doc, path)
                key = path[-1]
                if op == "delete":
                    del parent[key]
                elif op == "replace":
                    parent[key] = draw(values)
                elif op == "duplicate" and isinstance(parent, list):
                    parent.insert(key, copy.deepcopy(parent[key]))
                elif op == "reverse" and isinstance(parent[key], list):
                    parent[key].reverse()
            elif op == "event-type":
                events = events_of(doc)
                if events:
                    event = draw(st.sampled_from(events))
                    event["type"] = draw(EVENT_TYPES)
            elif op == "hostile-id":
                ids = instance_ids(doc)
                if ids:
                    old = draw(st.sampled_from(ids))
                    doc = rename_everywhere(doc, old, draw(st.sampled_from(HOSTILE)) + old)
            elif op == "hostile-field":
                events = events_of(doc)
                if events:
                    event = draw(st.sampled_from(events))
                    field = draw(st.sampled_from(["name", "input", "result", "output", "reason",
                                                  "instance", "data", "status"]))  # fmt: skip
                    event[field] = draw(st.sampled_from(HOSTILE))
        except (KeyError, IndexError, TypeError):
            pass  # the path no longer exists after an earlier mutation
    return doc


@pytest.mark.slow
@fuzz_settings(120)
@given(data=st.data())
def test_mutated_fixture_bundles(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    check_mutated_bundle(tmp_path_factory, data, FIXTURE_DOC, FIXTURE_PATHS, "fixture bundle")


FIXTURE_DOC = base_fixture()
FIXTURE_PATHS = all_paths(FIXTURE_DOC)


def check_mutated_bundle(
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
    base: dict[str, Any],
    paths: list[tuple[Any, ...]],
    kind: str,
) -> None:
    doc = data.draw(mutated_bundle(base, paths))
    directory = tmp_path_factory.mktemp("bundle")
    path = write_json(doc, directory / "b.json", gz=data.draw(st.booleans()))
    FUZZED[f"{kind}s mutated"] += 1
    instance = pick_instance(doc, data.draw(st.integers(0, 1000)))
    for kind_ in data.draw(st.lists(st.sampled_from(COMMANDS), min_size=1, max_size=3)):
        run_command(kind_, path, instance, directory)
    shutil.rmtree(directory)


@pytest.mark.slow
@fuzz_settings(80)
@given(data=st.data())
def test_mutated_fresh_bundles(
    tmp_path_factory: pytest.TempPathFactory, fresh_bundle: dict[str, Any], data: st.DataObject
) -> None:
    paths = _fresh_paths(fresh_bundle)
    check_mutated_bundle(tmp_path_factory, data, fresh_bundle, paths, "fresh-store bundle")


_PATHS_CACHE: dict[int, list[tuple[Any, ...]]] = {}


def _fresh_paths(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    if id(doc) not in _PATHS_CACHE:
        _PATHS_CACHE[id(doc)] = all_paths(doc)
    return _PATHS_CACHE[id(doc)]


@pytest.mark.slow
@fuzz_settings(100)
@given(
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=4),
    gz=st.booleans(),
    pad=st.binary(max_size=20),
    command_kind=st.sampled_from(COMMANDS),
)
def test_bundle_bytes_truncated_and_flipped(
    tmp_path_factory: pytest.TempPathFactory,
    cut: float,
    flips: list[tuple[float, int]],
    gz: bool,
    pad: bytes,
    command_kind: str,
) -> None:
    raw = json.dumps(FIXTURE_DOC).encode()
    if gz:
        raw = gzip.compress(raw)
    data = bytearray(raw[: max(0, int(len(raw) * cut))] if cut < 0.98 else raw)
    for where, xor in flips:
        if data:
            data[int(where * (len(data) - 1))] ^= xor
    data += pad
    directory = tmp_path_factory.mktemp("bytes")
    path = directory / ("b.json.gz" if gz else "b.json")
    path.write_bytes(bytes(data))
    FUZZED["bundles truncated/flipped"] += 1
    run_command(command_kind, path, "healthy-loop", directory)
    shutil.rmtree(directory)
