"""How graph elements look: colours, node labels, the gradient colour scale and the legend.

Everything here turns one tensor, op or module into DOT attribute text; `dot.py` decides
which elements exist and where they go. Labels of tensors and modules are Graphviz
HTML-like tables (one row per fact, the gradient row coloured by magnitude); op labels are
plain text.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

import numpy as np

FONT = "Helvetica"

# Fill colours by node kind: parameters blue, inputs grey, intermediates white, outputs green.
KIND_FILL = {
    "parameter": "#cfe2ff",
    "input": "#e9ecef",
    "intermediate": "#ffffff",
    "output": "#d1e7dd",
}
# The title of a tensor without a name: a leaf that requires grad is drawn as a parameter.
UNNAMED_TITLE = {"parameter": "leaf", "input": "input", "intermediate": "", "output": "output"}
LEGEND_TEXT = {"parameter": "parameter / leaf", "input": "input (no grad)"}
OP_FILL = "#fff3cd"
MODULE_FILL = "#e2d9f3"
CLUSTER_FILLS = ("#f4f6f8", "#e8ecf1")  # alternating, so nested clusters stay visible
BROADCAST_COLOR = "#b35806"

# Gradient colour scale on log10(max |g|): (upper bound, name, background, text colour).
# A gradient that is exactly zero, or NaN/inf, gets its own colour.
GRAD_ZERO = ("zero", "#bdbdbd", "black")
GRAD_BINS = (
    (1e-6, "vanishing < 1e-6", "#2c7bb6", "white"),
    (1e-3, "small 1e-6 to 1e-3", "#abd9e9", "black"),
    (1e1, "healthy 1e-3 to 10", "#a6d96a", "black"),
    (1e3, "large 10 to 1e3", "#fdae61", "black"),
    (math.inf, "exploding >= 1e3", "#8c510a", "white"),
)
GRAD_NONFINITE = ("NaN / inf", "#e31a1c", "white")

# Elementwise ops whose inputs may be broadcast to the output's shape.
ELEMENTWISE = frozenset(
    {"add", "sub", "mul", "div", "pow_tensor", "maximum", "minimum", "where", "clip"}
)
# Registry names shown under their PyTorch name.
OP_DISPLAY = {
    "pow_scalar": "pow",
    "pow_tensor": "pow",
    "amax": "max",
    "amin": "min",
    "getitem": "index",
}
# Op attributes shown under their PyTorch name; False / None values are not shown.
PARAM_DISPLAY = {"axis": "dim", "keepdims": "keepdim"}

SMALL_DATA = 6  # tensors with at most this many elements show their values


def num(value: float) -> str:
    """A number in at most 3 significant digits: 0.0123, 1.2e-07, 450."""
    return f"{value:.3g}"


def shape_text(shape: tuple) -> str:
    """`(2, 3)` for a shape; `()` for a scalar."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# Characters Graphviz rejects or cannot encode: C0/C1 controls (but newline) and lone
# surrogates. Names may hold them (a module named "a\x00b"); they are drawn as \xNN.
_UNPRINTABLE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with each control character written as `\\xNN` (newlines kept)."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def escape(text: str) -> str:
    """Text for an HTML-like label: printable, with &, <, > and quotes escaped."""
    return html.escape(printable(text))


