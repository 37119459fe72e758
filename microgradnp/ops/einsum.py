"""Tensor contractions: `einsum` (a primitive) and the batched matrix product `bmm`.

For out = einsum("A,B->C", x, y) the gradient of x is itself an einsum of the incoming
gradient with the other operands, "C,B->A": every product term that contained x[A] is
multiplied by g[C]. Two refinements make this exact for every supported equation:
- a letter of x that appears neither in C nor in another operand was summed over x alone,
  so the gradient is constant along it (broadcast);
- a letter repeated inside x (a diagonal, as in "ii->i") only touches the diagonal, so the
  gradient is built on the distinct letters and placed on the diagonal by a product with
  the identity (one more einsum operand).
Supported: any number of operands, explicit ("ij,jk->ik") or implicit ("ij,jk") output,
letters a-z and A-Z, repeated letters within an operand; not supported: the ellipsis "...".
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ..primitive import primitive, raw
from .linalg import _matmul
from .shape import _broadcast_to, _reshape

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = ["bmm", "einsum"]


@primitive
def _einsum(*operands, equation):
    # a contraction of two or more operands goes through BLAS (tensordot) when it can
    return np.einsum(equation, *operands, optimize=len(operands) > 1)


def _parse(equation: str) -> tuple[list[str], str]:
    lhs, rhs = equation.split("->")
    return lhs.split(","), rhs


@_einsum.defvjp(uses_out=False)
def _einsum_vjp(g, out, needs, *operands, equation):
    ins, rhs = _parse(equation)
    used = set(equation)
    spare = iter(c for c in string.ascii_letters if c not in used)
    grads = []
    for i, sub in enumerate(ins):
        if not needs[i]:
            grads.append(None)
            continue
        others = [s for j, s in enumerate(ins) if j != i]
        available = set(rhs).union(*others) if others else set(rhs)
        distinct = "".join(dict.fromkeys(sub))  # letters of x in first-seen order
        kept = "".join(c for c in distinct if c in available)
        terms = [rhs, *others]
        args = [g, *[operands[j] for j in range(len(ins)) if j != i]]
        gx = _einsum(*args, equation=",".join(terms) + "->" + kept)
        # letters summed over x alone: the gradient is constant along them. `kept` is
        # `distinct` less those letters, in the same order, so a reshape inserts their axes.
        sizes = dict(zip(sub, raw(operands[i]).shape, strict=True))
        if kept != distinct:
            gx = _reshape(gx, shape=tuple(sizes[c] if c in kept else 1 for c in distinct))
            gx = _broadcast_to(gx, shape=tuple(sizes[c] for c in distinct))
        if distinct != sub:
            gx = _onto_diagonal(gx, distinct, sub, sizes, spare)
        grads.append(gx)
    return tuple(grads)


def _onto_diagonal(gx: Any, distinct: str, sub: str, sizes: dict, spare: Any) -> Any:
    """Place a gradient over the distinct letters of `sub` onto its repeated-letter
    diagonals: out[..i..i'..] = gx[..i..] * eye[i, i']."""
    seen: set[str] = set()
    target = []
    eyes, eye_subs = [], []
    for c in sub:
        if c in seen:
            fresh = next(spare)
            target.append(fresh)
            eyes.append(np.eye(sizes[c], dtype=raw(gx).dtype))
            eye_subs.append(c + fresh)
        else:
            seen.add(c)
            target.append(c)
    equation = ",".join([distinct, *eye_subs]) + "->" + "".join(target)
    return _einsum(gx, *eyes, equation=equation)


def _normalise(equation: str, shapes: list[tuple]) -> str:
    eq = equation.replace(" ", "")
    if "." in eq:
        raise NotImplementedError(
            f"einsum: the ellipsis '...' is not supported, got {equation!r}; "
            f"write every dimension with its own letter"
        )
    if eq.count("->") > 1 or "-" in eq.replace("->", ""):
        raise ValueError(f"einsum: malformed equation {equation!r}")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    letters = set(string.ascii_letters)
    if any(c not in letters for c in lhs.replace(",", "") + rhs):
        raise ValueError(f"einsum: subscripts must be letters a-z or A-Z, got {equation!r}")
    if len(ins) != len(shapes):
        raise ValueError(
            f"einsum: the equation {equation!r} names {len(ins)} operands, got {len(shapes)}"
        )
    sizes: dict[str, int] = {}
    for k, (sub, shape) in enumerate(zip(ins, shapes, strict=True)):
        if len(sub) != len(shape):
            raise ValueError(
                f"einsum: operand {k} has shape {shape} ({len(shape)} dims) but subscripts "
                f"{sub!r} ({len(sub)} letters)"
            )
        for c, n in zip(sub, shape, strict=True):
            if sizes.setdefault(c, n) != n:
                raise ValueError(
                    f"einsum: letter {c!r} has size {sizes[c]} and {n} (operand {k}, shape {shape})"
                )
    if not arrow:  # implicit output: letters seen exactly once, in alphabetical order
        counts = lhs.replace(",", "")
        rhs = "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    if len(set(rhs)) != len(rhs) or any(c not in sizes for c in rhs):
        raise ValueError(
            f"einsum: output subscripts {rhs!r} must be distinct letters of the inputs "
            f"({equation!r})"
        )
    return ",".join(ins) + "->" + rhs


def einsum(equation: str, *operands: Any) -> Any:
    """Einstein summation, as `torch.einsum` (operands as arguments or as one list).

    Supported: any number of operands; explicit ("ij,jk->ik") or implicit ("ij,jk")
    output; repeated letters in an operand (traces "ii->", diagonals "ii->i"); letters
    a-z and A-Z. Not supported: the ellipsis "..." (NotImplementedError).

    Example:
        >>> import microgradnp as mg
        >>> a, b = mg.ones(2, 3), mg.ones(3, 4)
        >>> mg.einsum("ij,jk->ik", a, b).shape, mg.einsum("bij->bji", mg.ones(5, 2, 3)).shape
        ((2, 4), (5, 3, 2))
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    eq = _normalise(equation, [np.shape(raw(x)) for x in operands])
    return _einsum(*operands, equation=eq)


def bmm(x: Any, y: Any) -> Any:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors: (b, n, p), no broadcasting.

    Example:
        >>> import microgradnp as mg
        >>> mg.bmm(mg.ones(4, 2, 3), mg.ones(4, 3, 5)).shape
        (4, 2, 5)
    """
    xs, ys = np.shape(raw(x)), np.shape(raw(y))
    if len(xs) != 3 or len(ys) != 3:
        raise ValueError(f"bmm: both operands must be 3-D, got shapes {xs} and {ys}")
    if xs[0] != ys[0] or xs[2] != ys[1]:
        raise ValueError(
            f"bmm: shapes {xs} and {ys} do not match: expected (b, n, m) and (b, m, p)"
        )
    return _matmul(x, y)
