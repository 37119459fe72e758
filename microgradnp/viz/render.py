"""Rendering: DOT text to a `graphviz.Digraph` (Jupyter, SVG/PNG/PDF) or straight to a file.

`draw_graph` needs the `graphviz` Python package (imported lazily); `save_graph` needs only
the Graphviz `dot` program, run without a shell. When `dot` is missing, `save_graph` still
writes the DOT file and raises an error that says how to install Graphviz.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .dot import to_dot

# Output formats by file extension; ".dot"/".gv" write the DOT text itself.
FORMATS = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".gif": "gif",
    ".ps": "ps",
    ".eps": "eps",
    ".dot": None,
    ".gv": None,
}

INSTALL_HINT = (
    "Install Graphviz, which provides the `dot` program: `sudo apt-get install graphviz` "
    "(Debian/Ubuntu), `brew install graphviz` (macOS), `conda install -c conda-forge "
    "graphviz`, or https://graphviz.org/download/ (Windows); then make sure `dot` is on PATH."
)


class GraphvizNotFoundError(RuntimeError):
    """The Graphviz `dot` program is not installed (or not on PATH)."""


def draw_graph(root: Any, params: Any = None, **options: Any) -> Any:
    """The computation graph behind `root` as a `graphviz.Digraph`.

    Takes the same arguments as `to_dot`. The result shows inline in Jupyter and renders
    with `.render(path, format="svg")` (or png, pdf); its `.source` is `to_dot`'s text.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> g = draw_graph(mg.sigmoid(x).sum(), show_grad=True)
        >>> type(g).__name__, g.source.startswith("digraph {")
        ('Digraph', True)
    """
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(
            "draw_graph needs the `graphviz` Python package: pip install graphviz "
            "(to_dot and save_graph work without it)"
        ) from e
    source = to_dot(root, params, **options)
    body = source.split("\n")[1:-2]  # the lines between "digraph {" and "}"
    return graphviz.Digraph(body=[line + "\n" for line in body])


def save_graph(
    root: Any, path: str | os.PathLike, params: Any = None, dpi: int | None = None, **options: Any
) -> Path:
    """Draw the graph behind `root` into `path`, the format taken from its extension.

    `.svg .png .pdf .jpg .gif .ps .eps` run Graphviz's `dot`; `.dot` / `.gv` write the DOT
    text. `dpi` sets the resolution of bitmap formats. Other keyword arguments are those of
    `to_dot`. Writes nothing but `path` (and, if `dot` is missing, the DOT text beside it,
    with the suffix `.dot`, before raising `GraphvizNotFoundError`).

    Returns:
        The path written.
    """
    return write_dot(to_dot(root, params, **options), path, dpi)


def write_dot(source: str, path: str | os.PathLike, dpi: int | None = None) -> Path:
    """Write DOT `source` into `path`, rendered by Graphviz in the format of its extension
    (`.dot` / `.gv`: the text itself); what `save_graph` does after `to_dot`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"cannot tell the output format from {str(path)!r}: use one of {sorted(FORMATS)}"
        )
    if dpi is not None:
        if not isinstance(dpi, int) or isinstance(dpi, bool) or dpi <= 0:
            raise ValueError(f"dpi must be a positive int, got {dpi!r}")
        source = source.replace("\tgraph [", f"\tgraph [dpi={dpi} ", 1)
    fmt = FORMATS[suffix]
    if fmt is None:
        path.write_text(source, encoding="utf-8")
        return path
    if shutil.which("dot") is None:
        dot_path = path.with_suffix(".dot")
        dot_path.write_text(source, encoding="utf-8")
        raise GraphvizNotFoundError(
            f"cannot render {str(path)!r}: the Graphviz `dot` program was not found on PATH. "
            f"The DOT source was written to {str(dot_path)!r}. {INSTALL_HINT}"
        )
    path.write_bytes(pipe(source, fmt, what=repr(str(path))))
    return path


def pipe(source: str, fmt: str, what: str = "the graph") -> bytes:
    """Run Graphviz's `dot -T<fmt>` on `source` (no shell, no files) and return its output.

    Raises `GraphvizNotFoundError` when `dot` is not installed, and `RuntimeError` with
    Graphviz's message when it fails.
    """
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            f"cannot render {what}: the Graphviz `dot` program was not found on PATH. "
            f"{INSTALL_HINT}"
        )
    result = subprocess.run(
        [dot, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", errors="replace").strip()
        raise RuntimeError(f"Graphviz `dot -T{fmt}` failed for {what}: {message}")
    return result.stdout
