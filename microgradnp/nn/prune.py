"""Pruning (`mg.nn.utils.prune`), with `torch.nn.utils.prune`'s semantics.

Pruning `module.weight` moves the parameter to `module.weight_orig`, adds a buffer
`module.weight_mask` (1 keeps, 0 prunes), and registers a forward pre-hook that recomputes
the plain tensor `module.weight = weight_orig * weight_mask` before every call; the gradient
of pruned entries is therefore zero. The state dict holds `weight_orig` and `weight_mask`,
as PyTorch's does. Pruning the same tensor again composes the masks: a new `amount` applies
to the entries still unpruned (PyTorch's `PruningContainer`). `remove` makes the pruning
permanent: `weight` becomes a Parameter again, holding the pruned values.

`amount` is an int (how many entries, or channels, to prune) or a float in [0, 1] (that
fraction, rounded half to even as Python's `round`).

Ties: PyTorch picks the entries to prune with `torch.topk`, whose choice among equal scores
follows its quickselect and is not specified (on CPU it is neither the lowest nor the highest
index). Here the lowest flat index among equal scores is pruned first (for `ln_structured`,
the lowest channel index among equal norms is kept first). Without ties the masks are
PyTorch's exactly; with ties, the same number of entries is pruned and every pruned score is
at most every kept one, in both libraries.

Example:
    >>> import microgradnp as mg
    >>> from microgradnp.nn.utils import prune
    >>> layer = mg.nn.Linear(3, 2)
    >>> with mg.no_grad():
    ...     _ = layer.weight.copy_(mg.tensor([[0.1, -2.0, 0.3], [4.0, -0.05, 0.6]]))
    >>> _ = prune.l1_unstructured(layer, "weight", amount=2)
    >>> layer.weight_mask.tolist()
    [[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]
    >>> list(layer.state_dict())
    ['bias', 'weight_orig', 'weight_mask']
    >>> _ = prune.remove(layer, "weight")
    >>> list(layer.state_dict()), layer.weight.tolist()[0][0]
    (['bias', 'weight'], 0.0)
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..random import default_generator
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = [
    "BasePruningMethod",
    "CustomFromMask",
    "Identity",
    "L1Unstructured",
    "LnStructured",
    "PruningContainer",
    "RandomStructured",
    "RandomUnstructured",
    "custom_from_mask",
    "global_unstructured",
    "identity",
    "is_pruned",
    "l1_unstructured",
    "ln_structured",
    "random_structured",
    "random_unstructured",
    "remove",
]


# ---- amounts ---------------------------------------------------------------------------------
def _validate_amount(amount: Any) -> None:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount!r}. Must be int or float.")
    if isinstance(amount, numbers.Integral):
        if amount < 0:
            raise ValueError(
                f"amount={amount} should either be a float in the range [0, 1] "
                "or a non-negative integer"
            )
    elif not 0.0 <= float(amount) <= 1.0:
        raise ValueError(
            f"amount={amount} should either be a float in the range [0, 1] "
            "or a non-negative integer"
        )


def _n_to_prune(amount: float, size: int) -> int:
    n = int(amount) if isinstance(amount, numbers.Integral) else round(float(amount) * size)
    if n > size:
        raise ValueError(
            f"amount={amount} should be smaller than the number of parameters to prune={size}"
        )
    return n


def _smallest(scores: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k smallest scores, the lowest index first among ties."""
    return np.argsort(scores.reshape(-1), kind="stable")[:k]


def _check_dim(t: np.ndarray, dim: int) -> int:
    if t.ndim <= 1:
        raise ValueError(
            f"Structured pruning can only be applied to multidimensional tensors. "
            f"Found tensor of shape {t.shape} with {t.ndim} dims"
        )
    if not -t.ndim <= dim < t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {t.shape}")
    return dim % t.ndim


def _norm(t: np.ndarray, n: Any, dim: int) -> np.ndarray:
    axes = tuple(d for d in range(t.ndim) if d != dim)
    a = np.abs(t.astype(np.float64))
    if n == "fro" or n == 2:
        return np.sqrt((a * a).sum(axis=axes))
    n = float(n)
    if n == np.inf:
        return a.max(axis=axes)
    if n == -np.inf:
        return a.min(axis=axes)
    if n == 0:
        return (a != 0).sum(axis=axes).astype(np.float64)
    return (a**n).sum(axis=axes) ** (1.0 / n)


