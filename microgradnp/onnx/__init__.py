"""ONNX export: `mg.onnx.export(model, example_input, "model.onnx", ...)`.

Needs the optional `onnx` package (``pip install 'microgradnp[onnx]'``, which also brings
`onnxruntime` to run the exported model); it is imported only when `export` runs.
"""

from .exporter import export
from .ops import OPS
from .regions import REGIONS

SUPPORTED_PRIMITIVES: list[str] = sorted(OPS)
"""Names of the primitives that `export` maps to ONNX nodes."""

SUPPORTED_LAYERS: list[str] = sorted(c.__name__ for c in REGIONS)
"""Layers that `export` writes whole, as one ONNX node (pooling, LeakyReLU, ELU, Softplus)."""

__all__ = ["SUPPORTED_LAYERS", "SUPPORTED_PRIMITIVES", "export"]
