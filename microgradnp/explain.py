"""Attributions: which input features made a model pick a class.

Gradient methods (`saliency`, `smoothgrad`, `integrated_gradients`), a perturbation method
(`occlusion`) and a class-activation map (`grad_cam`). Every function explains a batch in one
call, runs the model in eval mode with frozen parameters, and leaves the model as it found it:
same train/eval mode per module, same `requires_grad` flags, no `.grad` on parameters, no hooks.
Results are ndarrays; `microgradnp.plots` draws them.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np

from ._inputgrad import as_array, as_targets, frozen_eval, input_grad, target_score
from .autograd import enable_grad, grad, no_grad
from .nn.module import Module
from .tensor import Tensor

__all__ = ["grad_cam", "integrated_gradients", "occlusion", "saliency", "smoothgrad"]

Signed = bool | Literal["grad_x_input"]


def _signed(g: np.ndarray, x: np.ndarray, signed: Signed) -> np.ndarray:
    if signed is False:
        return np.abs(g)
    if signed is True:
        return g
    if signed == "grad_x_input":
        return g * x
    raise ValueError(f"signed must be False, True or 'grad_x_input', got {signed!r}")


def saliency(model: Module, x: Any, target: Any, signed: Signed = False) -> np.ndarray:
    """Gradient of the target logit with respect to the input (Simonyan et al., 2014).

    Args:
        model: a module mapping a batch `x` to scores of shape (N, classes).
        x: the inputs, shape (N, ...), as a Tensor or ndarray.
        target: the class to explain, an int or one per sample.
        signed: False for |d logit / dx|, True for the signed gradient, 'grad_x_input' for
            gradient times input.

    Returns:
        An ndarray shaped like `x`.

    Example:
        >>> import numpy as np, microgradnp as mg
        >>> model = mg.nn.Linear(3, 2)
        >>> model.weight.data[:] = [[1.0, -2.0, 3.0], [0.0, 0.0, 0.0]]
        >>> saliency(model, np.ones((1, 3), np.float32), target=0).tolist()
        [[1.0, 2.0, 3.0]]
        >>> saliency(model, np.full((1, 3), 2.0, np.float32), 0, signed="grad_x_input").tolist()
        [[2.0, -4.0, 6.0]]
    """
    xs = as_array(x)
    with frozen_eval(model):
        _, g = input_grad(target_score(model, as_targets(target, len(xs))), xs)
    return _signed(g, xs, signed)


def smoothgrad(
    model: Module,
    x: Any,
    target: Any,
    n: int = 50,
    sigma: float = 0.15,
    seed: int | None = None,
    signed: Signed = False,
) -> np.ndarray:
    """The gradient averaged over `n` noisy copies of each input (Smilkov et al., 2017).

    The noise is Gaussian with standard deviation `sigma * (max(x_i) - min(x_i))` for each
    sample `x_i`, the paper's noise level relative to the input range; draw `k` of sample `i`
    is `np.random.default_rng(seed).standard_normal((n, *x.shape))[k, i]`. The averaged
    gradient is then shown like `saliency` (`signed`).

    Example:
        >>> import numpy as np, microgradnp as mg
        >>> model = mg.nn.Linear(2, 2)
        >>> model.weight.data[:] = [[1.0, -2.0], [0.0, 0.0]]
        >>> smoothgrad(model, np.ones((1, 2), np.float32), 0, n=4, seed=0).tolist()
        [[1.0, 2.0]]
    """
    xs = as_array(x)
    if n < 1 or sigma < 0:
        raise ValueError(f"smoothgrad needs n >= 1 and sigma >= 0, got n={n}, sigma={sigma}")
    axes = tuple(range(1, xs.ndim))
    std = sigma * (xs.max(axis=axes, keepdims=True) - xs.min(axis=axes, keepdims=True))
    noise = np.random.default_rng(seed).standard_normal((n, *xs.shape))
    total = np.zeros_like(xs)
    with frozen_eval(model):
        score = target_score(model, as_targets(target, len(xs)))
        for k in range(n):
            total += input_grad(score, (xs + std * noise[k]).astype(xs.dtype))[1]
    return _signed(total / n, xs, signed)


def _path_points(steps: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Points alpha in [0, 1] and weights approximating the integral over alpha."""
    if steps < 1 or (method == "riemann_trapezoid" and steps < 2):
        raise ValueError(f"integrated_gradients needs more steps for {method!r}, got {steps}")
    k = np.arange(steps)
    if method == "riemann_left":
        return k / steps, np.full(steps, 1.0 / steps)
    if method == "riemann_right":
        return (k + 1) / steps, np.full(steps, 1.0 / steps)
    if method == "riemann_middle":
        return (k + 0.5) / steps, np.full(steps, 1.0 / steps)
    if method == "riemann_trapezoid":
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
        return k / (steps - 1), weights
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1) / 2, weights / 2  # from [-1, 1] to [0, 1]
    raise ValueError(
        "method must be 'riemann_left', 'riemann_right', 'riemann_middle', "
        f"'riemann_trapezoid' or 'gausslegendre', got {method!r}"
    )


