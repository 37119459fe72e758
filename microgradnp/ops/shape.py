"""Shape primitives: reshape, broadcast, permute, indexing, concatenation, padding.

`sum_to` and `broadcast_to` are each other's VJP; the engine calls `sum_to` to undo
broadcasting for every op. Public wrappers take PyTorch's argument styles
(`t.reshape(2, 3)` or `t.reshape((2, 3))`).
"""

from __future__ import annotations

import builtins
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


def canonical_dim(dim: Any, ndim: int, op: str, shape: tuple) -> int:
    """`dim` as an index in [0, ndim), PyTorch's rule: negative counts from the end, and a
    0-d tensor accepts 0 and -1. Anything else raises IndexError naming op, dim and shape."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r} ({type(dim).__name__})")
    n = builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], "
            f"but got {dim}) for a tensor of shape {shape}"
        )
    return int(dim) % n


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
    """PyTorch's expand: broadcast, with -1 meaning 'keep this dimension'.

    Example:
        >>> import microgradnp as mg
        >>> mg.zeros(3).expand(2, -1).shape
        (2, 3)
    """
    sizes = _shape_arg(sizes)
    xs = raw(x).shape
    lead = len(sizes) - len(xs)
    if lead < 0:
        raise ValueError(f"expand: target {sizes} has fewer dimensions than the input {xs}")
    shape = []
    for i, size in enumerate(sizes):
        if i < lead:  # a new leading dimension: any size but -1
            if size < 0:
                raise ValueError(
                    f"expand: the size {size} is not allowed in a new leading dimension {i} "
                    f"(target {sizes}, input shape {xs})"
                )
            shape.append(size)
            continue
        old = xs[i - lead]
        new = old if size == -1 else size
        if new < 0 or (old != 1 and new != old):
            raise ValueError(
                f"expand: the expanded size {size} must match the existing size {old} at "
                f"dimension {i} (target {sizes}, input shape {xs})"
            )
        shape.append(new)
    return _broadcast_to(x, shape=tuple(shape))


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
    out = np.add.reduce(x, axis=axes, keepdims=True)  # (np.sum, without its wrapper)
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
    """Reorder the dimensions: out.shape[i] == x.shape[dims[i]].

    Example:
        >>> import microgradnp as mg
        >>> mg.zeros(2, 3, 4).permute(2, 0, 1).shape
        (4, 2, 3)
    """
    dims = _shape_arg(dims)
    shape = raw(x).shape
    if len(dims) != len(shape):
        raise ValueError(f"permute: {dims} has {len(dims)} dims but the tensor has shape {shape}")
    axes = tuple(canonical_dim(d, len(shape), "permute", shape) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"permute: duplicate dims in {dims} (tensor shape {shape})")
    return _permute(x, axes=axes)


def transpose(x: Any, dim0: Any = None, dim1: Any = None) -> Any:
    """Swap two dimensions (PyTorch); with no dims, reverse them all (NumPy).

    Example:
        >>> import microgradnp as mg
        >>> mg.zeros(2, 3).transpose(0, 1).shape
        (3, 2)
    """
    shape = raw(x).shape
    n = len(shape)
    if dim0 is None:
        return _permute(x, axes=tuple(range(n - 1, -1, -1)))
    if isinstance(dim0, (tuple, list)):
        return permute(x, tuple(dim0))
    if dim1 is None:
        raise TypeError(f"transpose: give two dims (or none), got dim0={dim0} only")
    d0 = canonical_dim(dim0, n, "transpose", shape)
    d1 = canonical_dim(dim1, n, "transpose", shape)
    if n == 0:
        return _reshape(x, shape=())
    axes = list(range(n))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return _permute(x, axes=tuple(axes))


def squeeze(x: Any, dim: Any = None) -> Any:
    """Remove dimensions of size 1 (only `dim` if given and of size 1, as PyTorch).

    Example:
        >>> import microgradnp as mg
        >>> mg.zeros(2, 1).squeeze(1).shape, mg.zeros(2, 1).squeeze(0).shape
        ((2,), (2, 1))
    """
    shape = raw(x).shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        given = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = {canonical_dim(d, len(shape), "squeeze", shape) for d in given}
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return _reshape(x, shape=new)


def unsqueeze(x: Any, dim: int) -> Any:
    """Insert a dimension of size 1 at `dim` (in [-ndim - 1, ndim], as PyTorch).

    Example:
        >>> import microgradnp as mg
        >>> mg.zeros(2, 3).unsqueeze(-1).shape
        (2, 3, 1)
    """
    shape = list(raw(x).shape)
    dim = canonical_dim(dim, len(shape) + 1, "unsqueeze", tuple(shape))
    shape.insert(dim, 1)
    return _reshape(x, shape=tuple(shape))


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """Merge dimensions start_dim..end_dim into one.

    Example:
        >>> import microgradnp as mg
        >>> mg.zeros(2, 3, 4).flatten(1).shape
        (2, 12)
    """
    shape = raw(x).shape
    s = canonical_dim(start_dim, len(shape), "flatten", shape)
    e = canonical_dim(end_dim, len(shape), "flatten", shape)
    if s > e:
        raise ValueError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (tensor shape {shape})"
        )
    if not shape:
        return _reshape(x, shape=(1,))
    new = shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :]
    return _reshape(x, shape=new)


def normalize_index(index: Any) -> Any:
    if type(index) in _PLAIN_INDEX:
        return index
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    return index


_PLAIN_INDEX = frozenset({int, slice, type(None), type(Ellipsis)})


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
    """`out[i][j] = x[index[i][j]][j]` for dim=0 (`x[i][index[i][j]]` for dim=1), as PyTorch.

    Example:
        >>> import microgradnp as mg
        >>> x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> mg.gather(x, 1, mg.tensor([[1], [0]])).tolist()
        [[2.0], [3.0]]
    """
    idx = np.asarray(raw(index))
    xr = raw(x)
    if idx.ndim != xr.ndim:
        raise ValueError(f"gather: index has {idx.ndim} dims but input has {xr.ndim}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be an integer tensor, got {idx.dtype}")
    dim = canonical_dim(dim, xr.ndim, "gather", xr.shape)
    if xr.ndim == 0:
        idx, xr_shape = idx.reshape(1), (1,)
    else:
        xr_shape = xr.shape
    for d, (n_idx, n_x) in enumerate(zip(idx.shape, xr_shape, strict=True)):
        if d != dim and n_idx > n_x:
            raise ValueError(
                f"gather: index of shape {idx.shape} is larger than the input {xr.shape} "
                f"at dimension {d} (only dimension {dim} may differ)"
            )
    if idx.size and (idx.min() < 0 or idx.max() >= xr_shape[dim]):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(
            f"gather: index {bad} is out of bounds for dimension {dim} with size "
            f"{xr_shape[dim]} (input shape {xr.shape})"
        )
    if xr.ndim == 0:
        return _reshape(x, shape=())  # a 0-d index of 0 picks the value itself
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
    """Concatenate along an existing dimension.

    Example:
        >>> import microgradnp as mg
        >>> mg.cat([mg.zeros(2, 3), mg.ones(1, 3)]).shape
        (3, 3)
    """
    if axis is not None:
        dim = axis
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    shape = raw(tensors[0]).shape
    if not shape:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated (use stack)")
    dim = canonical_dim(dim, len(shape), "cat", shape)
    return _cat(*tensors, axis=dim)


concatenate = cat


def stack(tensors: Any, dim: int = 0, *, axis: Any = None) -> Any:
    """Stack along a new dimension.

    Example:
        >>> import microgradnp as mg
        >>> mg.stack([mg.zeros(3), mg.ones(3)], dim=1).shape
        (3, 2)
    """
    if axis is not None:
        dim = axis
    tensors = tuple(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    shapes = {raw(t).shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    shape = raw(tensors[0]).shape
    dim = canonical_dim(dim, len(shape) + 1, "stack", shape)
    return _cat(*(unsqueeze(t, dim) for t in tensors), axis=dim)


def split(x: Any, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """Split into chunks of a given size (int) or of the given sizes (list), as PyTorch.

    Example:
        >>> import microgradnp as mg
        >>> [t.shape for t in mg.zeros(5, 2).split(2)]
        [(2, 2), (2, 2), (1, 2)]
    """
    shape = raw(x).shape
    if not shape:
        raise ValueError("split: a zero-dimensional tensor cannot be split")
    dim = canonical_dim(dim, len(shape), "split", shape)
    n = shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n > 0):
            raise ValueError(
                f"split: split_size must be positive (0 only for an empty dimension), got "
                f"{size} for dimension {dim} of size {n} (tensor shape {shape})"
            )
        sizes = [min(size, n - i) for i in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise ValueError(f"split: sizes must be non-negative, got {sizes}")
        if builtins.sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (dim {dim})")
    out, start = [], 0
    nd = len(shape)
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
    """Padding with PyTorch's `pad` tuple: (left, right) of the last dim first, then (top,
    bottom) of the one before, and so on; `mode` 'constant' (fills `value`), 'reflect' or
    'replicate' (see `padding.py`)."""
    pad = tuple(int(p) for p in pad)
    nd = raw(x).ndim
    if len(pad) % 2 or len(pad) // 2 > nd:
        raise ValueError(f"pad: a tuple of even length up to {2 * nd} is needed, got {pad}")
    if min(pad, default=0) < 0:
        raise ValueError(f"pad: negative padding is not supported, got {pad}")
    width = [(0, 0)] * nd
    for i in range(len(pad) // 2):
        width[nd - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode != "constant":
        from .padding import pad_by_mode  # padding.py builds on this module

        return pad_by_mode(x, tuple(width), mode)
    return _pad(x, pad_width=tuple(width), value=value)