def quote(text: str) -> str:
    """A DOT double-quoted string (newlines become centred line breaks)."""
    text = printable(text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _constant_text(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return num(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))
    if isinstance(value, np.ndarray):
        if value.size <= 3:
            return np.array2string(value, precision=3, separator=",")
        return f"array{shape_text(value.shape)}"
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def op_label(node: Any) -> list[str]:
    """Label lines of an op: its name with the constants it took, then its attributes.

    Example: ``mul(·, 0.5)`` for ``x * 0.5``; ``sum`` then ``dim=1`` for ``x.sum(1)``.
    A call too long for one line puts the constants on a line of their own.
    """
    name = OP_DISPLAY.get(node.prim.name, node.prim.name)
    lines = [name]
    from .walk import inputs  # (walk imports nothing from here)

    args = inputs(node)
    if any(not _is_tensor(a) and a is not None for a in args):
        shown = [_constant_text(a) if not _is_tensor(a) else "·" for a in args if a is not None]
        call = f"({', '.join(shown)})"
        lines = [name + call] if len(name) + len(call) <= 24 else [name, call]
    for key, value in node.params.items():
        if value is None or value is False or isinstance(value, (dict, np.ndarray)):
            continue
        if not isinstance(value, (bool, int, float, str, tuple, np.integer, np.floating)):
            continue
        shown_key = PARAM_DISPLAY.get(key, key)
        lines.append(shown_key if value is True else f"{shown_key}={_constant_text(value)}")
    return lines


def _is_tensor(value: Any) -> bool:
    from .walk import is_tensor

    return is_tensor(value)


def grad_style(grad: Any) -> tuple[str, str, str]:
    """(row text, background, text colour) for a gradient: its norm and max |g|, coloured
    by max |g| on `GRAD_BINS`; NaN/inf in red with their counts."""
    arr = np.asarray(grad.data if hasattr(grad, "data") else grad)
    if arr.dtype.kind not in "fc":
        arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(arr.size - finite.sum()) - n_nan
        parts = ([f"{n_nan} NaN"] if n_nan else []) + ([f"{n_inf} inf"] if n_inf else [])
        _, fill, font = GRAD_NONFINITE
        return "grad " + " + ".join(parts) + "!", fill, font
    flat = arr.ravel().astype(np.float64)
    max_abs = float(np.abs(flat).max()) if flat.size else 0.0
    norm = float(np.sqrt(np.dot(flat, flat)))
    text = f"grad norm {num(norm)}, max {num(max_abs)}"
    if max_abs == 0.0:
        return text, GRAD_ZERO[1], GRAD_ZERO[2]
    for upper, _, fill, font in GRAD_BINS:
        if max_abs < upper:
            return text, fill, font
    raise AssertionError("unreachable: the last bin is unbounded")


def data_lines(tensor: Any) -> list[str]:
    """The values of a small tensor, or mean/std/min/max of a large one; `data freed` for
    an intermediate whose data backward released."""
    data = getattr(tensor, "data", None)
    if data is None:
        return ["data freed"]
    arr = np.asarray(data)
    if arr.size <= SMALL_DATA:
        if arr.ndim == 0:
            return [_constant_text(arr.item())]
        return np.array2string(arr, precision=4, separator=", ", max_line_width=44).split("\n")
    values = arr.astype(np.float64)
    return [
        f"mean {num(values.mean())}, std {num(values.std())}",
        f"min {num(values.min())}, max {num(values.max())}",
    ]


def _row(text: str, fill: str | None = None, font: str | None = None, bold: bool = False) -> str:
    body = escape(text)
    if bold:
        body = f"<B>{body}</B>"
    if font:
        body = f'<FONT COLOR="{font}">{body}</FONT>'
    bg = f' BGCOLOR="{fill}"' if fill else ""
    return f"<TR><TD{bg}>{body}</TD></TR>"


def _table(rows: list[str]) -> str:
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
        + "".join(rows)
        + "</TABLE>>"
    )


def tensor_attrs(
    tensor: Any,
    kind: str,
    name: str | None,
    show_data: bool,
    show_grad: bool,
    truncated: bool = False,
) -> str:
    """DOT attributes of a tensor node: title (name or kind), shape and dtype, optional data
    and gradient rows."""
    title = name or UNNAMED_TITLE[kind]
    rows = [_row(title, bold=True)] if title else []
    dtype = "?" if tensor.dtype is None else np.dtype(tensor.dtype).name
    rows.append(_row(f"{shape_text(tuple(tensor.shape))} {dtype}"))
    if show_data:
        rows.extend(_row(line) for line in data_lines(tensor))
    if show_grad and getattr(tensor, "grad", None) is not None:
        rows.append(_row(*grad_style(tensor.grad)))
    if truncated:
        rows.append(_row("(inputs not drawn)", font="#6c757d"))
    pen = " penwidth=2" if kind == "output" else ""
    fill = KIND_FILL[kind]
    return f'shape=box style="rounded,filled" fillcolor="{fill}"{pen} label={_table(rows)}'


