"""``durascope.open(PATH)``, the notebook entry point: sync, and inside a running event loop.

A Jupyter cell runs inside the kernel's event loop, where ``asyncio.run`` (or a
loop's ``run_until_complete``) raises; these tests open stores and use what
``open`` returns from inside a running loop, the way a cell does.  The real
kernel run is ``test_notebook_run.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import pytest

import durascope
from durascope.replay import SourceError
from durascope.viz.notebook import Postmortem

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
STORE = FIXTURES / "scenarios.db"
# input -> findings: a bundle carries no queues, so no orphan message
INPUTS = {
    "scenarios.db": 17,
    "scenarios.bundle.json.gz": 17,
    "scenarios.redacted.bundle.json.gz": 17,
}


def _fingerprint() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(FIXTURES.iterdir())}


def use_like_a_cell(pm: Postmortem, findings: int = 17) -> None:
    """What the example notebook does with the post-mortem; every repr is plain data."""
    assert len(pm) == 33 and "legacy-loop" in [i.instance.instance_id for i in pm]
    found = pm.findings()
    assert len(found) == findings and found[0].severity == "error"
    first = next(f for f in found if f.turn is not None)
    turn = pm.steps(first.instance).next_finding()
    assert turn.index == first.turn_index and first in turn.findings()
    for shown in (pm, pm.instance("legacy-loop"), turn, found):
        bundle = shown._repr_mimebundle_()
        assert bundle["text/plain"] and bundle["text/html"]
        assert "cannot show this" not in bundle["text/html"] + bundle["text/plain"]


@pytest.mark.parametrize("name", list(INPUTS))
def test_open_reads_every_fixture_synchronously(name: str) -> None:
    before = _fingerprint()
    pm = durascope.open(FIXTURES / name)
    assert isinstance(pm, Postmortem)
    assert pm.model.origin.kind == ("durascope" if name.endswith(".db") else "bundle")
    use_like_a_cell(pm, INPUTS[name])
    assert repr(pm).startswith(f"Postmortem({str(FIXTURES / name)!r}")
    assert _fingerprint() == before  # read-only: nothing written, nothing created beside it


def test_open_takes_a_string_path_too() -> None:
    pm = durascope.open(str(STORE))
    assert pm.model.origin.path == str(STORE) and len(pm) == 33


async def test_open_inside_a_running_event_loop_as_in_a_jupyter_cell() -> None:
    loop = asyncio.get_running_loop()
    pm = durascope.open(STORE)  # no asyncio.run inside: that would raise right here
    use_like_a_cell(pm)
    if shutil.which("dot") is not None:
        assert "image/svg+xml" in pm.instance("legacy-loop")._repr_mimebundle_()
    pytest.importorskip("ipywidgets")
    stepper = pm.stepper("legacy-loop")
    assert stepper.click("next_finding").index == 2
    await asyncio.sleep(0)  # the loop is still ours and still running
    assert asyncio.get_running_loop() is loop and loop.is_running()


def test_open_from_a_coroutine_run_by_asyncio_run() -> None:
    async def cell() -> tuple[str, int]:
        pm = durascope.open(STORE)
        use_like_a_cell(pm)
        return repr(pm), len(pm.findings())

    text, count = asyncio.run(cell())
    assert text.startswith("Postmortem(") and count == 17


def test_asyncio_run_inside_the_loop_would_have_failed() -> None:
    """The hazard the tests above guard against: a nested ``asyncio.run`` raises."""

    async def nested() -> None:
        coro = asyncio.sleep(0)
        try:
            with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
                asyncio.run(coro)
        finally:
            coro.close()

    asyncio.run(nested())


def test_open_a_real_duroxide_store(tmp_path: Path) -> None:
    pytest.importorskip("duroxide")
    from tests.replay.duroxide_stores import generate

    path = generate(tmp_path, ["healthy"])["healthy"]

    async def cell() -> Postmortem:
        return durascope.open(path)

    pm = asyncio.run(cell())
    assert pm.model.origin.kind == "duroxide" and len(pm) > 0
    instance = next(iter(pm))
    assert instance.summary_text().startswith("Instance(")
    assert "inferred" in instance.turn(0).summary_text()  # duroxide keeps no turn journal


def test_open_says_in_one_line_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file") as missing:
        durascope.open(tmp_path / "nope.db")
    assert "\n" not in str(missing.value)
    (tmp_path / "notes.txt").write_text("not a store")
    with pytest.raises(SourceError) as junk:
        durascope.open(tmp_path / "notes.txt")
    assert "\n" not in str(junk.value)
