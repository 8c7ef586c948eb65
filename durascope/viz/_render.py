"""DOT -> SVG/PNG through the ``graphviz`` package and the ``dot`` program.

This is the only module that imports graphviz, and only inside functions, so
the graph model and the DOT writer work on machines without it (the TUI draws
from the model; ``.dot`` output needs nothing).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

from durascope.replay import Model, write_atomically
from durascope.viz._graph import Graph, build_graph

ImageFormat = Literal["svg", "png"]

INSTALL_HINT = (
    "install Graphviz so that `dot` is on PATH "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
    "conda: conda install -c conda-forge graphviz)"
)
PACKAGE_HINT = "pip install 'durascope[viz]' (the graphviz Python package)"
OUTPUT_SUFFIXES = (".dot", ".gv", ".svg", ".png")


class RenderError(RuntimeError):
    """A graph could not be rendered; the message is one line that says what to install or fix."""


def dot_available() -> bool:
    """Whether the Graphviz ``dot`` program is on PATH (cheap; not cached, PATH may change)."""
    return shutil.which("dot") is not None


def render(source: Graph | str, fmt: ImageFormat) -> bytes:
    """Render a graph (or DOT text) to SVG or PNG bytes.

    Raises:
        RenderError: The graphviz package or the ``dot`` program is missing, or
            ``dot`` rejected the input.
    """
    try:
        import graphviz  # type: ignore[import-untyped]
    except ImportError:
        raise RenderError(
            f"rendering {fmt.upper()} needs the graphviz Python package: {PACKAGE_HINT}"
        ) from None
    text = source if isinstance(source, str) else source.to_dot()
    try:
        data: bytes = graphviz.Source(text).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise RenderError(f"the Graphviz `dot` program was not found: {INSTALL_HINT}") from None
    except graphviz.CalledProcessError as exc:
        stderr = (
            exc.stderr.decode("utf-8", "replace")
            if isinstance(exc.stderr, bytes)
            else str(exc.stderr or "")
        )
        first = next(
            (line for line in stderr.splitlines() if line.strip()), f"exit status {exc.returncode}"
        )
        raise RenderError(f"dot could not render the graph: {first}") from None
    except OSError as exc:  # dot exists but cannot run (permissions, broken install)
        raise RenderError(
            f"the Graphviz `dot` program could not run ({exc.strerror}): {INSTALL_HINT}"
        ) from None
    return data


def render_svg(source: Graph | str) -> str:
    """Render to SVG text (see ``render``)."""
    return render(source, "svg").decode("utf-8")


def render_png(source: Graph | str) -> bytes:
    """Render to PNG bytes (see ``render``)."""
    return render(source, "png")


def render_to_file(model: Model, instance_id: str | None, out_path: str | Path) -> None:
    """The body of ``durascope render PATH --instance ID -o OUT``.

    The format comes from OUT's suffix.

    ``.dot`` (or ``.gv``) writes DOT text and needs nothing installed; ``.svg`` and
    ``.png`` need Graphviz.  Nothing is written when rendering fails, and the
    file appears whole or not at all.

    Raises:
        ValueError: OUT's suffix is not one of .dot, .gv, .svg, .png.
        RenderError: Graphviz is missing or failed (the message says how to install it).
        SourceError: ``instance_id`` is not in the model.
    """
    path = Path(out_path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(
            f"{path}: cannot tell the output format from {suffix or 'a name without suffix'}; "
            "use .dot, .svg or .png"
        )
    graph = build_graph(model, focus=instance_id)
    if suffix in (".dot", ".gv"):
        data = graph.to_dot().encode("utf-8")
    else:
        data = render(graph, "svg" if suffix == ".svg" else "png")
    write_atomically(path, data)
