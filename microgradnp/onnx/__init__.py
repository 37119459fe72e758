"""ONNX export: `mg.onnx.export(model, example_input, "model.onnx", ...)`.

Needs the optional `onnx` package (``pip install 'microgradnp[onnx]'``, which also brings
`onnxruntime` to run the exported model); it is imported only when `export` runs.
"""

from .exporter import export
from .ops import OPS as SUPPORTED_PRIMITIVES
from .regions import REGIONS as SUPPORTED_LAYERS

__all__ = ["SUPPORTED_LAYERS", "SUPPORTED_PRIMITIVES", "export"]
