"""DOT text: hostile ids are escaped, meaning is in words, and ``dot`` accepts every scenario."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from durascope.replay import Model, open_model
from durascope.viz import build_graph, quote, to_dot
from tests.viz import demo_store, fan_out, in_memory_model

HOSTILE = [
    'quote"d',
    "back\\slash\\N\\G\\l",
    "new\nline\r\n",
    "\x1b[31mred\x1b[0m",
    "tab\tand\x00nul",
    '\\"',
    "braces{} -> arrows; [brackets]=",
    "<b>html</b> & amp",
    "ünïcödé → ✓",
    "lone\ud800surrogate",
    "sep\u2028line",
]
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


@pytest.fixture(scope="module")
def model() -> Model:
    return open_model(demo_store())


@pytest.fixture(scope="module")
def hostile() -> Model:
    return in_memory_model(fan_out(HOSTILE[0], HOSTILE[1:], executions=2), path='evil"path\n')


def test_quote_escapes_quotes_backslashes_and_control_characters() -> None:
    assert quote('a"b') == '"a\\"b"'
    assert quote("a\\Nb") == '"a\\\\Nb"'  # graphviz's \N must not expand
    assert quote("a\nb") == '"a\\\\x0ab"'  # shown as the text \x0a, not a line break
    assert quote("\x1b[31m") == '"\\\\x1b[31m"'
    assert quote("\ud800").encode("utf-8")  # always encodable


def test_hostile_ids_cannot_break_out_of_their_strings(hostile: Model) -> None:
    text = to_dot(build_graph(hostile, findings=[]))
    text.encode("utf-8")
    outside = QUOTED.sub("S", text)
    # everything outside quoted strings is our own syntax: numbered ids, attribute
    # names, punctuation
    assert re.fullmatch(r"[\w\s\[\]=,;{}\->.#]*", outside), outside
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    for line in text.splitlines():
        assert line.rstrip().endswith(("{", "}", ";")), line
    assert "n0" in text and "x:" not in text  # node ids never come from the data


def test_labels_carry_status_words_and_edge_meanings(model: Model) -> None:
    text = build_graph(model).to_dot()
    for words in (
        "Completed",
        "Failed",
        "Running",
        "Cancelled",
        "continued as new",
        "DROPPED",
        "FILTERED",
        "MISROUTED",
        "COLLISION",
        "STUCK",
        "spawn #2",
        "completed: result to #2",
        "error: stuck parent",
        "warning: filtered notification",
    ):
        assert words in text, words
    # colour and style carry it too
    assert 'style="dotted"' in text and 'arrowhead="tee"' in text  # filtered
    assert '"bold,dashed"' in text  # misrouted
    assert "shape=octagon" in text  # the dropped sink


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
def test_dot_accepts_every_scenario_and_the_hostile_model(model: Model, hostile: Model) -> None:
    sources = {iid: build_graph(model, focus=iid).to_dot() for iid in model.instances}
    sources["<store>"] = build_graph(model).to_dot()
    sources["<hostile>"] = build_graph(hostile, findings=[]).to_dot()
    for name, text in sources.items():
        done = subprocess.run(
            ["dot", "-Tsvg"], input=text.encode("utf-8"), capture_output=True, timeout=60
        )
        assert done.returncode == 0, (name, done.stderr.decode())
        assert b"<svg" in done.stdout
        assert b"Warning" not in done.stderr and b"Error" not in done.stderr, (name, done.stderr)
    svg = subprocess.run(
        ["dot", "-Tsvg"], input=sources["<hostile>"].encode(), capture_output=True
    ).stdout.decode()
    assert "back\\slash\\N\\G\\l" in svg  # shown literally, not expanded to the node name
    assert "quote&quot;d" in svg or 'quote"d' in svg
    assert "&lt;b&gt;html&lt;/b&gt;" in svg
    assert "new\\x0aline" in svg


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_quote_always_yields_one_closed_string(text: str) -> None:
    quoted = quote(text)
    assert QUOTED.fullmatch(quoted)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", quoted)
    quoted.encode("utf-8")
    # every backslash is doubled or escapes a quote: graphviz sees no escape sequence of ours
    assert re.fullmatch(r'"(?:[^"\\]|\\\\|\\")*"', quoted)
