"""Optimizers (`SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`) and learning-rate schedules.

Each optimizer is a thin `Optimizer` subclass around a pure in-place NumPy kernel
(`sgd_update`, `adam_update`, ...); `lr_scheduler` holds the schedules.

Example:
    >>> import microgradnp as mg
    >>> w = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = mg.optim.SGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.tolist()
    [0.0, 0.0]
"""

from . import lr_scheduler
from .adagrad import Adagrad, adagrad_update
from .adam import Adam, AdamW, adam_update
from .optimizer import Optimizer
from .rmsprop import RMSprop, rmsprop_update
from .sgd import SGD, sgd_update

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Optimizer",
    "lr_scheduler",
    "sgd_update",
    "adam_update",
    "rmsprop_update",
    "adagrad_update",
]