def integrated_gradients(
    model: Module,
    x: Any,
    target: Any,
    baseline: Any = None,
    steps: int = 50,
    method: str = "riemann_trapezoid",
) -> tuple[np.ndarray, np.ndarray]:
    """Integrated gradients (Sundararajan et al., 2017) with their completeness error.

    attribution = (x - baseline) * integral over alpha in [0, 1] of
    d f(baseline + alpha (x - baseline)) / dx, the integral approximated by `method` with
    `steps` points. Completeness says the attributions sum to f(x) - f(baseline); the returned
    relative error |sum - (f(x) - f(baseline))| / |f(x) - f(baseline)| measures the quadrature,
    and a `UserWarning` is issued when it exceeds 1% for any sample (use more steps).

    Args:
        baseline: the reference input: None (zeros), a scalar, or an array broadcastable to
            `x`.
        method: 'riemann_trapezoid', 'riemann_left', 'riemann_right', 'riemann_middle' or
            'gausslegendre'.

    Returns:
        `(attributions shaped like x, relative completeness error of shape (N,))`.

    Example:
        >>> import numpy as np, microgradnp as mg
        >>> model = mg.nn.Linear(2, 2)
        >>> model.weight.data[:] = [[1.0, -2.0], [0.0, 0.0]]
        >>> attr, err = integrated_gradients(model, np.ones((1, 2), np.float32), 0)
        >>> attr.round(6).tolist(), float(err[0]) < 1e-6
        ([[1.0, -2.0]], True)
    """
    xs = as_array(x)
    base = (
        np.zeros_like(xs)
        if baseline is None
        else as_array(
            np.broadcast_to(
                np.asarray(baseline.data if isinstance(baseline, Tensor) else baseline, xs.dtype),
                xs.shape,
            ),
            "baseline",
        )
    )
    alphas, weights = _path_points(steps, method)
    total = np.zeros(xs.shape, np.float64)
    with frozen_eval(model):
        score = target_score(model, as_targets(target, len(xs)))
        for alpha, weight in zip(alphas, weights, strict=True):
            point = (base + alpha * (xs - base)).astype(xs.dtype)
            total += weight * input_grad(score, point)[1]
        with no_grad():
            rise = score(Tensor(xs)).data - score(Tensor(base)).data
    attributions = (xs - base) * total
    summed = attributions.reshape(len(xs), -1).sum(axis=1)
    error = np.abs(summed - rise) / np.maximum(np.abs(rise), 1e-12)
    if error.max(initial=0.0) > 0.01:
        warnings.warn(
            f"integrated_gradients: completeness error up to {error.max():.2%} "
            f"(over 1%) with {steps} steps of {method!r}; use more steps",
            UserWarning,
            stacklevel=2,
        )
    return attributions.astype(xs.dtype), error


def _as_tuple(value: int | tuple[int, ...], ndim: int, name: str) -> tuple[int, ...]:
    t = (value,) if isinstance(value, int) else tuple(value)
    if not 1 <= len(t) <= ndim or any(int(v) < 1 for v in t):
        raise ValueError(
            f"{name} must be positive ints for up to {ndim} trailing dims, got {value!r}"
        )
    return t


def occlusion(
    model: Module,
    x: Any,
    target: Any,
    window: int | tuple[int, ...],
    stride: int | tuple[int, ...] = 1,
    baseline: float = 0.0,
) -> np.ndarray:
    """How much the target logit drops when a window of the input is set to `baseline`.

    The window slides over the trailing dims of each sample (a 2-tuple on images of shape
    (C, H, W) covers every channel); each feature's attribution is the mean drop
    f(x) - f(x occluded) over the windows that cover it (0 where none does), as in
    Zeiler and Fergus (2014).

    Example:
        >>> import numpy as np, microgradnp as mg
        >>> model = mg.nn.Linear(4, 1, bias=False)
        >>> model.weight.data[:] = [[1.0, 2.0, 3.0, 4.0]]
        >>> occlusion(model, np.ones((1, 4), np.float32), 0, window=2, stride=2).tolist()
        [[3.0, 3.0, 7.0, 7.0]]
    """
    xs = as_array(x)
    sample = xs.shape[1:]
    win = _as_tuple(window, len(sample), "window")
    step = _as_tuple(stride, len(win), "stride")
    if len(step) != len(win):
        raise ValueError(f"stride {stride!r} must have as many dims as window {window!r}")
    lead = len(sample) - len(win)
    space = sample[lead:]
    if any(w > s for w, s in zip(win, space, strict=True)):
        raise ValueError(f"window {win} is larger than the input's trailing dims {space}")
    starts = np.stack(
        np.meshgrid(
            *[range(0, s - w + 1, d) for s, w, d in zip(space, win, step, strict=True)],
            indexing="ij",
        ),
        -1,
    ).reshape(-1, len(win))
    total: np.ndarray = np.zeros(xs.shape, np.float64)
    count: np.ndarray = np.zeros(space, np.float64)
    with frozen_eval(model), no_grad():
        score = target_score(model, as_targets(target, len(xs)))
        clean = score(Tensor(xs)).data
        for start in starts:
            where: tuple[Any, ...] = (
                Ellipsis,
                *(slice(a, a + w) for a, w in zip(start, win, strict=True)),
            )
            occluded = xs.copy()
            occluded[where] = baseline
            drop = clean - score(Tensor(occluded)).data
            total[where] += drop.reshape(-1, *[1] * len(sample))
            count[where[1:]] += 1
    return (total / np.maximum(count, 1)).astype(xs.dtype)


