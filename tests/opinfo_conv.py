"""Op-table entries for convolution, pooling, normalisation, activations and the ops they
need (erf, cumsum, sort/topk, unfold/fold, reflect/replicate padding); `opinfo.py` appends
them to OP_DB. NumPy references are written directly (loops over kernel offsets, windows),
independent of the implementations under test.
"""

from __future__ import annotations

import math

import numpy as np
from opinfo import OpInfo, Sample, _away, _r

import microgradnp as mg
from microgradnp.nn import functional as F

_np_erf = np.vectorize(math.erf, otypes=[np.float64])


def _two(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _torch_f(name):
    def fn(*args, **kwargs):
        import torch

        return getattr(torch.nn.functional, name)(*args, **kwargs)

    return fn


def _torch(name):
    def fn(*args, **kwargs):
        import torch

        return getattr(torch, name)(*args, **kwargs)

    return fn


# ---- convolution ------------------------------------------------------------------------


def np_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    (sh, sw), (ph, pw), (dh, dw) = _two(stride), _two(padding), _two(dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, wd = xp.shape
    o, cg, kh, kw = w.shape
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cg : (g + 1) * cg, i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                           j * dw : j * dw + sw * (wo - 1) + 1 : sw]  # fmt: skip
                out[:, g * og : (g + 1) * og] += np.einsum(
                    "nchw,oc->nohw", patch, w[g * og : (g + 1) * og, :, i, j]
                )
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def np_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    out = np_conv2d(x[:, :, None], w[:, :, None], b, (1, stride), (0, padding), (1, dilation),
                    groups)  # fmt: skip
    return out[:, :, 0]


def np_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                        dilation=1):  # fmt: skip
    (sh, sw), (ph, pw) = _two(stride), _two(padding)
    (oph, opw), (dh, dw) = _two(output_padding), _two(dilation)
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = cin // groups
    full = np.zeros((n, og * groups, (h - 1) * sh + dh * (kh - 1) + 1 + oph,
                     (wd - 1) * sw + dw * (kw - 1) + 1 + opw))  # fmt: skip
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                full[:, g * og : (g + 1) * og, i * dh : i * dh + sh * (h - 1) + 1 : sh,
                     j * dw : j * dw + sw * (wd - 1) + 1 : sw] += np.einsum(
                    "nchw,co->nohw", x[:, g * cg : (g + 1) * cg], w[g * cg : (g + 1) * cg, :, i, j]
                )  # fmt: skip
    out = full[:, :, ph : full.shape[2] - ph, pw : full.shape[3] - pw]
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def _conv2d_samples(rng):
    yield Sample((_r(rng, (2, 3, 5, 6)), _r(rng, (4, 3, 3, 2)), _r(rng, (4,))))
    yield Sample((_r(rng, (1, 2, 6, 5)), _r(rng, (3, 2, 2, 3))), {"stride": 2, "padding": 1})
    kw = {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2}
    yield Sample((_r(rng, (2, 4, 7, 6)), _r(rng, (6, 2, 3, 3)), _r(rng, (6,))), kw)
    yield Sample((_r(rng, (1, 1, 6, 6)), _r(rng, (1, 1, 2, 4))))  # MiniTorch test_conv
    yield Sample((_r(rng, (2, 2, 6, 6)), _r(rng, (3, 2, 2, 4))))  # MiniTorch test_conv_channel


def _conv1d_samples(rng):
    yield Sample((_r(rng, (1, 1, 6)), _r(rng, (1, 1, 4))))  # MiniTorch test_conv1d
    yield Sample((_r(rng, (2, 2, 6)), _r(rng, (3, 2, 2)), _r(rng, (3,))))  # test_conv1d_channel
    yield Sample((_r(rng, (2, 4, 9)), _r(rng, (6, 2, 3))),
                 {"stride": 2, "padding": 1, "dilation": 2, "groups": 2})  # fmt: skip


def _conv_t_samples(rng):
    yield Sample((_r(rng, (2, 3, 3, 4)), _r(rng, (3, 2, 3, 2)), _r(rng, (2,))))
    yield Sample((_r(rng, (1, 4, 3, 3)), _r(rng, (4, 3, 3, 3)), _r(rng, (6,))),
                 {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2})  # fmt: skip
    yield Sample((_r(rng, (1, 2, 3, 4)), _r(rng, (2, 2, 2, 2))),
                 {"stride": (1, 2), "dilation": 2, "output_padding": (1, 0)})  # fmt: skip


