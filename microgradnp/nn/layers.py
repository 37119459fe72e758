"""Layers: `Linear`, activations (`Sigmoid`, `ReLU`, `Tanh`, `Softmax`, `LogSoftmax`),
`Dropout`, `Identity`, `Flatten`, `Unflatten`, `Embedding` and `LayerNorm`.

Each is a thin `Module` over `functional`; parameters are created with PyTorch's shapes and
default initialisation, from the generator seeded by `mg.manual_seed`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import dtypes, ops
from ..autograd import no_grad
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


def _empty(*shape: int, dtype: Any = None) -> Parameter:
    return Parameter(
        np.empty(shape, dtype=dtypes.get_default_dtype() if dtype is None else np.dtype(dtype))
    )


class Linear(Module):
    """y = x @ weight.T + bias, with weight of shape (out_features, in_features).

    Initialised as PyTorch's `nn.Linear`: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)).

    Example:
        >>> import microgradnp as mg
        >>> layer = mg.nn.Linear(3, 2)
        >>> layer, layer.weight.shape, layer(mg.zeros(4, 3)).shape
        (Linear(in_features=3, out_features=2, bias=True), (2, 3), (4, 2))
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, *, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _empty(out_features, in_features, dtype=dtype)
        if bias:
            self.bias = _empty(out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias with PyTorch's default initialisation (see the class)."""
        # kaiming_uniform_(a=sqrt(5)) gives bound = gain * sqrt(3 / fan_in) with
        # gain = sqrt(2 / (1 + 5)), i.e. 1 / sqrt(fan_in) -- PyTorch's default
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """`x @ weight.T + bias` for `x` of shape (*, in_features)."""
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        """The constructor arguments as shown inside `repr(module)`."""
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder; arguments are ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        """Return `x` unchanged."""
        return x


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise (stable for any input)."""

    def forward(self, x: Tensor) -> Tensor:
        """`1 / (1 + exp(-x))`, elementwise, stable for any input."""
        return ops.sigmoid(x)


class ReLU(Module):
    """max(x, 0), elementwise. `inplace` is accepted for compatibility and ignored."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        """`max(x, 0)`, elementwise."""
        return ops.relu(x)

    def extra_repr(self) -> str:
        """The constructor arguments as shown inside `repr(module)`."""
        return "inplace=True" if self.inplace else ""


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """`tanh(x)`, elementwise."""
        return ops.tanh(x)


class Softmax(Module):
    """Softmax along `dim` (PyTorch's legacy implicit dim, with a warning, when None)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """Softmax of `x` along `self.dim` (max-shifted, so it never overflows)."""
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        """The constructor arguments as shown inside `repr(module)`."""
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along `dim`, computed stably (legacy implicit dim, as `Softmax`)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """`x - logsumexp(x)` along `self.dim`."""
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        """The constructor arguments as shown inside `repr(module)`."""
        return f"dim={self.dim}"


class Dropout(Module):
    """Inverted dropout with probability `p` in training mode; the identity in eval mode.

    Example:
        >>> import microgradnp as mg
        >>> drop = mg.nn.Dropout(0.25)
        >>> drop
        Dropout(p=0.25, inplace=False)
        >>> bool((drop.eval()(mg.ones(4)) == 1).all())
        True
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        """In training mode zero each element with probability `p` and scale the rest by
        `1 / (1 - p)`; in eval mode return `x`.
        """
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        """The constructor arguments as shown inside `repr(module)`."""
        return f"p={self.p}, inplace={self.inplace}"


class Flatten(Module):
    """Merge dimensions `start_dim`..`end_dim` (by default all but the batch dimension)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        """`x` with dims `start_dim` through `end_dim` merged into one."""
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        """The constructor arguments as shown inside `repr(module)`."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dimension `dim` into `unflattened_size` (the inverse of `Flatten`).

    Example:
        >>> import microgradnp as mg
        >>> layer = mg.nn.Unflatten(1, (2, 5))
        >>> layer, layer(mg.zeros(3, 10)).shape
        (Unflatten(dim=1, unflattened_size=(2, 5)), (3, 2, 5))
    """

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for the computation)."""
        shape = x.shape
        dim = self.dim % len(shape)
        sizes = list(self.unflattened_size)
        known = int(np.prod([s for s in sizes if s != -1]))
        if -1 in sizes:
            sizes[sizes.index(-1)] = shape[dim] // known if known else 0
        if int(np.prod(sizes)) != shape[dim]:
            raise ValueError(
                f"unflattened_size {self.unflattened_size} does not multiply to the size "
                f"{shape[dim]} of dim {self.dim} of an input of shape {shape}"
            )
        return ops.reshape(x, shape[:dim] + tuple(sizes) + shape[dim + 1 :])

    def extra_repr(self) -> str:
        """The constructor arguments shown in the module's `repr`."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Embedding(Module):
    """A lookup table: integer ids -> rows of `weight` (num_embeddings, embedding_dim).

    Initialised from N(0, 1); the row `padding_idx` (if given) starts at zero and gets no
    gradient.

    Example:
        >>> import microgradnp as mg
        >>> emb = mg.nn.Embedding(10, 3, padding_idx=0)
        >>> emb, emb(mg.tensor([[1, 2], [0, 9]])).shape, emb.weight[0].tolist()
        (Embedding(10, 3, padding_idx=0), (2, 2, 3), [0.0, 0.0, 0.0])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if sparse:
            raise NotImplementedError("Embedding: sparse gradients are not supported")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"padding_idx must be within num_embeddings "
                    f"({num_embeddings}), got {padding_idx}"
                )
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = _empty(num_embeddings, embedding_dim, dtype=dtype)
            self.reset_parameters()
        else:
            if tuple(np.shape(_weight.data if isinstance(_weight, Tensor) else _weight)) != (
                num_embeddings,
                embedding_dim,
            ):
                raise ValueError(
                    f"Embedding: _weight must have shape ({num_embeddings}, {embedding_dim})"
                )
            self.weight = Parameter(_weight)
        if _freeze:
            self.weight.requires_grad = False

    def reset_parameters(self) -> None:
        """Re-draw the weight from N(0, 1), then zero the `padding_idx` row if there is one."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding holding (a copy of) the 2-D `embeddings`; frozen by default."""
        arr = np.array(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if arr.ndim != 2:
            raise ValueError(
                f"Embeddings parameter is expected to be 2-dimensional, got shape {arr.shape}"
            )
        emb = cls(arr.shape[0], arr.shape[1], padding_idx, max_norm, norm_type,
                  scale_grad_by_freq, sparse, _weight=arr)  # fmt: skip
        emb.weight.requires_grad = not freeze
        return emb

    def forward(self, x: Any) -> Tensor:
        """The rows of `weight` picked by the integer indices `x`: `(*x.shape, embedding_dim)`."""
        return F.embedding(x, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq)  # fmt: skip

    def extra_repr(self) -> str:
        """The constructor arguments as shown inside `repr(module)`."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s


class LayerNorm(Module):
    """Layer normalisation over the trailing `normalized_shape` dims, with learnable
    elementwise scale (ones) and shift (zeros).

    Example:
        >>> import microgradnp as mg
        >>> mg.nn.LayerNorm(4)
        LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = _empty(*self.normalized_shape, dtype=dtype)
            if bias:
                self.bias = _empty(*self.normalized_shape, dtype=dtype)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set the weight to ones and the bias to zeros."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Normalise `x` over its last `len(normalized_shape)` dims, then scale and shift."""
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """The constructor arguments as shown inside `repr(module)`."""
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )
