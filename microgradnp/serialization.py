"""Checkpoints: `mg.save(obj, path)` and `mg.load(path)`, in the safetensors format.

A safetensors file is a JSON header followed by raw array bytes, so loading it can never run
code (unlike pickle, which `torch.save` and `np.load(allow_pickle=True)` use). Tensors and
arrays become safetensors entries; the nesting around them (an optimizer's state dict: dicts
with int or str keys, lists, tuples, numbers, strings, None) is stored as JSON in the header's
`__metadata__`, where each tensor is referenced by its entry's name.

A flat state dict is stored under its own names, so the file is an ordinary safetensors file:
`safetensors.torch.load_file` reads ours and `mg.load` reads PyTorch's.

Example:
    >>> import os, tempfile
    >>> import microgradnp as mg
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
    >>> mg.save({"weight": mg.ones(2, 3), "step": 7, "betas": (0.9, 0.999)}, path)
    >>> ckpt = mg.load(path)
    >>> ckpt["weight"].shape, ckpt["step"], ckpt["betas"]
    ((2, 3), 7, (0.9, 0.999))
"""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from .nn.module import Parameter
from .tensor import Tensor

__all__ = ["load", "save"]

_META_KEY = "microgradnp"  # the header metadata entry that holds the JSON structure
_FORMAT_VERSION = 1
# Deeper nesting is refused by save and load alike (no checkpoint nests this deep; the limit
# keeps both far from Python's recursion limit, whatever a file contains).
_MAX_DEPTH = 200
_NUMPY_DTYPES = {"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64"}


def _safetensors() -> Any:
    try:
        import safetensors.numpy as st
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "mg.save / mg.load need the 'safetensors' package; install it with "
            "pip install 'microgradnp[io]' (or pip install safetensors)"
        ) from e
    return st


def _array_for_file(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"mg.save: cannot save an array of dtype {arr.dtype} at {where}; only "
            "bool, integer and floating arrays can be stored"
        )
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr if arr.flags.c_contiguous else arr.copy(order="C")  # (keeps 0-d shapes)


def _encode(obj: Any, path: tuple[str, ...], tensors: dict[str, np.ndarray]) -> Any:
    """The JSON form of `obj`; its arrays go into `tensors` under dotted-path names."""
    where = ".".join(path) or "the top level"
    if len(path) > _MAX_DEPTH:
        raise ValueError(f"mg.save: the object nests deeper than {_MAX_DEPTH} levels at {where}")
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        key = ".".join(path) or "tensor"
        base, n = key, 1
        while key in tensors:
            key, n = f"{base}#{n}", n + 1
        arr = obj.data if isinstance(obj, Tensor) else np.asarray(obj)
        tensors[key] = _array_for_file(arr, where)
        if isinstance(obj, np.generic):
            return {"__npscalar__": key}
        if isinstance(obj, np.ndarray):
            return {"__ndarray__": key}
        node: dict[str, Any] = {"__tensor__": key}
        if isinstance(obj, Parameter):
            node["parameter"] = True
        if obj.requires_grad:
            node["requires_grad"] = True
        return node
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}  # JSON has no nan/inf
    if isinstance(obj, list):
        return [_encode(v, path + (str(i),), tensors) for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, path + (str(i),), tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, Mapping):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(
                    f"mg.save: dict keys must be str or int, got {k!r} "
                    f"({type(k).__name__}) at {where}"
                )
            items.append([k, _encode(v, path + (str(k),), tensors)])
        return {"__dict__": items, "ordered": isinstance(obj, OrderedDict)}
    hint = " (save model.state_dict(), not the model)" if hasattr(obj, "state_dict") else ""
    raise TypeError(
        f"mg.save: cannot save an object of type {type(obj).__name__} at {where}; "
        f"only tensors, arrays, numbers, strings, None and lists, tuples and dicts "
        f"of them can be stored{hint}"
    )


def save(obj: Any, path: Any) -> None:
    """Write `obj` (a state dict, an optimizer state dict, a tensor, or nested lists, tuples
    and dicts of tensors, arrays, numbers, strings and None) to `path` as safetensors.

    dtypes and shapes round-trip exactly. `path` is a file name or a binary file object.
    """
    st = _safetensors()
    tensors: dict[str, np.ndarray] = {}
    structure = _encode(obj, (), tensors)
    meta = json.dumps({"version": _FORMAT_VERSION, "root": structure}, allow_nan=False)
    blob = st.save(tensors, metadata={_META_KEY: meta})
    if hasattr(path, "write"):
        path.write(blob)
        return
    target = os.fspath(path)
    tmp = f"{target}.tmp{os.getpid()}"
    try:  # write next to the target, then rename: a crash never leaves a truncated file
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _refuse(data: bytes, name: str) -> ValueError:
    head = data[:8]
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        kind = "a pickle file (e.g. from torch.save or pickle.dump)"
    elif head[:6] == b"\x93NUMPY":
        kind = "a NumPy .npy file"
    elif head[:4] == b"PK\x03\x04":
        kind = "a zip archive (e.g. a NumPy .npz file or a torch.save checkpoint)"
    else:
        kind = "not a safetensors file"
    return ValueError(
        f"mg.load: {name} is {kind}. mg.load reads only safetensors files and never unpickles "
        f"(unpickling can run arbitrary code); re-save the weights with mg.save or "
        f"safetensors.torch.save_file"
    )