# ---- im2col -----------------------------------------------------------------------------


def np_unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(_two, (kernel_size, dilation, padding, stride))
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, w = xp.shape
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    blocks = np.empty((n, c, kh, kw, ho, wo))
    for i in range(kh):
        for j in range(kw):
            blocks[:, :, i, j] = xp[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                                    j * dw : j * dw + sw * (wo - 1) + 1 : sw]  # fmt: skip
    return blocks.reshape(n, c * kh * kw, ho * wo)


def np_fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(_two, (kernel_size, dilation, padding, stride))
    h, w = _two(output_size)
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    blocks = cols.reshape(n, c, kh, kw, ho, wo)
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                j * dw : j * dw + sw * (wo - 1) + 1 : sw] += blocks[:, :, i, j]  # fmt: skip
    return out[:, :, ph : ph + h, pw : pw + w]


def _unfold_samples(rng):
    yield Sample((_r(rng, (2, 3, 5, 4)), 2))
    yield Sample(
        (_r(rng, (1, 2, 6, 5)), (2, 3)), {"dilation": (2, 1), "padding": 1, "stride": (1, 2)}
    )


def _fold_samples(rng):
    yield Sample((_r(rng, (2, 12, 8)), (4, 5), 2), {"stride": (2, 1)})
    yield Sample((_r(rng, (1, 8, 16)), (3, 4), 2), {"padding": 1, "dilation": (1, 2)})


# ---- pooling ----------------------------------------------------------------------------


def _pool_size(size, k, s, p, d, ceil):
    n = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    return n - 1 if ceil and (n - 1) * s >= size + p else n


def np_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    (kh, kw), (ph, pw), (dh, dw) = _two(kernel_size), _two(padding), _two(dilation)
    sh, sw = _two(stride if stride is not None else kernel_size)
    n, c, h, w = x.shape
    ho, wo = _pool_size(h, kh, sh, ph, dh, ceil_mode), _pool_size(w, kw, sw, pw, dw, ceil_mode)
    xp = np.full((n, c, h + 2 * ph + kh * dh, w + 2 * pw + kw * dw), -np.inf)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    out = np.empty((n, c, ho, wo))
    for a in range(ho):
        for b in range(wo):
            win = xp[:, :, a * sh : a * sh + dh * (kh - 1) + 1 : dh,
                     b * sw : b * sw + dw * (kw - 1) + 1 : dw]  # fmt: skip
            out[:, :, a, b] = win.max(axis=(2, 3))
    return out


def np_avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
                  count_include_pad=True, divisor_override=None):  # fmt: skip
    (kh, kw), (ph, pw) = _two(kernel_size), _two(padding)
    sh, sw = _two(stride if stride is not None else kernel_size)
    n, c, h, w = x.shape
    ho, wo = _pool_size(h, kh, sh, ph, 1, ceil_mode), _pool_size(w, kw, sw, pw, 1, ceil_mode)
    out = np.empty((n, c, ho, wo))
    for a in range(ho):
        for b in range(wo):
            h0, w0 = a * sh - ph, b * sw - pw
            h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, w + pw)
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            total = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3))
            div = divisor_override or (size if count_include_pad else (h1 - h0) * (w1 - w0))
            out[:, :, a, b] = total / div
    return out


