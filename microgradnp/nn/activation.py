"""Activation layers: `GELU`, `SiLU`, `LeakyReLU`, `ELU`, `Softplus` (thin modules over
`activation_functions.py`; `ReLU`, `Sigmoid`, `Tanh` are in `layers.py`).
"""

from __future__ import annotations

from ..tensor import Tensor
from .activation_functions import elu, gelu, leaky_relu, silu, softplus
from .module import Module


class GELU(Module):
    """Gaussian error linear unit, exact (erf) or with approximate='tanh'.

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.GELU(approximate="tanh")
        GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x). `inplace` is accepted for compatibility; the result is new.

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.SiLU()(mg.tensor([0.0])).tolist()
        [0.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        return silu(x)

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise.

    Example:
        >>> import microgradnp as mg
        >>> act = mg.nn.LeakyReLU(0.5)
        >>> act, act(mg.tensor([-1.0, 2.0])).tolist()
        (LeakyReLU(negative_slope=0.5), [-0.5, 2.0])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.ELU(alpha=0.5)
        ELU(alpha=0.5)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        return elu(x, self.alpha)

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold.

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.Softplus(beta=2.0)
        Softplus(beta=2.0, threshold=20.0)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        return softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return f"beta={self.beta}, threshold={self.threshold}"