def _upsample(cam: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Linear interpolation of (N, *spatial) maps to `size`, as PyTorch's `interpolate`
    with mode 'linear'/'bilinear' and align_corners=False."""
    for axis, out_len in enumerate(size, start=1):
        in_len = cam.shape[axis]
        src = np.maximum((np.arange(out_len) + 0.5) * (in_len / out_len) - 0.5, 0.0)
        lo = np.minimum(src.astype(np.int64), in_len - 1)
        hi = np.minimum(lo + 1, in_len - 1)
        shape = [1] * cam.ndim
        shape[axis] = out_len
        frac = (src - lo).reshape(shape)
        cam = np.take(cam, lo, axis=axis) * (1 - frac) + np.take(cam, hi, axis=axis) * frac
    return cam


def grad_cam(model: Module, layer: Module, x: Any, target: Any) -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017): where in the input `layer`'s features saw the class.

    A forward hook on `layer` captures its output A of shape (N, C, *spatial); the gradient of
    the target logit with respect to A, averaged over the spatial positions, weighs each
    channel: cam = ReLU(sum_c w_c A_c). The map is upsampled linearly to the input's spatial
    size (x.shape[2:] for (N, C, H, W) inputs; x.shape[1:] when the map has one dim fewer).

    Returns:
        An ndarray of shape (N, *input spatial size), not normalised.

    Example:
        >>> import numpy as np, microgradnp as mg
        >>> class Maps(mg.nn.Module):  # 2 channels over 4 positions from 4 inputs
        ...     def forward(self, x):
        ...         return mg.stack([x, -x], 1)
        >>> maps = Maps()
        >>> model = mg.nn.Sequential(maps, mg.nn.Flatten(), mg.nn.Linear(8, 1, bias=False))
        >>> model[2].weight.data[:] = 1.0
        >>> model[2].weight.data[0, :4] = 2.0
        >>> grad_cam(model, maps, np.array([[1.0, 0.0, 2.0, -1.0]], np.float32), 0).tolist()
        [[1.0, 0.0, 2.0, 0.0]]
    """
    xs = as_array(x)
    if not any(m is layer for m in model.modules()):
        raise ValueError(f"layer {type(layer).__name__} is not a submodule of the model")
    captured: list[Tensor] = []
    handle = layer.register_forward_hook(lambda module, args, out: captured.append(out))
    try:
        with frozen_eval(model), enable_grad():
            leaf = Tensor(xs.copy(), requires_grad=True)
            score = target_score(model, as_targets(target, len(xs)))(leaf)
            if len(captured) != 1:
                raise RuntimeError(
                    f"grad_cam: the layer ran {len(captured)} times in one forward pass; "
                    "pick a layer that runs once"
                )
            (g,) = grad(score.sum(), [captured[0]])
    finally:
        handle.remove()
    assert g is not None
    acts, grads = captured[0].data, g.data
    if acts.ndim < 3:
        raise ValueError(
            f"grad_cam needs a layer whose output has spatial dims (N, C, *spatial), "
            f"got shape {acts.shape}"
        )
    spatial = tuple(range(2, acts.ndim))
    weights = grads.mean(axis=spatial, keepdims=True)
    cam = np.maximum((weights * acts).sum(axis=1), 0.0)
    if cam.ndim - 1 == xs.ndim - 2:
        size = xs.shape[2:]
    elif cam.ndim - 1 == xs.ndim - 1:
        size = xs.shape[1:]
    else:
        raise ValueError(
            f"cannot upsample a map of shape {cam.shape[1:]} to an input of shape {xs.shape}"
        )
    return _upsample(cam, size).astype(xs.dtype)
