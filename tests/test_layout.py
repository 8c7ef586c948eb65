"""Every public module states its public names in ``__all__`` (temporalio's style).

Internals live in ``_private`` modules; a module without an underscore in its
dotted name is public, so it lists what it offers, and every listed name exists
(a rename cannot leave a stale entry behind).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "durascope"


def public_modules() -> list[str]:
    """Dotted names of the modules under durascope/ with no underscore-prefixed part."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not any(part.startswith("_") for part in parts):
            names.append(".".join(parts))
    return names


MODULES = public_modules()


def test_the_walk_finds_the_public_modules() -> None:
    # A walk that found nothing would make the test below pass vacuously.
    for name in (
        "durascope",
        "durascope.cli",
        "durascope.replay",
        "durascope.scenarios.demo_orchestrations",
        "durascope.tui.app",
        "durascope.tui.screens",
        "durascope.tui.widgets.turn_panel",
    ):
        assert name in MODULES
    assert not [m for m in MODULES if "._" in m]


@pytest.mark.parametrize("name", MODULES)
def test_public_module_defines_all_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    assert "__all__" in vars(module), f"{name} has no __all__"
    exported = module.__all__
    assert isinstance(exported, list) and all(isinstance(n, str) for n in exported)
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    private = [n for n in exported if n.startswith("_") and not n.endswith("__")]
    assert not private, f"{name}.__all__ exports private names: {private}"