def op_attrs(lines: list[str]) -> str:
    """DOT attributes of an op node: its name, and details in smaller grey type."""
    rows = [_row(lines[0])]
    rows += [
        f'<TR><TD><FONT POINT-SIZE="9" COLOR="#495057">{escape(line)}</FONT></TD></TR>'
        for line in lines[1:]
    ]
    return f'shape=ellipse style=filled fillcolor="{OP_FILL}" margin=0 label={_table(rows)}'


def module_attrs(title: str, params: list[tuple[str, Any]], show_grad: bool) -> str:
    """DOT attributes of a collapsed module: its name, then each parameter's shape (and
    gradient row)."""
    rows = [_row(title, bold=True)]
    for pname, p in params:
        rows.append(_row(f"{pname} {shape_text(tuple(p.shape))}"))
        if show_grad and getattr(p, "grad", None) is not None:
            rows.append(_row(*grad_style(p.grad)))
    return f'shape=box style="rounded,filled" fillcolor="{MODULE_FILL}" label={_table(rows)}'


def cluster_attrs(label: str, depth: int) -> list[str]:
    """Attribute statements of a module cluster at nesting `depth` (0 = outermost)."""
    fill = CLUSTER_FILLS[depth % len(CLUSTER_FILLS)]
    # NOTE: an empty cell as wide as the name keeps a narrow cluster at least twice the
    # name's width, so the edge entering its centre never crosses the left-aligned name.
    pad = 7 * len(label)
    table = (
        f'<<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0"><TR><TD>{escape(label)}'
        f'</TD><TD WIDTH="{pad}"> </TD></TR></TABLE>>'
    )
    return [
        f"label={table}",
        "labeljust=l",
        'style="rounded,filled"',
        f'fillcolor="{fill}"',
        'color="#6c757d"',
        "fontsize=12",
    ]


def broadcast_attrs(in_shape: tuple, out_shape: tuple) -> str:
    """DOT attributes of an edge whose tensor was broadcast from `in_shape` to `out_shape`."""
    text = f"broadcast {shape_text(in_shape)} -> {shape_text(out_shape)}"
    colour = BROADCAST_COLOR
    return f'label={quote(text)} fontcolor="{colour}" color="{colour}" style=dashed'


def legend_attrs(show_grad: bool, modules: bool = False) -> str:
    """DOT attributes of the legend node: node kinds (with collapsed modules when drawn),
    and the gradient scale when shown."""
    cells = ['<TR><TD COLSPAN="2"><B>legend</B></TD></TR>']
    swatches: list[tuple[str, str | None]] = [
        (LEGEND_TEXT.get(kind, kind), fill) for kind, fill in KIND_FILL.items()
    ]
    swatches.append(("op", OP_FILL))
    if modules:
        swatches.append(("module (collapsed)", MODULE_FILL))
    if show_grad:
        scale = [GRAD_ZERO, *(b[1:] for b in GRAD_BINS), GRAD_NONFINITE]
        swatches += [("", None)] + [(text, fill) for text, fill, _ in scale]
    for text, fill in swatches:
        if fill is None:
            cells.append('<TR><TD COLSPAN="2"><B>gradient max |g|</B></TD></TR>')
            continue
        cells.append(
            f'<TR><TD BGCOLOR="{fill}" BORDER="1">  </TD><TD ALIGN="LEFT">{escape(text)}</TD></TR>'
        )
    return (
        'shape=plaintext label=<<TABLE BORDER="0" CELLSPACING="2" CELLPADDING="3">'
        + "".join(cells)
        + "</TABLE>>"
    )
