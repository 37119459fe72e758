"""Inline display: a drawn graph that Jupyter shows as a picture.

`show_graph` returns a `Graph`, whose `_repr_svg_` and `_repr_mimebundle_` run Graphviz's
`dot` program (the Python `graphviz` package is not needed), so a notebook cell that ends
with it shows the drawing; without `dot`, Jupyter falls back to the text repr, which says
how to install it. `tensor_svg` is the same picture for a tensor's own `_repr_svg_`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from .dot import to_dot
from .render import GraphvizNotFoundError, pipe, write_dot

# A node statement of to_dot's text: tensors and ops are n0, n1, ...; collapsed modules m0, ...
_NODE = re.compile(r"^\t+[nm]\d+ \[", re.MULTILINE)


class Graph:
    """A computation graph drawn as DOT text, shown as SVG in Jupyter.

    Attributes:
        source: the DOT text (`to_dot`'s output).

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> g = mg.viz.show_graph((x * x).sum())
        >>> g
        <Graph: 5 nodes, 5 edges>
        >>> g.source == mg.viz.to_dot((x * x).sum())
        True
    """

    __slots__ = ("source", "_svg")

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not source.startswith("digraph"):
            raise TypeError("Graph expects DOT text that starts with 'digraph' (see to_dot)")
        self.source = source
        self._svg: str | None = None

    def svg(self) -> str:
        """The drawing as SVG text (rendered once by `dot`, then cached).

        Raises:
            GraphvizNotFoundError: the Graphviz `dot` program is not installed.
        """
        if self._svg is None:
            self._svg = pipe(self.source, "svg", what="the graph").decode("utf-8")
        return self._svg

    def save(self, path: str | os.PathLike, dpi: int | None = None) -> Path:
        """Write the drawing to `path`, the format taken from its extension (as `save_graph`)."""
        return write_dot(self.source, path, dpi)

    def _repr_svg_(self) -> str | None:
        # None tells Jupyter to show the text repr instead (which says why).
        try:
            return self.svg()
        except GraphvizNotFoundError:
            return None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        bundle = {"text/plain": repr(self)}
        svg = self._repr_svg_()
        if svg is not None:
            bundle["image/svg+xml"] = svg
        return bundle

    def __repr__(self) -> str:
        nodes = len(_NODE.findall(self.source))
        edges = self.source.count(" -> ")
        return f"<Graph: {nodes} nodes, {edges} edges>"


def show_graph(root: Any, params: Any = None, **options: Any) -> Graph:
    """The computation graph behind `root`, as a `Graph` that Jupyter displays inline.

    Takes the same arguments as `to_dot` (`show_grad=True` after `backward()` colours the
    gradients; `params=model` names the parameters and groups ops by module). End a notebook
    cell with it to see the picture, or call `.save("graph.svg")`.

    Example:
        >>> import microgradnp as mg
        >>> model = mg.nn.Linear(2, 1)
        >>> loss = model(mg.ones(3, 2)).sum()
        >>> loss.backward()
        >>> g = show_graph(loss, params=model, show_grad=True)
        >>> "<B>weight</B>" in g.source and "legend" in g.source
        True
    """
    return Graph(to_dot(root, params, **options))


def tensor_svg(tensor: Any, **options: Any) -> str | None:
    """The SVG drawing of the graph that produced `tensor`, or None when there is nothing to
    draw (a tensor no recorded op produced) or Graphviz's `dot` is missing. Meant for
    `Tensor._repr_svg_`, where None makes Jupyter show the text repr.

    Example:
        >>> import microgradnp as mg
        >>> tensor_svg(mg.tensor([1.0])) is None
        True
    """
    if getattr(tensor, "grad_fn", None) is None:
        return None
    return Graph(to_dot(tensor, **options))._repr_svg_()
