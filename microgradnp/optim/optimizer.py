"""The `Optimizer` base class: parameter groups, per-parameter state, checkpoints.

Subclasses (`SGD`, `Adam`, ...) only validate their hyper-parameters and implement
`_update(param, grad, state, group)`, which calls a pure NumPy kernel that changes the
parameter's array in place. Schedulers in `lr_scheduler` edit `param_groups[i]["lr"]`.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .. import graph
from ..grad_mode import enable_grad
from ..tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]

_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def check_nonnegative(**hparams: float) -> None:
    """Raise PyTorch's `ValueError` ("Invalid learning rate: -1") for any negative value."""
    for name, value in hparams.items():
        if not 0.0 <= value:  # also catches NaN
            raise ValueError(f"Invalid {_LABELS.get(name, name + ' value')}: {value}")


def decayed_grad(
    param: np.ndarray, grad: np.ndarray, weight_decay: float, maximize: bool
) -> np.ndarray:
    """A new array holding `±grad + weight_decay * param` (minus when maximizing)."""
    if weight_decay == 0:
        return np.negative(grad) if maximize else grad.copy()
    out = np.multiply(param, weight_decay)
    return np.subtract(out, grad, out=out) if maximize else np.add(out, grad, out=out)


def lerp_(start: np.ndarray, end: np.ndarray, weight: float, scratch: np.ndarray) -> None:
    """`start += weight (end - start)` in place, with PyTorch's two-sided formula.

    For weight >= 0.5 it computes `end - (1 - weight)(end - start)`, which is exact at
    weight = 1. `scratch` is an array of the same shape that may be overwritten.
    """
    np.subtract(end, start, out=scratch)
    if weight < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1 - weight
        np.subtract(end, scratch, out=start)


def stamp(p: Tensor, clock: int) -> None:
    """Record an in-place update of parameter `p` at `clock` on its version counter (a
    parameter is a leaf: no node's saved output can have changed)."""
    if p._base is None:
        p._vc = clock
    else:  # a parameter that views another tensor's memory: its base keeps the count
        p._base._vc = clock


