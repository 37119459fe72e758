"""microgradnp: a small, fast, readable deep-learning framework on NumPy.

Public re-exports only; see DESIGN in the README for the architecture.

Example:
    >>> import microgradnp as mg
    >>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad.tolist()
    [2.0, 4.0, 6.0]
"""

from . import (
    adversarial,
    autograd,
    data,
    datasets,
    distributed,
    explain,
    metrics,
    models,
    nn,
    onnx,
    ops,
    optim,
    plots,
    quantization,
    text,
    train,
    viz,
)
from .autograd import (
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from .compile import compile  # noqa: A004 - mg.compile, as torch.compile
from .creation import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .device import device
from .dtypes import (
    bool_,
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    uint8,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import *  # noqa: F403 - every public op (ops.__all__)
from .random import manual_seed
from .serialization import load, save
from .tensor import Tensor

__all__ = [
    # submodules
    "adversarial",
    "autograd",
    "compile",
    "data",
    "datasets",
    "distributed",
    "explain",
    "metrics",
    "models",
    "nn",
    "onnx",
    "optim",
    "plots",
    "text",
    "quantization",
    "train",
    "viz",
    # tensor
    "Tensor",
    "device",
    "tensor",
    "from_numpy",
    "arange",
    "empty",
    "eye",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "rand",
    "randint",
    "randn",
    "zeros",
    "zeros_like",
    "manual_seed",
    # dtypes
    "bool_",
    "double",
    "float16",
    "float32",
    "float64",
    "half",
    "int8",
    "int16",
    "int32",
    "int64",
    "long",
    "uint8",
    "get_default_dtype",
    "set_default_dtype",
    # autograd
    "grad",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "set_grad_enabled",
    "detect_anomaly",
    "set_detect_anomaly",
    "gradcheck",
    "gradgradcheck",
    "GradcheckError",
    # io
    "save",
    "load",
] + ops.__all__  # every public op: one list, kept in the ops files

__version__ = "0.2.0"