def np_adaptive_avg_pool2d(x, output_size):
    oh, ow = _two(output_size)
    h, w = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (oh, ow))
    for a in range(oh):
        for b in range(ow):
            rows = slice(a * h // oh, -(-(a + 1) * h // oh))
            cols = slice(b * w // ow, -(-(b + 1) * w // ow))
            out[..., a, b] = x[..., rows, cols].mean(axis=(-2, -1))
    return out


def _distinct(rng, shape):
    """A random permutation of well-separated values: no ties for max pooling or sorting."""
    return rng.permutation(np.arange(int(np.prod(shape))) * 0.1 - 1.0).reshape(shape)


def _max_pool_samples(rng):
    yield Sample((_distinct(rng, (1, 1, 4, 4)), 2))  # MiniTorch test_max_pool
    yield Sample((_distinct(rng, (1, 1, 4, 4)), (2, 1)))
    yield Sample((_distinct(rng, (2, 3, 7, 6)), 3), {"stride": 2, "padding": 1})
    yield Sample((_distinct(rng, (1, 2, 7, 7)), (3, 2)),
                 {"stride": (2, 1), "dilation": (2, 1), "ceil_mode": True})  # fmt: skip


def _avg_pool_samples(rng):
    yield Sample((_r(rng, (1, 1, 4, 4)), 2))  # MiniTorch test_avg
    yield Sample((_r(rng, (1, 1, 4, 4)), (1, 2)))
    yield Sample((_r(rng, (2, 3, 7, 6)), 3), {"stride": 2, "padding": 1})
    kw = {"stride": 2, "padding": 1, "count_include_pad": False, "ceil_mode": True}
    yield Sample((_r(rng, (1, 2, 7, 6)), 3), kw)
    yield Sample((_r(rng, (1, 2, 5, 5)), 2), {"divisor_override": 3})


def _adaptive_samples(rng):
    yield Sample((_r(rng, (2, 3, 7, 5)), (3, 2)))
    yield Sample((_r(rng, (1, 2, 4, 4)), 1))
    yield Sample((_r(rng, (2, 5, 6)), (4, 6)))


# ---- normalisation and activations ------------------------------------------------------


def np_batch_norm_train(x, weight, bias, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    out = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return out * weight.reshape(shape) + bias.reshape(shape)


def _bn_train(x, weight, bias, eps=1e-5):
    return F.batch_norm(x, None, None, weight, bias, training=True, eps=eps)


def _torch_bn_train(x, weight, bias, eps=1e-5):
    import torch

    return torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True, eps=eps)


def _bn_samples(rng):
    yield Sample((_r(rng, (4, 3)), _r(rng, (3,)), _r(rng, (3,))))
    yield Sample((_r(rng, (3, 2, 4)), _r(rng, (2,)), _r(rng, (2,))))
    yield Sample((_r(rng, (2, 3, 2, 3)), _r(rng, (3,)), _r(rng, (3,))), {"eps": 1e-3})


def np_group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, num_groups, -1)
    out = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return out * weight.reshape(shape) + bias.reshape(shape)


def _gn_samples(rng):
    yield Sample((_r(rng, (2, 4, 3)), 2, _r(rng, (4,)), _r(rng, (4,))))
    yield Sample((_r(rng, (2, 6, 2, 2)), 3, _r(rng, (6,)), _r(rng, (6,))))


def _np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


def _act_samples(kink=False, **kwargs):
    def gen(rng):
        for shape in ((3,), (2, 3), (2, 1, 3)):
            yield Sample(((_away(rng, shape) if kink else _r(rng, shape, -3, 3)),), kwargs)

    return gen


# ---- sorting, scans, padding ------------------------------------------------------------


def _sort_samples(rng):
    yield Sample((_distinct(rng, (5,)),))
    yield Sample((_distinct(rng, (3, 4)),), {"dim": 0, "descending": True})
    yield Sample((_distinct(rng, (2, 3, 4)),), {"dim": 1})


def _np_sort(x, dim=-1, descending=False):
    out = np.sort(x, axis=dim)
    return np.flip(out, axis=dim) if descending else out


def _topk_samples(rng):
    yield Sample((_distinct(rng, (6,)), 3))
    yield Sample((_distinct(rng, (3, 5)), 2), {"dim": 0, "largest": False})
    yield Sample((_distinct(rng, (2, 3, 4)), 4), {"dim": -1})


def _np_topk(x, k, dim=-1, largest=True):
    return np.take(_np_sort(x, dim, largest), np.arange(k), axis=dim)


def _cumsum_samples(rng):
    yield Sample((_r(rng, (5,)), 0))
    yield Sample((_r(rng, (3, 4)), 1))
    yield Sample((_r(rng, (2, 3, 4)), -2))


def _pad_mode_samples(rng):
    for mode in ("reflect", "replicate"):
        yield Sample((_r(rng, (2, 3, 5)), (2, 1)), {"mode": mode})
        yield Sample((_r(rng, (1, 2, 4, 5)), (1, 2, 3, 0)), {"mode": mode})
    yield Sample((_r(rng, (1, 2, 3)), (4, 5)), {"mode": "replicate"})  # wider than the input


def _np_pad_mode(x, pad, mode):
    width = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        width[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return np.pad(x, width, mode={"reflect": "reflect", "replicate": "edge"}[mode])


CONV_OPS: list[OpInfo] = [
    OpInfo("conv2d", F.conv2d, np_conv2d, _conv2d_samples, _torch_f("conv2d"),
           primitives=("conv2d", "conv2d_input", "conv2d_weight")),
    OpInfo("conv1d", F.conv1d, np_conv1d, _conv1d_samples, _torch_f("conv1d"),
           primitives=("conv2d",)),
    OpInfo("conv_transpose2d", F.conv_transpose2d, np_conv_transpose2d, _conv_t_samples,
           _torch_f("conv_transpose2d"), primitives=("conv2d_input",)),
    OpInfo("unfold", F.unfold, np_unfold, _unfold_samples, _torch_f("unfold")),
    OpInfo("fold", F.fold, np_fold, _fold_samples, _torch_f("fold")),
    OpInfo("max_pool2d", F.max_pool2d, np_max_pool2d, _max_pool_samples, _torch_f("max_pool2d"),
           primitives=("window_max",)),
    OpInfo("avg_pool2d", F.avg_pool2d, np_avg_pool2d, _avg_pool_samples, _torch_f("avg_pool2d"),
           primitives=("unfold",)),
    OpInfo("adaptive_avg_pool2d", F.adaptive_avg_pool2d, np_adaptive_avg_pool2d,
           _adaptive_samples, _torch_f("adaptive_avg_pool2d"), primitives=("matmul",)),
    OpInfo("batch_norm", _bn_train, np_batch_norm_train, _bn_samples, _torch_bn_train,
           primitives=("mean",)),
    OpInfo("group_norm", F.group_norm, np_group_norm, _gn_samples, _torch_f("group_norm"),
           primitives=("mean",)),
    OpInfo("erf", mg.erf, _np_erf, _act_samples(), _torch("erf")),
    OpInfo("gelu", F.gelu, lambda x: 0.5 * x * (1 + _np_erf(x / math.sqrt(2))), _act_samples(),
           _torch_f("gelu"), primitives=("erf",)),
    OpInfo("gelu_tanh", F.gelu,
           lambda x, approximate: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                         * (x + 0.044715 * x**3))),
           _act_samples(approximate="tanh"), _torch_f("gelu"), primitives=("tanh",)),
    OpInfo("silu", F.silu, lambda x: x / (1 + np.exp(-x)), _act_samples(), _torch_f("silu"),
           primitives=("sigmoid",)),
    OpInfo("leaky_relu", F.leaky_relu,
           lambda x, negative_slope: np.where(x > 0, x, negative_slope * x),
           _act_samples(kink=True, negative_slope=0.2), _torch_f("leaky_relu"),
           primitives=("where",)),
    OpInfo("elu", F.elu, lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)),
           _act_samples(kink=True, alpha=0.7), _torch_f("elu"), primitives=("expm1",)),
    OpInfo("softplus", F.softplus, _np_softplus, _act_samples(beta=2.0, threshold=3.0),
           _torch_f("softplus"), primitives=("log1p",)),
    OpInfo("cumsum", mg.cumsum, lambda x, dim: np.cumsum(x, axis=dim), _cumsum_samples,
           _torch("cumsum")),
    OpInfo("sort", lambda x, **kw: mg.sort(x, **kw).values, _np_sort, _sort_samples,
           lambda x, **kw: __import__("torch").sort(x, **kw).values, primitives=("getitem",)),
    OpInfo("topk", lambda x, k, **kw: mg.topk(x, k, **kw).values, _np_topk, _topk_samples,
           lambda x, k, **kw: __import__("torch").topk(x, k, **kw).values,
           primitives=("getitem",)),
    OpInfo("pad_modes", F.pad, _np_pad_mode, _pad_mode_samples, _torch_f("pad"),
           primitives=("getitem",)),
]  # fmt: skip
