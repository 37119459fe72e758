"""DOT emission: the text of a drawing, from a walked graph (`walk.py`) and styles (`style.py`).

`to_dot` is pure and deterministic: the same graph gives the same text (ids are sequential
in walk order, never memory addresses). Ops that ran inside modules are nested in labelled
clusters, or, collapsed, replaced by one node per top-level module. The text has exactly the
layout of `graphviz.Digraph.source`, so `draw_graph` can wrap it without re-emitting.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from . import style
from .walk import GraphWalk, OpItem, TensorItem, walk

_VIZ_DIR = os.path.dirname(os.path.abspath(__file__))

RANKDIRS = ("TB", "LR", "BT", "RL")


def to_dot(
    root: Any,
    params: Any = None,
    show_data: bool = False,
    show_grad: bool = False,
    group_modules: bool = True,
    collapse_modules: bool = False,
    rankdir: str = "TB",
    max_nodes: int | None = None,
    show_broadcast: bool = True,
    legend: bool | None = None,
) -> str:
    """The computation graph behind `root` as Graphviz DOT source.

    Args:
        root: the output tensor, or a list of them (e.g. several losses).
        params: names for tensors: a dict name -> tensor, or a model (its
            `named_parameters()` name the parameters, its `named_modules()` the clusters).
        show_data: add each tensor's values (at most 6 elements) or mean/std/min/max.
        show_grad: add each `.grad` (norm and max |g|), coloured on a log scale: vanishing,
            small, healthy, large, exploding; NaN/inf in red. Use `retain_grads(root)` before
            `backward()` to keep the intermediates' gradients too.
        group_modules: draw the ops that ran inside each module as a labelled cluster.
        collapse_modules: draw each top-level module as a single node (for big models).
        rankdir: "TB" (inputs on top), "LR", "BT" or "RL".
        max_nodes: stop expanding the graph (breadth-first from `root`) at this many nodes.
        show_broadcast: label edges where an elementwise op broadcast its input.
        legend: add a legend cluster (default: when `show_grad`).

    Returns:
        The DOT text; render it with Graphviz (`draw_graph`, `save_graph`).

    Example:
        >>> import microgradnp as mg
        >>> w = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> dot = to_dot((w * 3.0).sum(), params={"w": w})
        >>> dot.count("->"), "mul(·, 3)" in dot, "<B>w</B>" in dot
        (4, True, True)
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {RANKDIRS}, got {rankdir!r}")
    graph = walk(root, params, group_modules or collapse_modules, max_nodes)
    _warn_if_model_unused(graph, params)
    if legend is None:
        legend = show_grad
    # ordering=in: an op's inputs are laid out left to right in argument order (x - y).
    lines = [
        f'\tgraph [rankdir={rankdir} ordering=in fontname="{style.FONT}" nodesep=0.3 '
        "ranksep=0.35]\n",
        f'\tnode [fontname="{style.FONT}" fontsize=11 margin="0.08,0.04" height=0.3]\n',
        f'\tedge [fontname="{style.FONT}" fontsize=9 arrowsize=0.7 color="#495057"]\n',
    ]
    if collapse_modules:
        members, edges = _collapsed(graph, show_data, show_grad)
    else:
        members, edges = _expanded(graph, show_data, show_grad)
    _emit_clusters(graph, members, lines)
    by_id = {item.id: item for item in graph.items}
    for src, dst, shapes in edges:
        op = by_id.get(dst)
        if (
            show_broadcast
            and shapes is not None
            and isinstance(op, OpItem)
            and op.node.prim.name in style.ELEMENTWISE
        ):
            lines.append(f"\t{src} -> {dst} [{style.broadcast_attrs(*shapes)}]\n")
        else:
            lines.append(f"\t{src} -> {dst}\n")
    if legend:
        lines.append("\tsubgraph cluster_legend {\n")
        lines.append('\t\tlabel="" style="rounded" color="#adb5bd"\n')
        collapsed = collapse_modules and any(len(key) == 1 for key in graph.modules)
        lines.append(f"\t\tlegend [{style.legend_attrs(show_grad, collapsed)}]\n")
        lines.append("\t}\n")
    if graph.truncated:
        note = f"drawing stopped at max_nodes={max_nodes}: tensors marked '(inputs not drawn)'"
        lines.append(f"\tlabel={style.quote(note)} labelloc=b fontsize=10\n")
    return "digraph {\n" + "".join(lines) + "}\n"


