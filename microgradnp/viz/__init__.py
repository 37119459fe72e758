"""Computation-graph drawing with Graphviz: shapes, dtypes, values, gradients and modules.

`to_dot` gives the DOT text (pure, deterministic, iterative); `show_graph` wraps it in a
`Graph` that Jupyter shows inline as SVG (it needs only the `dot` program); `draw_graph` in
a `graphviz.Digraph` (Jupyter, SVG/PNG/PDF); `save_graph` writes a file, the format taken
from its extension. `retain_grads` keeps the intermediates' gradients for `show_grad`.
Modules: `walk` (graph traversal), `style` (labels, colours, legend), `dot` (emission),
`render` (files and Digraphs), `display` (inline pictures).

Example:
    >>> import microgradnp as mg
    >>> from microgradnp import viz
    >>> w = mg.tensor([[0.5, -1.0]], requires_grad=True)
    >>> x = mg.tensor([[1.0, 2.0]])
    >>> loss = mg.sigmoid(x @ w.T).sum()
    >>> loss.backward()
    >>> text = viz.to_dot(loss, params={"w": w}, show_grad=True)
    >>> "grad norm" in text and "<B>w</B>" in text
    True
"""

from .display import Graph, show_graph
from .dot import to_dot
from .render import GraphvizNotFoundError, draw_graph, save_graph
from .walk import retain_grads

__all__ = [
    "Graph",
    "GraphvizNotFoundError",
    "draw_graph",
    "retain_grads",
    "save_graph",
    "show_graph",
    "to_dot",
]
