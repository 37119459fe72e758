"""`mg.quantization`: post-training int8 quantization (dynamic and static) of `Linear` and
`Conv2d` layers, with `torch.ao.quantization`'s entry points (`quantize_dynamic`, `prepare`,
`convert`) and calibration observers.

Example:
    >>> import microgradnp as mg
    >>> q = mg.quantization.quantize_dynamic(mg.nn.Linear(64, 10), {mg.nn.Linear}, dtype="int8")
    >>> q.state_dict()["weight"].dtype, q.state_dict()["weight_scale"].shape
    (dtype('int8'), (10,))
"""

from .modules import QuantizedConv2d, QuantizedLinear
from .observer import MinMaxObserver, PercentileObserver
from .quantize import convert, prepare, quantize_dynamic

__all__ = [
    "MinMaxObserver",
    "PercentileObserver",
    "QuantizedConv2d",
    "QuantizedLinear",
    "convert",
    "prepare",
    "quantize_dynamic",
]
