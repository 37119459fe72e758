"""The op table: every differentiable op with a NumPy reference, sample inputs and, where
PyTorch has the same op, the PyTorch spelling. `test_ops.py` drives it.

A sample's float64 arrays become tensors that require grad; any other argument (ints, index
arrays, bool masks, tuples) is passed as it is to all three implementations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import microgradnp as mg
from microgradnp import ops
from microgradnp.ops.layer_norm import layer_normalize


@dataclass
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass
class OpInfo:
    name: str  # the primitive's registry name (or a composite's name); the pytest id
    op: Callable[..., Any]  # microgradnp callable under test
    ref: Callable[..., Any]  # NumPy reference for the forward
    samples: Callable[[np.random.Generator], Iterator[Sample]]
    torch: Callable[..., Any] | None = None  # same computation in PyTorch
    gradgrad: bool = True  # second derivatives checked (False only with a reason)
    primitives: tuple[str, ...] = ()  # registry names this entry covers (default: name)

    def covers(self) -> tuple[str, ...]:
        return self.primitives or (self.name,)


UNARY_SHAPES = [(), (3,), (2, 3), (2, 1, 3)]
BINARY_SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)), ((3,), ())]


def _r(rng: np.random.Generator, shape: tuple, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return np.asarray(rng.uniform(lo, hi, size=shape))


def _away(rng: np.random.Generator, shape: tuple, gap: float = 0.1) -> np.ndarray:
    """Values in [-2, -gap] U [gap, 2]: away from kinks at 0 (abs, relu, sign)."""
    return np.asarray(rng.uniform(gap, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape))


def unary(lo: float = -2.0, hi: float = 2.0, kink: bool = False):
    def gen(rng):
        for s in UNARY_SHAPES:
            yield Sample((_away(rng, s) if kink else _r(rng, s, lo, hi),))

    return gen


def binary(lo: float = -2.0, hi: float = 2.0, rlo: float | None = None, rhi: float | None = None):
    def gen(rng):
        for sx, sy in BINARY_SHAPES:
            yield Sample(
                (
                    _r(rng, sx, lo, hi),
                    _r(rng, sy, rlo if rlo is not None else lo, rhi if rhi is not None else hi),
                )
            )
        yield Sample((_r(rng, (2, 3), lo, hi), 1.5))  # a Python scalar operand

    return gen


def reduction(fn_kwargs: Callable[[Any, bool], dict]):
    def gen(rng):
        for dim in (None, 0, -1, (0, 2)):
            for keep in (False, True):
                yield Sample((_r(rng, (2, 3, 4)),), fn_kwargs(dim, keep))
        yield Sample((_r(rng, ()),), fn_kwargs(None, False))

    return gen


def _dims(dim, keep):
    return {"dim": dim, "keepdim": keep}


def _np_axis(kw):
    return {"axis": kw.get("dim"), "keepdims": kw.get("keepdim", False)}


def _t_dims(kw):
    d = kw.get("dim")
    return {} if d is None else {"dim": d, "keepdim": kw.get("keepdim", False)}


def _torch_reduce(name):
    def fn(x, **kw):
        import torch

        d = kw.get("dim")
        if d is None:
            out = getattr(torch, name)(x)
            return out.reshape([1] * x.ndim) if kw.get("keepdim") else out
        return getattr(torch, name)(x, dim=d, keepdim=kw.get("keepdim", False))

    return fn


def _tf(name):
    def fn(*a, **kw):
        import torch

        return getattr(torch, name)(*a, **kw)

    return fn


def _softmax_samples(rng):
    for shape, dim in (((3,), 0), ((2, 4), 1), ((2, 4), 0), ((2, 3, 4), -1)):
        yield Sample((_r(rng, shape, -3, 3),), {"dim": dim})


def _layer_normalize_samples(rng):
    for shape, axes in (((3,), (-1,)), ((2, 4), (-1,)), ((2, 3, 4), (-1,)), ((2, 3, 4), (-2, -1))):
        yield Sample((_r(rng, shape, -3, 3), axes))


def _np_layer_normalize(x, axes):
    centred = x - x.mean(axis=axes, keepdims=True)
    return centred / np.sqrt((centred**2).mean(axis=axes, keepdims=True) + 1e-5)


def _torch_layer_normalize(x, axes):
    import torch

    return torch.nn.functional.layer_norm(x, x.shape[len(x.shape) - len(axes) :])


def _index_samples(rng):
    x = _r(rng, (4, 3))
    yield Sample((x, 1))
    yield Sample((x, (slice(1, 3), None, Ellipsis)))
    yield Sample((x, np.array([0, 2, 0, 3])))  # repeated rows accumulate
    yield Sample((x, (np.array([1, 1, 3]), np.array([0, 0, 2]))))
    yield Sample((x, x > 0))  # boolean mask
    yield Sample((_r(rng, (2, 3, 4)), (Ellipsis, 1)))


def _matmul_samples(rng):
    for sx, sy in (
        ((2, 3), (3, 4)),
        ((3,), (3, 2)),
        ((2, 3), (3,)),
        ((3,), (3,)),
        ((2, 2, 3), (3, 4)),
        ((2, 1, 2, 3), (2, 3, 2)),
    ):
        yield Sample((_r(rng, sx), _r(rng, sy)))


def _linear_samples(rng):
    yield Sample((_r(rng, (4, 3)), _r(rng, (2, 3)), _r(rng, (2,))))
    yield Sample((_r(rng, (4, 3)), _r(rng, (2, 3))))
    yield Sample((_r(rng, (2, 4, 3)), _r(rng, (2, 3)), _r(rng, (2,))))
    yield Sample((_r(rng, (3,)), _r(rng, (2, 3)), _r(rng, (2,))))


def _ce_samples(rng):
    for red in ("mean", "sum", "none"):
        yield Sample((_r(rng, (4, 3), -3, 3), np.array([0, 2, 1, 2])), {"reduction": red})


def _torch_ce(x, t, reduction="mean"):
    import torch

    return torch.nn.functional.cross_entropy(x, t, reduction=reduction)


def _np_ce(x, t, reduction="mean"):
    z = x - x.max(1, keepdims=True)
    losses = np.log(np.exp(z).sum(1)) - z[np.arange(len(t)), t]
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


def _where_samples(rng):
    for sx, sy in BINARY_SHAPES[:4]:
        cond = rng.random(np.broadcast_shapes(sx, sy)) > 0.5
        yield Sample((cond, _r(rng, sx), _r(rng, sy)))


def _clip_samples(rng):
    yield Sample((_away(rng, (2, 3)),), {"min": -0.05, "max": 1.0})
    yield Sample((_away(rng, (4,)),), {"min": 0.05})
    yield Sample((_away(rng, (4,)),), {"max": 0.5 + 1e-3})


def _cat_samples(rng):
    yield Sample(([_r(rng, (2, 3)), _r(rng, (1, 3))],), {"dim": 0})
    yield Sample(([_r(rng, (2, 3)), _r(rng, (2, 1)), _r(rng, (2, 2))],), {"dim": 1})


def _stack_samples(rng):
    yield Sample(([_r(rng, (2, 3)), _r(rng, (2, 3))],), {"dim": 0})
    yield Sample(([_r(rng, (3,)), _r(rng, (3,)), _r(rng, (3,))],), {"dim": 1})


def _pad_samples(rng):
    yield Sample((_r(rng, (2, 3)), (1, 2)))
    yield Sample((_r(rng, (2, 3)), (0, 1, 2, 0)), {"value": 0.5})


def _permute_samples(rng):
    yield Sample((_r(rng, (2, 3, 4)), (2, 0, 1)))
    yield Sample((_r(rng, (2, 3)), (1, 0)))


def _reshape_samples(rng):
    yield Sample((_r(rng, (2, 3)), (3, 2)))
    yield Sample((_r(rng, (2, 3, 4)), (-1, 4)))
    yield Sample((_r(rng, ()), (1, 1)))


def _expand_samples(rng):
    yield Sample((_r(rng, (3,)), (2, 3)))
    yield Sample((_r(rng, (2, 1)), (2, 4)))
    yield Sample((_r(rng, ()), (2, 2)))


def _sum_to_samples(rng):
    yield Sample((_r(rng, (2, 3)), (3,)))
    yield Sample((_r(rng, (2, 3)), (2, 1)))
    yield Sample((_r(rng, (4, 2, 3)), (1, 3)))


def _gather_samples(rng):
    yield Sample((_r(rng, (3, 4)), 1, np.array([[0, 0], [1, 3], [2, 2]])))
    yield Sample((_r(rng, (3, 4)), 0, np.array([[0, 1, 2, 0], [0, 0, 0, 0]])))


def _split_samples(rng):
    yield Sample((_r(rng, (5, 2)), 2))
    yield Sample((_r(rng, (2, 5)), [1, 4]), {"dim": 1})


def _var_samples(rng):
    for dim in (None, 0, 1):
        for corr in (0, 1):
            yield Sample((_r(rng, (3, 4)),), {"dim": dim, "correction": corr})
    yield Sample((_r(rng, (3, 4)),), {"dim": 1, "keepdim": True})


def _torch_var(name):
    def fn(x, dim=None, correction=1, keepdim=False):
        import torch

        return getattr(torch, name)(x, dim=dim, correction=correction, keepdim=keepdim)

    return fn


def _np_var(x, dim=None, correction=1, keepdim=False):
    return np.var(x, axis=dim, ddof=correction, keepdims=keepdim)


def _max_dim_samples(rng):
    for dim in (0, 1, -1):
        for keep in (False, True):
            yield Sample((_r(rng, (3, 4)),), {"dim": dim, "keepdim": keep})


def _index_put_samples(rng):
    yield Sample((_r(rng, (4, 3)), _r(rng, (3,))), {"index": 1})
    yield Sample((_r(rng, (4, 3)), _r(rng, (2, 3))), {"index": np.array([0, 2])})
    yield Sample((_r(rng, (4, 3)), _r(rng, ())), {"index": (slice(None), 0)})


def _index_add_samples(rng):
    yield Sample((_r(rng, (4, 3)),), {"index": np.array([0, 2, 0, 1]), "shape": (3, 3)})
    yield Sample((_r(rng, (3,)),), {"index": (1, slice(None)), "shape": (2, 3)})


def _np_index_add(g, index, shape):
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


def _np_index_put(x, v, index):
    out = x.copy()
    out[index] = v
    return out


def _np_pad(x, pad, value=0.0):
    width = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        width[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return np.pad(x, width, constant_values=value)


def _np_gather(x, dim, idx):
    return np.take_along_axis(x, idx, axis=dim)


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_softmax(x, dim):
    e = np.exp(x - x.max(dim, keepdims=True))
    return e / e.sum(dim, keepdims=True)


def _np_lse(x, dim=None, keepdim=False):
    m = np.max(x, axis=dim, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=dim)


def _np_linear(x, w, b=None):
    return x @ w.T + (0 if b is None else b)


def _torch_linear(x, w, b=None):
    import torch

    return torch.nn.functional.linear(x, w, b)


def _torch_pad(x, pad, value=0.0):
    import torch

    return torch.nn.functional.pad(x, pad, value=value)


def _torch_gather(x, dim, idx):
    import torch

    return torch.gather(x, dim, idx)


def _torch_getitem(x, index):
    import torch

    if isinstance(index, np.ndarray):
        index = torch.as_tensor(index)
    elif isinstance(index, tuple):
        index = tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i for i in index)
    return x[index]


OP_DB: list[OpInfo] = [
    OpInfo("neg", ops.neg, np.negative, unary(), _tf("neg")),
    OpInfo("add", ops.add, np.add, binary(), _tf("add")),
    OpInfo("sub", ops.sub, np.subtract, binary(), _tf("sub")),
    OpInfo("mul", ops.mul, np.multiply, binary(), _tf("mul")),
    OpInfo("div", ops.div, np.divide, binary(rlo=0.5, rhi=2.0), _tf("div")),
    OpInfo(
        "pow_scalar",
        lambda x, e: mg.pow(x, e),
        np.power,
        lambda rng: (
            Sample((_r(rng, s, 0.3, 2.0), e)) for s in UNARY_SHAPES for e in (2, 3, 0.5, -1.5)
        ),
        _tf("pow"),
    ),
    OpInfo("pow_tensor", ops.pow_tensor, np.power, binary(0.3, 2.0, -2.0, 2.0), _tf("pow")),
    OpInfo("exp", ops.exp, np.exp, unary(), _tf("exp")),
    OpInfo("expm1", ops.expm1, np.expm1, unary(), _tf("expm1")),
    OpInfo("log", ops.log, np.log, unary(0.2, 3.0), _tf("log")),
    OpInfo("log1p", ops.log1p, np.log1p, unary(-0.5, 2.0), _tf("log1p")),
    OpInfo("sqrt", ops.sqrt, np.sqrt, unary(0.2, 3.0), _tf("sqrt")),
    OpInfo("abs", ops.abs, np.abs, unary(kink=True), _tf("abs")),
    OpInfo("sin", ops.sin, np.sin, unary(), _tf("sin")),
    OpInfo("cos", ops.cos, np.cos, unary(), _tf("cos")),
    OpInfo("tanh", ops.tanh, np.tanh, unary(), _tf("tanh")),
    OpInfo("sigmoid", ops.sigmoid, _np_sigmoid, unary(-6, 6), _tf("sigmoid")),
    OpInfo("relu", ops.relu, lambda x: np.maximum(x, 0), unary(kink=True), _tf("relu")),
    OpInfo("maximum", ops.maximum, np.maximum, binary(), None),
    OpInfo("minimum", ops.minimum, np.minimum, binary(), None),
    OpInfo("where", ops.where, np.where, _where_samples, _tf("where")),
    OpInfo(
        "clip",
        ops.clip,
        lambda x, min=None, max=None: np.clip(x, min, max),
        _clip_samples,
        _tf("clamp"),
    ),
    OpInfo("astype", lambda x: ops.astype(x, np.float64), lambda x: x, unary(), None),
    OpInfo("clone", ops.clone, np.copy, unary(), _tf("clone")),
    OpInfo("reshape", mg.reshape, np.reshape, _reshape_samples, _tf("reshape")),
    OpInfo("broadcast_to", mg.broadcast_to, np.broadcast_to, _expand_samples, _tf("broadcast_to")),
    OpInfo(
        "sum_to",
        ops.sum_to,
        lambda x, s: (
            np.sum(x, axis=tuple(range(x.ndim - len(s))), keepdims=False)
            .sum(axis=tuple(i for i, n in enumerate(s) if n == 1), keepdims=True)
            .reshape(s)
        ),
        _sum_to_samples,
        lambda x, s: x.sum_to_size(s),
    ),
    OpInfo("permute", mg.permute, np.transpose, _permute_samples, _tf("permute")),
    OpInfo("getitem", ops.getitem, lambda x, i: x[i], _index_samples, _torch_getitem),
    OpInfo(
        "index_add",
        lambda g, index, shape: ops.index_add(g, index=index, shape=shape),
        _np_index_add,
        _index_add_samples,
        None,
    ),
    OpInfo(
        "index_put",
        lambda x, v, index: ops.index_put(x, v, index=index),
        _np_index_put,
        _index_put_samples,
        None,
    ),
    OpInfo("cat", mg.cat, lambda xs, dim: np.concatenate(xs, axis=dim), _cat_samples, _tf("cat")),
    OpInfo(
        "stack",
        mg.stack,
        lambda xs, dim: np.stack(xs, axis=dim),
        _stack_samples,
        _tf("stack"),
        primitives=("stack",),
    ),
    OpInfo("pad", mg.pad, _np_pad, _pad_samples, _torch_pad),
    OpInfo(
        "sum",
        mg.sum,
        lambda x, **kw: np.sum(x, **_np_axis(kw)),
        reduction(_dims),
        _torch_reduce("sum"),
    ),
    OpInfo(
        "mean",
        mg.mean,
        lambda x, **kw: np.mean(x, **_np_axis(kw)),
        reduction(_dims),
        _torch_reduce("mean"),
    ),
    OpInfo(
        "amax",
        mg.max,
        lambda x, **kw: np.max(x, **_np_axis(kw)),
        lambda rng: (
            s
            for s in reduction(_dims)(rng)
            if s.kwargs["dim"] is None or isinstance(s.kwargs["dim"], tuple)
        ),
        lambda x, dim=None, keepdim=False: __import__("torch").amax(
            x, dim=() if dim is None else dim, keepdim=keepdim
        ),
    ),
    OpInfo(
        "amin",
        mg.min,
        lambda x, **kw: np.min(x, **_np_axis(kw)),
        lambda rng: (
            s
            for s in reduction(_dims)(rng)
            if s.kwargs["dim"] is None or isinstance(s.kwargs["dim"], tuple)
        ),
        lambda x, dim=None, keepdim=False: __import__("torch").amin(
            x, dim=() if dim is None else dim, keepdim=keepdim
        ),
    ),
    OpInfo(
        "max_dim",
        lambda x, **kw: mg.max(x, **kw).values,
        lambda x, dim, keepdim: np.max(x, axis=dim, keepdims=keepdim),
        _max_dim_samples,
        lambda x, **kw: __import__("torch").max(x, **kw).values,
        primitives=("getitem",),
    ),
    OpInfo(
        "min_dim",
        lambda x, **kw: mg.min(x, **kw).values,
        lambda x, dim, keepdim: np.min(x, axis=dim, keepdims=keepdim),
        _max_dim_samples,
        lambda x, **kw: __import__("torch").min(x, **kw).values,
        primitives=("getitem",),
    ),
    OpInfo(
        "logsumexp",
        mg.logsumexp,
        lambda x, **kw: _np_lse(x, **kw),
        lambda rng: (s for s in reduction(_dims)(rng) if s.kwargs["dim"] is not None),
        _torch_reduce("logsumexp"),
    ),
    OpInfo("var", mg.var, _np_var, _var_samples, _torch_var("var"), primitives=("var",)),
    OpInfo(
        "std",
        mg.std,
        lambda x, **kw: np.sqrt(_np_var(x, **kw)),
        _var_samples,
        _torch_var("std"),
        primitives=("std",),
    ),
    OpInfo("matmul", mg.matmul, np.matmul, _matmul_samples, _tf("matmul")),
    OpInfo("linear", mg.linear, _np_linear, _linear_samples, _torch_linear),
    OpInfo("softmax", mg.softmax, _np_softmax, _softmax_samples, _tf("softmax")),
    OpInfo(
        "log_softmax",
        mg.log_softmax,
        lambda x, dim: np.log(_np_softmax(x, dim)),
        _softmax_samples,
        _tf("log_softmax"),
    ),
    OpInfo(
        "layer_normalize",
        lambda x, axes: layer_normalize(x, axes),
        _np_layer_normalize,
        _layer_normalize_samples,
        _torch_layer_normalize,
    ),
    OpInfo(
        "softmax_cross_entropy",
        lambda x, t, reduction: ops.softmax_cross_entropy(x, t, reduction=reduction),
        _np_ce,
        _ce_samples,
        _torch_ce,
    ),
    OpInfo(
        "gather", mg.gather, _np_gather, _gather_samples, _torch_gather, primitives=("getitem",)
    ),
    OpInfo(
        "split",
        lambda x, s, dim=0: mg.split(x, s, dim=dim)[-1],
        lambda x, s, dim=0: (
            np.split(x, [s] if isinstance(s, int) else np.cumsum(s)[:-1], axis=dim)[-1]
            if not isinstance(s, int)
            else x[tuple([slice(None)] * dim + [slice((x.shape[dim] - 1) // s * s, None)])]
        ),
        _split_samples,
        lambda x, s, dim=0: __import__("torch").split(x, s, dim=dim)[-1],
        primitives=("getitem",),
    ),
]


# ---- primitives registered by microgradnp.nn (its binary cross-entropies) -------------------
from microgradnp.nn import functional as _F  # noqa: E402 - registers the nn primitives


def _bce_samples(rng):
    for s in ((3,), (2, 3)):
        yield Sample((rng.uniform(0.05, 0.95, s), rng.uniform(0.0, 1.0, s)))


def _np_bce(x, y):
    return -(y * np.log(x) + (1 - y) * np.log1p(-x))


def _bce_logits_samples(rng):
    for s in ((3,), (2, 3)):
        yield Sample((_r(rng, s, -4, 4), rng.uniform(0.0, 1.0, s)))


def _np_bce_logits(x, y, pos_weight=None):
    lw = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * y
    return (1 - y) * x + lw * np.logaddexp(0.0, -x)


OP_DB += [
    OpInfo(
        "binary_cross_entropy",
        lambda x, y: _F.binary_cross_entropy(x, y, reduction="none"),
        _np_bce,
        _bce_samples,
        lambda x, y: __import__("torch").nn.functional.binary_cross_entropy(x, y, reduction="none"),
    ),
    OpInfo(
        "binary_cross_entropy_with_logits",
        lambda x, y: _F.binary_cross_entropy_with_logits(x, y, reduction="none"),
        _np_bce_logits,
        _bce_logits_samples,
        lambda x, y: __import__("torch").nn.functional.binary_cross_entropy_with_logits(
            x, y, reduction="none"
        ),
    ),
    # PyTorch has no gradient for pos_weight, so this entry is checked against NumPy and
    # finite differences only
    OpInfo(
        "binary_cross_entropy_with_logits_pos_weight",
        lambda x, y, p: _F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=p),
        _np_bce_logits,
        lambda rng: (
            Sample(
                (_r(rng, (2, 3), -4, 4), rng.uniform(0.0, 1.0, (2, 3)), rng.uniform(0.5, 2.0, s))
            )
            for s in ((3,), (2, 3))
        ),
        None,
        primitives=("binary_cross_entropy_with_logits",),
    ),
]


# ---- sequence and attention ops: masking, triangles, contractions ----------------------------
def _masked_fill_samples(rng):
    yield Sample((_r(rng, (3, 4)), rng.random((3, 4)) > 0.5, -1.5))
    yield Sample((_r(rng, (2, 3, 4)), rng.random((3, 4)) > 0.5, 0.0))  # mask broadcasts
    yield Sample((_r(rng, (2, 3)), np.array([True, False, True]), 2.0))


def _tri_samples(rng):
    for shape in ((3, 3), (3, 5), (2, 4, 3)):
        for diagonal in (0, 1, -1):
            yield Sample((_r(rng, shape),), {"diagonal": diagonal})


EINSUM_CASES = [
    ("ij,jk->ik", ((2, 3), (3, 4))),
    ("bij,bjk->bik", ((2, 3, 4), (2, 4, 2))),
    ("bhld,bhsd->bhls", ((2, 2, 3, 4), (2, 2, 5, 4))),  # attention scores
    ("bhls,bhsd->bhld", ((2, 2, 3, 5), (2, 2, 5, 4))),  # attention output
    ("ij,kj->ik", ((2, 3), (4, 3))),
    ("i,j->ij", ((3,), (4,))),
    ("ij,ij->", ((2, 3), (2, 3))),
    ("ij,jk", ((2, 3), (3, 4))),  # implicit output
    ("ij->ji", ((2, 3),)),
    ("bij->bji", ((2, 3, 4),)),
    ("ij->i", ((2, 3),)),
    ("ii->", ((3, 3),)),  # trace
    ("ii->i", ((3, 3),)),  # diagonal
    ("ij,jk,kl->il", ((2, 3), (3, 2), (2, 4))),
]


def _einsum_samples(rng):
    for equation, shapes in EINSUM_CASES:
        yield Sample((equation, *[_r(rng, s) for s in shapes]))


def _bmm_samples(rng):
    yield Sample((_r(rng, (2, 3, 4)), _r(rng, (2, 4, 5))))
    yield Sample((_r(rng, (1, 1, 3)), _r(rng, (1, 3, 1))))


OP_DB += [
    OpInfo(
        "masked_fill",
        mg.masked_fill,
        lambda x, mask, value: np.where(mask, value, x),
        _masked_fill_samples,
        lambda x, mask, value: x.masked_fill(mask, value),
    ),
    OpInfo("tril", mg.tril, lambda x, diagonal: np.tril(x, diagonal), _tri_samples, _tf("tril")),
    OpInfo("triu", mg.triu, lambda x, diagonal: np.triu(x, diagonal), _tri_samples, _tf("triu")),
    OpInfo("einsum", mg.einsum, np.einsum, _einsum_samples, _tf("einsum")),
    OpInfo("bmm", mg.bmm, np.matmul, _bmm_samples, _tf("bmm"), primitives=("matmul",)),
]


# ---- fused recurrences (nn.RNN / LSTM / GRU) and the GELU helper of nn.transformer ------------
from microgradnp.nn import rnn_cells as _rnn  # noqa: E402
from microgradnp.ops import recurrent as _recurrent  # noqa: E402


def _recurrence_samples(gates: int, states: int):
    def gen(rng):
        for steps, bias in ((3, True), (1, True), (2, False)):
            n, h = 2, 3
            args = [_r(rng, (steps, n, gates * h))]
            args += [_r(rng, (n, h)) for _ in range(states)]
            args.append(_r(rng, (gates * h, h), -0.7, 0.7))
            if bias:
                args.append(_r(rng, (gates * h,)))
            yield Sample(tuple(args))

    return gen


def _split_args(args, states):
    gx, rest = args[0], args[1:]
    st, w_hh = rest[:states], rest[states]
    b_hh = rest[states + 1] if len(rest) > states + 1 else None
    return gx, st, w_hh, b_hh


def _ref_simple(act):
    # the composite step of nn/rnn.py, run on ndarrays, one step at a time
    def ref(*args):
        gx, (h,), w_hh, b_hh = _split_args(args, 1)
        out = []
        for t in range(gx.shape[0]):
            h = np.asarray(_rnn._rnn_step(gx[t], h, w_hh, b_hh, act))
            out.append(h)
        return np.stack(out)

    return ref


def _ref_lstm(*args):
    gx, (h, c), w_hh, b_hh = _split_args(args, 2)
    n = h.shape[-1]
    out = []
    for t in range(gx.shape[0]):
        pre = gx[t] + h @ w_hh.T + (0.0 if b_hh is None else b_hh)
        acts = _np_sigmoid(pre)
        acts[:, 2 * n : 3 * n] = np.tanh(pre[:, 2 * n : 3 * n])
        h, c = (np.asarray(v) for v in _rnn._lstm_step(gx[t], h, c, w_hh, b_hh))
        out.append(np.concatenate([h, c, acts], axis=1))
    return np.stack(out)


def _ref_gru(*args):
    gx, (h,), w_hh, b_hh = _split_args(args, 1)
    out = []
    for t in range(gx.shape[0]):
        h = np.asarray(_rnn._gru_step(gx[t], h, w_hh, b_hh))
        out.append(h)
    return np.stack(out)


def _torch_simple(act):
    def fn(*args):
        import torch

        gx, (h,), w_hh, b_hh = _split_args(args, 1)
        out = []
        for t in range(gx.shape[0]):
            pre = gx[t] + h @ w_hh.T + (0.0 if b_hh is None else b_hh)
            h = getattr(torch, act)(pre)
            out.append(h)
        return torch.stack(out)

    return fn


def _torch_lstm(*args):
    import torch

    gx, (h, c), w_hh, b_hh = _split_args(args, 2)
    out = []
    for t in range(gx.shape[0]):
        pre = gx[t] + h @ w_hh.T + (0.0 if b_hh is None else b_hh)
        i, f, g, o = pre.chunk(4, 1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        out.append(torch.cat([h, c, i, f, g, o], 1))
    return torch.stack(out)


def _torch_gru(*args):
    import torch

    gx, (h,), w_hh, b_hh = _split_args(args, 1)
    out = []
    for t in range(gx.shape[0]):
        gh = h @ w_hh.T + (0.0 if b_hh is None else b_hh)
        xr, xz, xn = gx[t].chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out)


def _relu_recurrence_samples(rng):
    # away from the relu kink: draw until three samples keep every pre-activation clear of 0
    found = 0
    for _ in range(200):
        for s in _recurrence_samples(1, 1)(rng):
            gx, h, w = s.args[:3]
            b = s.args[3] if len(s.args) > 3 else 0.0
            clear = True
            for t in range(gx.shape[0]):
                pre = gx[t] + h @ w.T + b
                clear &= bool(np.all(np.abs(pre) > 0.05))
                h = np.maximum(pre, 0.0)
            if clear and found < 3:
                found += 1
                yield s
        if found == 3:
            return


OP_DB += [
    OpInfo(
        "rnn_tanh_recurrence",
        _recurrent.rnn_tanh_recurrence,
        _ref_simple(ops.tanh),
        _recurrence_samples(1, 1),
        _torch_simple("tanh"),
    ),
    OpInfo(
        "rnn_relu_recurrence",
        _recurrent.rnn_relu_recurrence,
        _ref_simple(ops.relu),
        _relu_recurrence_samples,
        _torch_simple("relu"),
    ),
    OpInfo(
        "lstm_recurrence",
        _recurrent.lstm_recurrence,
        _ref_lstm,
        _recurrence_samples(4, 2),
        _torch_lstm,
    ),
    OpInfo(
        "gru_recurrence",
        _recurrent.gru_recurrence,
        _ref_gru,
        _recurrence_samples(3, 1),
        _torch_gru,
    ),
]


from opinfo_conv import CONV_OPS  # noqa: E402 - convolution, pooling, normalisation entries

OP_DB += CONV_OPS