# ---- methods ---------------------------------------------------------------------------------
class BasePruningMethod:
    """A way to compute a mask; an instance is the forward pre-hook of the tensor it prunes.

    Subclasses set `PRUNING_TYPE` ('unstructured', 'structured' or 'global') and implement
    `compute_mask(t, default_mask)` on ndarrays: `t` holds the importance scores, and the
    returned mask must keep every zero of `default_mask`.
    """

    PRUNING_TYPE = "unstructured"
    _tensor_name: str

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """The mask for importance scores `t` (ndarray), keeping the zeros of `default_mask`."""
        raise NotImplementedError

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self._tensor_name, self.apply_mask(module))

    def apply_mask(self, module: Module) -> Tensor:
        """`mask * orig` for this method's tensor (differentiable in `orig`)."""
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return mask.to(orig.dtype) * orig

    @classmethod
    def apply(
        cls, module: Module, name: str, *args: Any, importance_scores: Any = None, **kwargs: Any
    ) -> BasePruningMethod:
        """Prune `module.<name>` with `cls(*args, **kwargs)`, composing with earlier pruning."""
        if not isinstance(module, Module):
            raise TypeError(f"expected an mg.nn.Module, got {type(module).__name__}")
        old_key, old = None, None
        for key, hook in module._forward_pre_hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                old_key, old = key, hook
        method = cls(*args, **kwargs)
        method._tensor_name = name
        hook_method: BasePruningMethod = method
        if old is not None:  # a new container, so that a failure below leaves the old one
            earlier = tuple(old) if isinstance(old, PruningContainer) else (old,)
            hook_method = PruningContainer(*earlier, method)
        if old is None:
            orig = getattr(module, name, None)
            if not isinstance(orig, Parameter):
                raise AttributeError(
                    f"module {type(module).__name__} has no parameter named {name!r} to prune"
                )
            scores_of = orig
            default_mask = np.ones(orig.shape, dtype=orig.dtype)
        else:
            orig = module._parameters[name + "_orig"]
            scores_of = getattr(module, name)  # the pruned tensor, as in PyTorch
            default_mask = np.array(module._buffers[name + "_mask"].data, copy=True)
        scores = _scores(importance_scores, scores_of, name)
        mask = hook_method.compute_mask(scores, default_mask)  # validates before any change
        if old is None:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
        else:
            del module._forward_pre_hooks[old_key]
        module.register_buffer(name + "_mask", Tensor._wrap(mask.astype(orig.dtype)))
        setattr(module, name, hook_method.apply_mask(module))
        module.register_forward_pre_hook(hook_method)
        return hook_method

    def prune(self, t: Tensor, default_mask: Tensor | None = None) -> Tensor:
        """The pruned version of `t` (`t * mask`), without touching any module."""
        arr = np.asarray(t.data)
        base = np.ones_like(arr) if default_mask is None else np.asarray(default_mask.data)
        return t * Tensor._wrap(self.compute_mask(arr, base).astype(arr.dtype))

    def remove(self, module: Module) -> None:
        """Make the pruning permanent: `module.<name>` becomes a Parameter holding
        `orig * mask`; `<name>_orig` and `<name>_mask` are deleted."""
        weight = self.apply_mask(module)
        if self._tensor_name in module.__dict__:
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.data = np.asarray(weight.data)
        del module._parameters[self._tensor_name + "_orig"]
        del module.__dict__[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        del module.__dict__[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


def _scores(importance_scores: Any, orig: Tensor, name: str) -> np.ndarray:
    if importance_scores is None:
        return np.asarray(orig.data)
    arr = np.asarray(
        importance_scores.data if isinstance(importance_scores, Tensor) else importance_scores
    )
    if arr.shape != orig.shape:
        raise ValueError(
            f"importance_scores should have the same shape as parameter {name}: "
            f"got {arr.shape}, expected {orig.shape}"
        )
    return arr


class PruningContainer(BasePruningMethod):
    """The sequence of methods applied to one tensor; the last one acts on what is still
    unpruned (the channels still kept, for structured methods)."""

    def __init__(self, *methods: BasePruningMethod) -> None:
        self._pruning_methods: tuple[BasePruningMethod, ...] = ()
        for m in methods:
            self.add_pruning_method(m)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        """Append `method`; it must act on the same tensor as those already held."""
        if not isinstance(method, BasePruningMethod):
            raise TypeError(f"{type(method).__name__} is not a BasePruningMethod subclass")
        if self._pruning_methods and method._tensor_name != self._tensor_name:
            raise ValueError(
                f"Can only add pruning methods acting on the parameter named "
                f"'{self._tensor_name}' to PruningContainer. Found '{method._tensor_name}'"
            )
        self._tensor_name = method._tensor_name
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._pruning_methods)

    def __getitem__(self, idx: int) -> BasePruningMethod:
        return self._pruning_methods[idx]

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """The last method's mask, computed on the entries (or channels) still unpruned."""
        method = self._pruning_methods[-1]
        new_mask = default_mask.astype(t.dtype, copy=True)
        slc: Any
        if method.PRUNING_TYPE == "unstructured":
            slc = default_mask == 1
        elif method.PRUNING_TYPE == "structured":
            dim = _check_dim(t, method.dim)  # type: ignore[attr-defined]
            keep = default_mask.sum(axis=tuple(d for d in range(t.ndim) if d != dim)) != 0
            slc = tuple(keep if d == dim else slice(None) for d in range(t.ndim))
        elif method.PRUNING_TYPE == "global":
            slc = (slice(None),) * t.ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        new_mask[slc] = method.compute_mask(t[slc], default_mask[slc])
        return new_mask


class Identity(BasePruningMethod):
    """Prunes nothing: the mask is all ones (handy to get the `_orig`/`_mask` layout)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """`default_mask` unchanged."""
        return default_mask.copy()


class RandomUnstructured(BasePruningMethod):
    """Prunes `amount` entries chosen at random (from `mg.manual_seed`'s generator)."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount: float) -> None:
        _validate_amount(amount)
        self.amount = amount

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """`default_mask` with `amount` random entries more set to 0."""
        k = _n_to_prune(self.amount, t.size)
        mask = default_mask.copy()
        if k:
            mask.reshape(-1)[default_generator().permutation(t.size)[:k]] = 0
        return mask


class L1Unstructured(BasePruningMethod):
    """Prunes the `amount` entries of smallest absolute value."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount: float) -> None:
        _validate_amount(amount)
        self.amount = amount

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """`default_mask` with the `amount` entries of smallest |t| set to 0."""
        k = _n_to_prune(self.amount, t.size)
        mask = default_mask.copy()
        if k:
            mask.reshape(-1)[_smallest(np.abs(t), k)] = 0
        return mask


class RandomStructured(BasePruningMethod):
    """Prunes `amount` whole channels along `dim`, chosen at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: float, dim: int = -1) -> None:
        _validate_amount(amount)
        self.amount, self.dim = amount, dim

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """`default_mask` with `amount` random channels along `dim` set to 0."""
        dim = _check_dim(t, self.dim)
        size = t.shape[dim]
        k = _n_to_prune(self.amount, size)
        if k == 0:
            return default_mask.copy()
        keep = np.zeros(size, dtype=bool)
        keep[default_generator().permutation(size)[: size - k]] = True
        return _channel_mask(t, dim, keep) * default_mask


class LnStructured(BasePruningMethod):
    """Prunes the `amount` channels along `dim` of smallest L`n` norm (`n` an int, float,
    inf, -inf or 'fro')."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: float, n: Any, dim: int = -1) -> None:
        _validate_amount(amount)
        if n == "nuc":
            raise ValueError("ln_structured: the nuclear norm is not supported; use n=1, 2, inf")
        if not (n == "fro" or isinstance(n, numbers.Real)):
            raise TypeError(f"ln_structured: n must be a number, inf or 'fro', got {n!r}")
        self.amount, self.n, self.dim = amount, n, dim

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """`default_mask` with the `amount` channels of smallest norm along `dim` set to 0."""
        dim = _check_dim(t, self.dim)
        size = t.shape[dim]
        k = _n_to_prune(self.amount, size)
        if k == 0:
            return default_mask.copy()
        norms = _norm(t, self.n, dim)
        keep = np.zeros(size, dtype=bool)
        keep[np.argsort(-norms, kind="stable")[: size - k]] = True
        return _channel_mask(t, dim, keep) * default_mask


def _channel_mask(t: np.ndarray, dim: int, keep: np.ndarray) -> np.ndarray:
    shape = [1] * t.ndim
    shape[dim] = t.shape[dim]
    return np.broadcast_to(keep.reshape(shape), t.shape).astype(t.dtype)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given `mask` is 0 (on top of earlier pruning)."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: Any) -> None:
        self.mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """`default_mask * mask`."""
        if self.mask.shape != default_mask.shape:
            raise ValueError(
                f"custom mask of shape {self.mask.shape} does not match the tensor's "
                f"shape {default_mask.shape}"
            )
        return default_mask * self.mask.astype(default_mask.dtype)


# ---- functional interface --------------------------------------------------------------------
def identity(module: Module, name: str) -> Module:
    """Give `module.<name>` the pruned layout with an all-ones mask.

    Example:
        >>> import microgradnp as mg
        >>> m = mg.nn.Linear(2, 1)
        >>> list(identity(m, "bias").state_dict())
        ['weight', 'bias_orig', 'bias_mask']
    """
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount: float) -> Module:
    """Prune `amount` random entries of `module.<name>`.

    Example:
        >>> import microgradnp as mg
        >>> _ = mg.manual_seed(0)
        >>> m = random_unstructured(mg.nn.Linear(10, 10), "weight", amount=0.3)
        >>> int((m.weight_mask.data == 0).sum())
        30
    """
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(
    module: Module, name: str, amount: float, importance_scores: Any = None
) -> Module:
    """Prune the `amount` entries of `module.<name>` of smallest absolute value (or of
    smallest `importance_scores`, an array of the parameter's shape).

    Example:
        >>> import microgradnp as mg
        >>> m = l1_unstructured(mg.nn.Linear(10, 10), "weight", amount=0.25)
        >>> int((m.weight.data == 0).sum())
        25
    """
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Module, name: str, amount: float, dim: int) -> Module:
    """Prune `amount` random channels of `module.<name>` along `dim`.

    Example:
        >>> import microgradnp as mg
        >>> m = random_structured(mg.nn.Linear(4, 6), "weight", amount=2, dim=0)
        >>> int((m.weight_mask.data.sum(axis=1) == 0).sum())
        2
    """
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(
    module: Module, name: str, amount: float, n: Any, dim: int, importance_scores: Any = None
) -> Module:
    """Prune the `amount` channels of `module.<name>` along `dim` of smallest L`n` norm.

    Example:
        >>> import microgradnp as mg
        >>> conv = ln_structured(mg.nn.Conv2d(1, 8, 3), "weight", amount=0.5, n=2, dim=0)
        >>> (conv.weight_mask.data.reshape(8, -1).sum(axis=1) == 0).sum()
        np.int64(4)
    """
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module: Module, name: str, mask: Any) -> Module:
    """Prune `module.<name>` where `mask` is 0.

    Example:
        >>> import microgradnp as mg
        >>> m = custom_from_mask(mg.nn.Linear(2, 1), "bias", mask=mg.tensor([0.0]))
        >>> m.bias.tolist() == [0.0], m.bias_mask.tolist()
        (True, [0.0])
    """
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(
    parameters: Iterable[tuple[Module, str]],
    pruning_method: type[BasePruningMethod],
    importance_scores: dict | None = None,
    **kwargs: Any,
) -> None:
    """Prune the (module, name) tensors together: the `amount` is taken over all of them at
    once, so layers lose different fractions (`pruning_method` must be unstructured, such as
    `L1Unstructured`).

    Example:
        >>> import microgradnp as mg
        >>> a, b = mg.nn.Linear(10, 10), mg.nn.Linear(10, 10)
        >>> global_unstructured([(a, "weight"), (b, "weight")], L1Unstructured, amount=50)
        >>> int((a.weight_mask.data == 0).sum() + (b.weight_mask.data == 0).sum())
        50
    """
    params: Sequence[tuple[Module, str]] = list(parameters)
    if not params:
        raise ValueError("global_unstructured: parameters is empty")
    importance_scores = importance_scores or {}
    if getattr(pruning_method, "PRUNING_TYPE", None) != "unstructured":
        raise TypeError(
            'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
            f"Found method {pruning_method} of type "
            f"{getattr(pruning_method, 'PRUNING_TYPE', None)}"
        )
    scores, masks = [], []
    for module, name in params:
        current = getattr(module, name)
        s = importance_scores.get((module, name), current)
        scores.append(np.asarray(s.data if isinstance(s, Tensor) else s).reshape(-1))
        m = getattr(module, name + "_mask", None)
        masks.append(np.ones(current.data.size) if m is None else np.asarray(m.data).reshape(-1))
    flat_scores = np.concatenate(scores)
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    container = PruningContainer(method)
    final = container.compute_mask(flat_scores, np.concatenate(masks).astype(flat_scores.dtype))
    start = 0
    for module, name in params:
        shape = getattr(module, name).shape
        n = int(np.prod(shape))
        custom_from_mask(module, name, final[start : start + n].reshape(shape))
        start += n


def remove(module: Module, name: str) -> Module:
    """Make the pruning of `module.<name>` permanent (see the module docstring).

    Example:
        >>> import microgradnp as mg
        >>> m = remove(l1_unstructured(mg.nn.Linear(3, 3), "weight", amount=3), "weight")
        >>> isinstance(m.weight, mg.nn.Parameter), is_pruned(m)
        (True, False)
    """
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(
        f"Parameter '{name}' of module {type(module).__name__} has to be pruned before "
        "pruning can be removed"
    )


def is_pruned(module: Module) -> bool:
    """Whether `module` or any submodule has a pruning hook.

    Example:
        >>> import microgradnp as mg
        >>> net = mg.nn.Sequential(mg.nn.Linear(2, 2), mg.nn.ReLU())
        >>> is_pruned(net), is_pruned(identity(net[0], "weight") and net)
        (False, True)
    """
    return any(
        isinstance(hook, BasePruningMethod)
        for m in module.modules()
        for hook in m._forward_pre_hooks.values()
    )