def _warn_if_model_unused(graph: GraphWalk, params: Any) -> None:
    """A model given as `params` none of whose parameters is in the graph names nothing: say
    so, rather than draw an unlabelled graph as if all were well."""
    if not hasattr(params, "named_parameters"):
        return
    count = sum(1 for _ in params.named_parameters())
    if count == 0 or graph.truncated:
        return
    if any(isinstance(item, TensorItem) and item.name is not None for item in graph.items):
        return
    warnings.warn(
        f"params={type(params).__name__}(...): none of the model's {count} parameters is in "
        "this graph, so no parameter or module is named in the drawing. Was the graph built "
        "by another model, with detached parameters, or under mg.no_grad()?",
        UserWarning,
        stacklevel=_caller_stacklevel(),
    )


def _caller_stacklevel() -> int:
    """The `stacklevel` that points a warning at the first frame outside `mg.viz`."""
    level = 1
    frame: Any = sys._getframe(1)
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == _VIZ_DIR:
        frame, level = frame.f_back, level + 1
    return level


def _expanded(graph: GraphWalk, show_data: bool, show_grad: bool) -> tuple[dict, list]:
    """Node statements per cluster path, and the edges, for the full drawing."""
    members: dict[tuple, list[str]] = {}
    for item in graph.items:
        members.setdefault(item.path, []).append(_node_statement(item, show_data, show_grad))
    return members, graph.edges


def _node_statement(item: Any, show_data: bool, show_grad: bool) -> str:
    if isinstance(item, OpItem):
        return f"{item.id} [{style.op_attrs(style.op_label(item.node))}]"
    attrs = style.tensor_attrs(
        item.tensor, item.kind, item.name, show_data, show_grad, item.truncated
    )
    return f"{item.id} [{attrs}]"


def _collapsed(graph: GraphWalk, show_data: bool, show_grad: bool) -> tuple[dict, list]:
    """Replace everything inside each top-level module by one node; a tensor a module
    produces stays drawn (outside it) when something outside the module consumes it."""
    tops = {key: f"m{i}" for i, key in enumerate(k for k in graph.modules if len(k) == 1)}
    consumers: dict[str, set] = {}
    top_of = {item.id: item.path[:1] for item in graph.items}
    for src, dst, _ in graph.edges:
        consumers.setdefault(src, set()).add(top_of[dst])
    rep: dict[str, str] = {}
    members: dict[tuple, list[str]] = {(): []}
    for item in graph.items:
        top = top_of[item.id]
        escapes = isinstance(item, TensorItem) and (
            item.kind == "output" or any(c != top for c in consumers.get(item.id, ()))
        )
        if top and not escapes:
            rep[item.id] = tops[top]
            continue
        members[()].append(_node_statement(item, show_data, show_grad))
    for key, node_id in tops.items():
        params = [
            (p.name or "parameter", p.tensor)
            for path, items in graph.module_params.items()
            if path[:1] == key
            for p in items
        ]
        label = graph.modules[key].label
        members[()].append(f"{node_id} [{style.module_attrs(label, params, show_grad)}]")
    edges: dict[tuple, Any] = {}
    for src, dst, shapes in graph.edges:
        a, b = rep.get(src, src), rep.get(dst, dst)
        if a != b and (a, b) not in edges:
            edges[(a, b)] = shapes if b == dst else None
    return members, [(a, b, s) for (a, b), s in edges.items()]


def _emit_clusters(graph: GraphWalk, members: dict, lines: list[str]) -> None:
    """Write node statements nested in their module clusters (an explicit stack, so depth is
    never a problem); clusters appear in the order their modules were first reached."""
    children: dict[tuple, list[tuple]] = {}
    for key in graph.modules:
        if key in members or any(k[: len(key)] == key for k in members):
            children.setdefault(key[:-1], []).append(key)
    cluster_ids = {key: i for i, key in enumerate(graph.modules)}
    stack: list[tuple[str, tuple]] = [("open", ())]
    while stack:
        action, key = stack.pop()
        depth = len(key)
        indent = "\t" * (depth + 1)
        if action == "close":
            lines.append("\t" * depth + "}\n")
            continue
        if key:
            lines.append("\t" * depth + f"subgraph cluster_{cluster_ids[key]} {{\n")
            attrs = style.cluster_attrs(graph.modules[key].label, depth - 1)
            lines.append(indent + " ".join(attrs) + "\n")
            stack.append(("close", key))
        lines.extend(indent + statement + "\n" for statement in members.get(key, ()))
        stack.extend(("open", child) for child in reversed(children.get(key, ())))
