"""Hostile bundles through the CLI: never a traceback, never a raw escape on the terminal."""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durascope.cli import main

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios.bundle.json.gz"
BASE: dict[str, Any] = json.loads(gzip.decompress(FIXTURE.read_bytes()))
HOSTILE = ["\x1b[2J", "\x1b]0;pwned\x07", 'quote"', "back\\slash", "new\nline", "nul\x00", "é∂"]


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every (container path, key) in a JSON document."""
    found = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            found.append((*prefix, k))
            found += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            found.append((*prefix, i))
            found += paths(v, (*prefix, i))
    return found


ALL_PATHS = paths(BASE)


def mutate(doc: Any, where: tuple[Any, ...], how: str, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    key = where[-1]
    if how == "delete" and isinstance(parent, dict):
        del parent[key]
    elif how == "replace":
        parent[key] = value
    return doc


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=30),
    st.sampled_from(HOSTILE),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.just({"type": "FromTheFuture"}),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    where=st.sampled_from(ALL_PATHS),
    how=st.sampled_from(["delete", "replace"]),
    value=values,
    command=st.sampled_from(["diagnose", "history", "export"]),
)
def test_mutated_bundles_fail_cleanly(
    tmp_path_factory: pytest.TempPathFactory, where: Any, how: str, value: Any, command: str
) -> None:
    directory = tmp_path_factory.mktemp("hostile")
    bundle = directory / "b.json"
    bundle.write_text(json.dumps(mutate(BASE, where, how, value)))
    args = {
        "diagnose": ["diagnose", str(bundle)],
        "history": ["history", str(bundle), "--instance", "legacy-loop"],
        "export": ["export", str(bundle), "-o", str(directory / "out.json")],
    }[command]
    code, out, err = run_cli(args)
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in out + err
    assert "\x1b" not in out + err
    if code == 2:
        assert err.count("\n") == 1, err


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_ids_are_shown_escaped(tmp_path: Path, hostile: str) -> None:
    doc = copy.deepcopy(BASE)
    target = doc["instances"][0]
    old = target["instance_id"]
    target["instance_id"] = f"{old}{hostile}"
    for execution in target["executions"]:
        for event in execution["events"]:
            event["instance_id"] = target["instance_id"]
            if "input" in event:
                event["input"] = json.dumps(hostile)
    bundle = tmp_path / "hostile.json"
    bundle.write_text(json.dumps(doc))
    for args in (
        ["diagnose", str(bundle)],
        ["history", str(bundle), "--instance", target["instance_id"]],
        ["render", str(bundle), "--instance", target["instance_id"], "-o", str(tmp_path / "g.dot")],
    ):
        code, out, err = run_cli(args)
        assert code in (0, 1), (args, err)
        assert "\x1b" not in out + err and "\x00" not in out + err


def test_truncated_and_huge_inputs(tmp_path: Path) -> None:
    raw = FIXTURE.read_bytes()
    for cut in (1, 10, len(raw) // 2, len(raw) - 1):
        path = tmp_path / f"cut{cut}.json.gz"
        path.write_bytes(raw[:cut])
        code, _, err = run_cli(["diagnose", str(path)])
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    huge = copy.deepcopy(BASE)
    huge["instances"][0]["executions"][0]["events"][0]["input"] = "x" * 5_000_000
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(huge))
    code, out, err = run_cli(
        ["history", str(path), "--instance", huge["instances"][0]["instance_id"]]
    )
    assert code == 0 and len(out) < 100_000  # payloads are shortened in tables