def _header(data: bytes, name: str) -> dict:
    if len(data) < 10:
        raise _refuse(data, name)
    n = int.from_bytes(data[:8], "little")
    if n < 2 or n > len(data) - 8 or data[8:9] != b"{":
        raise _refuse(data, name)
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _refuse(data, name) from None
    except RecursionError:
        raise ValueError(f"mg.load: {name} has a header nested too deeply to read") from None
    if not isinstance(header, dict):
        raise _refuse(data, name)
    return header


def _decode(node: Any, arrays: Mapping[str, np.ndarray], name: str, depth: int = 0) -> Any:
    """The object that the JSON structure `node` describes; ValueError for anything else."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"mg.load: {name} nests its structure deeper than {_MAX_DEPTH} levels")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, name, depth + 1) for v in node]
    if not isinstance(node, dict):
        raise ValueError(f"mg.load: {name} has a corrupt structure entry {node!r:.80}")

    def corrupt(what: str) -> ValueError:
        return ValueError(f"mg.load: {name} has a corrupt {what} entry: {node!r:.80}")

    def array(key: Any) -> np.ndarray:
        if not isinstance(key, str) or key not in arrays:
            raise ValueError(f"mg.load: {name} refers to a missing tensor {key!r:.80}")
        return arrays[key]

    if "__tensor__" in node:
        arr = array(node["__tensor__"])
        if node.get("parameter"):
            return Parameter(arr, requires_grad=bool(node.get("requires_grad")))
        return Tensor(arr, requires_grad=bool(node.get("requires_grad")))
    if "__ndarray__" in node:
        return array(node["__ndarray__"])
    if "__npscalar__" in node:
        return array(node["__npscalar__"])[()]
    if "__float__" in node:
        text = node["__float__"]
        if not isinstance(text, str) or text.strip().lower() not in _NON_FINITE:
            raise corrupt("__float__")
        return float(text)
    if "__tuple__" in node:
        if not isinstance(node["__tuple__"], list):
            raise corrupt("__tuple__")
        return tuple(_decode(v, arrays, name, depth + 1) for v in node["__tuple__"])
    if "__dict__" in node:
        items = node["__dict__"]
        if not isinstance(items, list) or not all(
            isinstance(kv, list)
            and len(kv) == 2
            and isinstance(kv[0], (str, int))
            and not isinstance(kv[0], bool)
            for kv in items
        ):
            raise corrupt("__dict__")
        pairs = [(k, _decode(v, arrays, name, depth + 1)) for k, v in items]
        return OrderedDict(pairs) if node.get("ordered") else dict(pairs)
    raise ValueError(f"mg.load: {name} has a corrupt structure entry with keys {sorted(node)}")


_NON_FINITE = {"nan", "inf", "-inf", "+inf"}


def _json(text: bytes | str, what: str, name: str) -> Any:
    """Parse JSON, refusing (ValueError naming the file) anything malformed or too deep."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"mg.load: {name} has {what} nested too deeply to read") from None
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"mg.load: {name} has a corrupt {what}") from None


def load(path: Any) -> Any:
    """Read what `mg.save` wrote (same nesting, dtypes and shapes), or any safetensors file
    (e.g. from `safetensors.torch.save_file`), which loads as a dict of name -> Tensor.

    Anything else -- a pickle, `torch.save` output, a .npy/.npz file -- raises `ValueError`
    without being executed.
    """
    if hasattr(path, "read"):
        data, name = path.read(), "the file object"
    else:
        with open(os.fspath(path), "rb") as f:
            data = f.read()
        name = repr(os.fspath(path))
    header = _header(data, name)
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(entry, dict):
            raise _refuse(data, name)
        dtype = entry.get("dtype")
        if dtype not in _NUMPY_DTYPES:
            raise ValueError(
                f"mg.load: tensor {key!r} in {name} has dtype {dtype}, which NumPy "
                f"cannot represent; convert it (e.g. to float32) before saving"
            )
    st = _safetensors()
    from safetensors import SafetensorError

    try:
        raw_arrays = st.load(data)
    except (SafetensorError, KeyError, ValueError) as e:
        raise ValueError(f"mg.load: {name} is not a valid safetensors file: {e}") from None
    # own the memory (the loader may hand out read-only views of `data`)
    arrays = {
        k: (a if a.flags.writeable and a.flags.owndata else a.copy()) for k, a in raw_arrays.items()
    }
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError(f"mg.load: {name} has a corrupt '__metadata__' header entry")
    if _META_KEY in meta:
        if not isinstance(meta[_META_KEY], str):
            raise ValueError(f"mg.load: {name} has a corrupt '{_META_KEY}' metadata entry")
        structure = _json(meta[_META_KEY], f"'{_META_KEY}' metadata entry", name)
        if not isinstance(structure, dict) or "root" not in structure:
            raise ValueError(f"mg.load: {name} has a corrupt '{_META_KEY}' metadata entry")
        return _decode(structure["root"], arrays, name)
    names = [k for k in header if k != "__metadata__"]
    return OrderedDict((k, Tensor(arrays[k])) for k in names)
