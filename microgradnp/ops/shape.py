"""Shape primitives: reshape, broadcast, permute, indexing, concatenation, padding.

`sum_to` and `broadcast_to` are each other's VJP; the engine calls `sum_to` to undo
broadcasting for every op. Public wrappers take PyTorch's argument styles
(`t.reshape(2, 3)` or `t.reshape((2, 3))`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import primitive, raw
from ..tensor import Tensor

# The public ops of this file: `mg.*` and `microgradnp.ops` export exactly these.
__all__ = [
    "broadcast_to",
    "cat",
    "concatenate",
    "expand",
    "flatten",
    "gather",
    "pad",
    "permute",
    "reshape",
    "split",
    "squeeze",
    "stack",
    "transpose",
    "unsqueeze",
]


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(int(s) for s in shape)


@primitive(view=True)
def _reshape(x, shape):
    return np.reshape(x, shape)


@_reshape.defvjp(uses_inputs=False, uses_out=False)
def _reshape_vjp(g, out, needs, x, shape):
    return (_reshape(g, raw(x).shape),)


def reshape(x: Any, *shape: Any) -> Any:
    """Same data, new shape (one dimension may be -1).

    Example:
        >>> import microgradnp as mg
        >>> mg.arange(6).reshape(2, 3).shape
        (2, 3)
    """
    try:
        return _reshape(x, shape=_shape_arg(shape))
    except ValueError as e:
        raise ValueError(
            f"reshape: cannot reshape shape {raw(x).shape} into {shape}: {e}"
        ) from None


view = reshape


@primitive(view=True)
def _broadcast_to(x, shape):
    return np.broadcast_to(x, shape)


@_broadcast_to.defvjp(uses_inputs=False, uses_out=False)
def _broadcast_to_vjp(g, out, needs, x, shape):
    return (sum_to(g, raw(x).shape),)


def broadcast_to(x: Any, *shape: Any) -> Any:
    """Broadcast to `shape` (a read-only view; its gradient sums back)."""
    return _broadcast_to(x, shape=_shape_arg(shape))


def expand(x: Any, *sizes: Any) -> Any:
    """PyTorch's expand: broadcast, with -1 meaning 'keep this dimension'."""
    sizes = _shape_arg(sizes)
    xs = raw(x).shape
    lead = len(sizes) - len(xs)
    if lead < 0:
        raise ValueError(f"expand: target {sizes} has fewer dimensions than the input {xs}")
    shape = tuple(xs[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return _broadcast_to(x, shape=shape)


def expand_as(x: Any, other: Any) -> Any:
    return _broadcast_to(x, shape=raw(other).shape)


@primitive
def sum_to(x, shape):
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1
    )
    out = np.sum(x, axis=axes, keepdims=True)
    return out.reshape(shape) if lead else out


@sum_to.defvjp(uses_inputs=False, uses_out=False)
def _sum_to_vjp(g, out, needs, x, shape):
    return (_broadcast_to(g, shape=raw(x).shape),)


@primitive(view=True)
def _permute(x, axes):
    return np.transpose(x, axes)


@_permute.defvjp(uses_inputs=False, uses_out=False)
def _permute_vjp(g, out, needs, x, axes):
    return (_permute(g, axes=tuple(np.argsort(axes))),)


def permute(x: Any, *dims: Any) -> Any:
    """Reorder the dimensions: out.shape[i] == x.shape[dims[i]]."""
    dims = _shape_arg(dims)
    if sorted(d % max(len(dims), 1) for d in dims) != list(range(raw(x).ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {raw(x).ndim} dims")
    return _permute(x, axes=dims)


def transpose(x: Any, dim0: Any = None, dim1: Any = None) -> Any:
    """Swap two dimensions (PyTorch); with no dims, reverse them all (NumPy)."""
    n = raw(x).ndim
    if dim0 is None:
        return _permute(x, axes=tuple(range(n - 1, -1, -1)))
    if isinstance(dim0, (tuple, list)):
        return permute(x, tuple(dim0))
    axes = list(range(n))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return _permute(x, axes=tuple(axes))


def squeeze(x: Any, dim: Any = None) -> Any:
    """Remove dimensions of size 1 (only `dim` if given and of size 1, as PyTorch)."""
    shape = raw(x).shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = {d % len(shape) for d in (dim if isinstance(dim, tuple) else (dim,))}
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return _reshape(x, shape=new)


def unsqueeze(x: Any, dim: int) -> Any:
    """Insert a dimension of size 1 at `dim`."""
    shape = list(raw(x).shape)
    if dim < 0:
        dim += len(shape) + 1
    shape.insert(dim, 1)
    return _reshape(x, shape=tuple(shape))


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """Merge dimensions start_dim..end_dim into one."""
    shape = raw(x).shape
    if not shape:
        return _reshape(x, shape=(1,))
    s, e = start_dim % len(shape), end_dim % len(shape)
    new = shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :]
    return _reshape(x, shape=new)


def normalize_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    return index


def _is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) selects each element at most once."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice, np.integer)) or i is None or i is Ellipsis for i in items)


@primitive(view=True)
def _getitem(x, index):
    return x[index]


@_getitem.defvjp(uses_inputs=False, uses_out=False)
def _getitem_vjp(g, out, needs, x, index):
    return (index_add(g, index=index, shape=raw(x).shape),)


def getitem(x: Any, index: Any) -> Any:
    """x[index] with ints, slices, None, Ellipsis, integer arrays and boolean masks.

    Repeated integer indices accumulate their gradients (scatter-add).
    """
    index = normalize_index(index)
    try:
        return _getitem(x, index=index)
    except IndexError as e:
        raise IndexError(
            f"index {index!r} is invalid for a tensor of shape {raw(x).shape}: {e}"
        ) from None


@primitive
def index_add(g, index, shape):
    """zeros(shape) with `g` added at `index` (repeated indices accumulate)."""
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


@index_add.defvjp(uses_inputs=False, uses_out=False)
def _index_add_vjp(g, out, needs, g_in, index, shape):
    return (_getitem(g, index=index),)


@primitive
def index_put(x, value, index):
    """A copy of x with x[index] = value (the out-of-place form of setitem)."""
    out = x.copy()
    out[index] = value
    return out


@index_put.defvjp(uses_inputs=False, uses_out=False)
def _index_put_vjp(g, out, needs, x, value, index):
    keep = np.ones(raw(x).shape, dtype=raw(g).dtype)
    keep[index] = 0
    gv = None
    if needs[1]:
        gv = _getitem(g, index=index)
    return g * keep, gv


def gather(x: Any, dim: int, index: Any) -> Any:
    """out[i][j] = x[index[i][j]][j] for dim=0 (x[i][index[i][j]] for dim=1), as PyTorch."""
    idx = np.asarray(raw(index))
    xr = raw(x)
    if idx.ndim != xr.ndim:
        raise ValueError(f"gather: index has {idx.ndim} dims but input has {xr.ndim}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer tensor, got {idx.dtype}")
    dim %= xr.ndim
    full = [
        np.arange(n).reshape([-1 if a == i else 1 for a in range(idx.ndim)])
        for i, n in enumerate(idx.shape)
    ]
    full[dim] = idx
    return _getitem(x, index=tuple(full))


@primitive
def _cat(*xs, axis=0):
    return np.concatenate(xs, axis=axis)


@_cat.defvjp(uses_inputs=False, uses_out=False)
def _cat_vjp(g, out, needs, *xs, axis=0):
    grads = []
    start = 0
    ndim = raw(g).ndim
    for x in xs:
        n = raw(x).shape[axis]
        sl = [slice(None)] * ndim
        sl[axis] = slice(start, start + n)
        grads.append(_getitem(g, index=tuple(sl)))
        start += n
    return tuple(grads)


def cat(tensors: Any, dim: int = 0, *, axis: Any = None) -> Any:
    """Concatenate along an existing dimension."""
    if axis is not None:
        dim = axis
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    return _cat(*tensors, axis=dim)


concatenate = cat


def stack(tensors: Any, dim: int = 0, *, axis: Any = None) -> Any:
    """Stack along a new dimension."""
    if axis is not None:
        dim = axis
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    shapes = {raw(t).shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return _cat(*(unsqueeze(t, dim) for t in tensors), axis=dim)


def split(x: Any, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """Split into chunks of a given size (int) or of the given sizes (list), as PyTorch."""
    n = raw(x).shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        sizes = [min(size, n - i) for i in range(0, n, size)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (dim {dim})")
    out, start = [], 0
    nd = raw(x).ndim
    for s in sizes:
        sl = [slice(None)] * nd
        sl[dim] = slice(start, start + s)
        out.append(_getitem(x, index=tuple(sl)))
        start += s
    return tuple(out)


@primitive
def _pad(x, pad_width, value=0.0):
    return np.pad(x, pad_width, mode="constant", constant_values=value)


@_pad.defvjp(uses_inputs=False, uses_out=False)
def _pad_vjp(g, out, needs, x, pad_width, value=0.0):
    sl = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, raw(x).shape, strict=True))
    return (_getitem(g, index=sl),)


def pad(x: Any, pad: Any, mode: str = "constant", value: float = 0.0) -> Any:
    """Constant padding with PyTorch's `pad` tuple: (left, right) of the last dim first,
    then (top, bottom) of the one before, and so on."""
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is supported, got {mode!r}")
    pad = tuple(int(p) for p in pad)
    nd = raw(x).ndim
    if len(pad) % 2 or len(pad) // 2 > nd:
        raise ValueError(f"pad: a tuple of even length up to {2 * nd} is needed, got {pad}")
    if min(pad, default=0) < 0:
        raise ValueError(f"pad: negative padding is not supported, got {pad}")
    width = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        width[nd - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return _pad(x, pad_width=tuple(width), value=value)