class Optimizer:
    """Base class of all optimizers (PyTorch's `torch.optim.Optimizer` design).

    Args:
        params: an iterable of Tensors (or of `(name, tensor)` pairs), or of dicts each with
            a `"params"` entry and per-group options overriding `defaults`.
        defaults: the default value of every option of this optimizer.

    `state[p]` holds the per-parameter state (keyed by the tensor object itself);
    `state_dict()` / `load_state_dict()` refer to parameters by their position.

    Example:
        >>> import microgradnp as mg
        >>> w = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> b = mg.tensor([0.5], requires_grad=True)
        >>> opt = mg.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
        >>> [group["lr"] for group in opt.param_groups]
        [0.1, 0.5]
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of "
                f"Tensors or dicts, but got {type(params).__name__}"
            )
        self._validate(defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE)
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)  # type: ignore[arg-type]  # (dicts, checked above)

    def _validate(self, options: dict[str, Any]) -> None:
        """Check hyper-parameters (of `defaults` and of each group); subclasses override."""

    def _update(
        self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. to unfreeze layers later)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE)
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError(
                    "all optimizer params should be with/without names. "
                    "Some param names are missing"
                )
            group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._validate(group)
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if not taken.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to `None` (default) or to zeros detached from any graph."""
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is None:
                    continue
                if set_to_none:
                    p._grad = None  # (the slot itself: None needs no checks)
                else:
                    if p.grad.grad_fn is not None:
                        p.grad = p.grad.detach()
                    p.grad.requires_grad = False
                    p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return `closure()`'s loss, if given.

        The update works on the parameters' arrays directly (nothing is recorded), then bumps
        each tensor's version so that a graph built before the step refuses to backpropagate.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        clock = graph.tick()  # one in-place "tick" for the whole step (see graph.py)
        # Kernels work on the arrays themselves, so nothing is recorded: no no_grad() needed.
        for group in self.param_groups:
            self._update_group(group, clock)
        return loss

    def _update_group(self, group: dict[str, Any], clock: int) -> None:
        """Update every parameter of `group` that has a gradient (stamped with `clock`)."""
        state = self.state
        for p in group["params"]:
            if p.grad is not None:
                if p.data.itemsize < 4:
                    self._update_widened(p, p.grad.data, state[p], group)
                else:
                    self._update(p, p.grad.data, state[p], group)
                stamp(p, clock)

    def _update_widened(
        self, param: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        """Update a float16 parameter with float32 arithmetic and float32 state.

        NOTE: in float16 `grad * grad` overflows from |grad| >= 256, and eps = 1e-8 and small
        second moments round to 0. PyTorch keeps the state in float16, so there Adam's
        moments become inf (the parameter stops moving) or 0 (it steps to -inf), and
        Adagrad's sum overflows at the first gradient of 256. Here the state is float32 (as
        in mixed-precision training's master copies) and the parameter is rounded to float16
        once per step, so parameters move and stay finite; where PyTorch's float16 state
        stays in range, the results agree to float16 rounding.
        """
        wide = Tensor._wrap(param.data.astype(np.float32))
        for key, value in state.items():  # e.g. float16 state loaded from a checkpoint
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.itemsize < 4:
                state[key] = value.astype(np.float32)
        self._update(wide, grad.astype(np.float32), state, group)
        with np.errstate(over="ignore"):  # a value beyond float16's range becomes inf
            param.data[...] = wide.data

    def state_dict(self) -> dict[str, Any]:
        """Copy of the state, parameters referred to by index (PyTorch's layout).

        Returns `{"state": {index: {name: value}}, "param_groups": [{..., "params": [index]}]}`
        with only ints, floats, bools, strings, None, lists, tuples, dicts and ndarrays.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            saved = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            saved["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(saved)
        state = {
            index[id(p)]: {k: _copy_value(v) for k, v in s.items()}
            for p, s in self.state.items()
            if s and id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a `state_dict()` (copies it; arrays cast to each parameter's dtype).

        Everything is checked before anything changes: the groups must match this
        optimizer's, every state entry must name an existing parameter index, and every
        array in it must have that parameter's shape. Otherwise `ValueError`, and the
        optimizer is left as it was.
        """
        if not (
            isinstance(state_dict, dict)
            and isinstance(state_dict.get("state"), dict)
            and isinstance(state_dict.get("param_groups"), list)
        ):
            raise ValueError(
                "optimizer load_state_dict: expected a dict with a 'state' dict and a "
                f"'param_groups' list (as state_dict() returns), got {_summary(state_dict)}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(
            not isinstance(s, dict) or not isinstance(s.get("params"), list) for s in saved_groups
        ):
            raise ValueError("loaded state dict has a parameter group without a 'params' list")
        if any(
            len(g["params"]) != len(s["params"])
            for g, s in zip(self.param_groups, saved_groups, strict=True)
        ):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match "
                "the size of optimizer's group"
            )
        by_index = {
            _index(i): p
            for g, s in zip(self.param_groups, saved_groups, strict=True)
            for i, p in zip(s["params"], g["params"], strict=True)
        }
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            index = _index(key)
            if index not in by_index:
                raise ValueError(
                    f"loaded state dict has state for parameter index {key!r}, but the "
                    f"parameter groups hold the indices {sorted(by_index)}"
                )
            if not isinstance(values, dict):
                raise ValueError(
                    f"loaded state for parameter {index} must be a dict, got {_summary(values)}"
                )
            param = by_index[index]
            state[param] = {k: _load_value(k, v, param, index) for k, v in values.items()}
        groups = []
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            new = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new["params"] = group["params"]
            if "param_names" in group and "param_names" not in new:
                new["param_names"] = group["param_names"]
            self._validate({**self.defaults, **new})
            groups.append(new)
        self.state, self.param_groups = state, groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


_SET_MESSAGE = (
    "optimizer parameters need to be organized in ordered collections, but the "
    "ordering of tensors in sets will change between runs. Please use a list instead."
)


def _copy_value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    return copy.deepcopy(value)


def _summary(value: Any) -> str:
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))[:6]}"
    return f"a {type(value).__name__}"


def _index(key: Any) -> int:
    """A parameter index from a state dict (an int, or an int-valued string after a JSON
    round trip)."""
    try:
        if isinstance(key, bool) or isinstance(key, float):
            raise ValueError
        return int(key)
    except (TypeError, ValueError):
        raise ValueError(f"loaded state dict has an invalid parameter index {key!r}") from None


def _load_value(key: str, value: Any, param: Tensor, index: int) -> Any:
    if isinstance(value, Tensor):
        value = value.data
    where = f"loaded optimizer state {key!r} of parameter {index}"
    if key == "step":  # the step count is a Python int, however it was stored
        step = np.asarray(value)
        if step.shape != () or step.dtype.kind not in "iuf" or not np.isfinite(step):
            raise ValueError(f"{where} must be a number, got {value!r}")
        return int(step)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise ValueError(f"{where} has dtype {value.dtype}; expected a numeric array")
        if value.shape != param.shape:
            raise ValueError(
                f"{where} has shape {value.shape}, but the parameter has shape {param.shape}"
            )
        if value.dtype.kind == "f":  # float16 parameters keep float32 state (see above)
            dtype = param.dtype if param.dtype.itemsize >= 4 else np.dtype(np.float32)
            return value.astype(dtype, copy=True)
        return value.copy()
    return copy.deepcopy(value)
