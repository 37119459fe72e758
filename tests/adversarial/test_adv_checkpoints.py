"""Loading checkpoints: a failed Module.load_state_dict changes nothing; mg.load refuses
malformed files with a ValueError naming the file, never running code."""

import json
import struct

import numpy as np
import pytest

import microgradnp as mg


def _model():
    mg.manual_seed(0)
    return mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.ReLU(), mg.nn.Linear(4, 2))


def _snapshot(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _assert_unchanged(model, before):
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.detach().numpy(), before[key])


def _good_state():
    return {k: np.full(v.shape, 7.0, np.float32) for k, v in _model().state_dict().items()}


BAD_STATES = {
    "shape": lambda s: {**s, "2.weight": np.zeros((3, 4), np.float32)},
    "string": lambda s: {**s, "2.bias": "not a tensor"},
    "none": lambda s: {**s, "2.bias": None},
    "ragged": lambda s: {**s, "2.bias": [[1.0], [1.0, 2.0]]},
    "object": lambda s: {**s, "2.bias": np.array([object(), object()])},
    "complex": lambda s: {**s, "2.bias": np.zeros(2, np.complex64)},
    "missing": lambda s: {k: v for k, v in s.items() if k != "2.bias"},
    "unexpected": lambda s: {**s, "3.weight": np.zeros(2, np.float32)},
    "not a mapping": lambda s: list(s.items()),
}


@pytest.mark.parametrize("what", BAD_STATES)
def test_failed_module_load_changes_nothing(what):
    model = _model()
    before = _snapshot(model)
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        model.load_state_dict(BAD_STATES[what](_good_state()))
    _assert_unchanged(model, before)


def test_read_only_parameter_is_refused_before_anything_is_copied():
    model = _model()
    model[2].weight.data.flags.writeable = False
    before = _snapshot(model)
    with pytest.raises(RuntimeError, match="2.weight is read-only"):
        model.load_state_dict(_good_state())
    _assert_unchanged(model, before)


def test_a_copy_that_fails_midway_is_rolled_back(monkeypatch):
    model, state = _model(), _good_state()
    before = _snapshot(model)
    calls = []
    original = mg.Tensor.copy_

    def failing_copy(self, src, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("simulated failure on the third copy")
        return original(self, src, *args, **kwargs)

    monkeypatch.setattr(mg.Tensor, "copy_", failing_copy)
    with pytest.raises(MemoryError):
        model.load_state_dict(state)
    monkeypatch.undo()
    assert len(calls) == 3
    _assert_unchanged(model, before)
    model.load_state_dict(state)  # and a good load still works afterwards
    assert (model[0].weight.data == 7.0).all()


def _file(tmp_path, header, body=b"", name="ckpt.safetensors"):
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    path = tmp_path / name
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return path


def _with_structure(root):
    text = root if isinstance(root, str) else json.dumps(root)
    meta = {"microgradnp": '{"version": 1, "root": ' + text + "}"}
    return {"__metadata__": meta, "t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


def _nested(depth, opening, closing):
    """JSON text nested `depth` deep (json.dumps itself would hit the recursion limit)."""
    return opening * depth + "1" + closing * depth


MALFORMED = {
    "list nested 5000 deep": _with_structure(_nested(5000, "[", "]")),
    "list nested 300 deep": _with_structure(_nested(300, "[", "]")),
    "tuple nested 5000 deep": _with_structure(_nested(5000, '{"__tuple__": [', "]}")),
    "dict nested 5000 deep": _with_structure(_nested(5000, '{"__dict__": [["k", ', "]]}")),
    "tuple of an int": _with_structure({"__tuple__": 5}),
    "tuple of a string": _with_structure({"__tuple__": "abc"}),
    "float of a list": _with_structure({"__float__": [1]}),
    "float of garbage": _with_structure({"__float__": "abc"}),
    "float of a number": _with_structure({"__float__": 1.5}),
    "dict of an int": _with_structure({"__dict__": 3}),
    "dict with a triple": _with_structure({"__dict__": [["a", 1, 2]]}),
    "dict with a list key": _with_structure({"__dict__": [[[1], 2]]}),
    "dict with a null key": _with_structure({"__dict__": [[None, 2]]}),
    "dict of strings": _with_structure({"__dict__": ["ab"]}),
    "missing tensor": _with_structure({"__tensor__": "nope"}),
    "tensor key a list": _with_structure({"__tensor__": ["t"]}),
    "unknown node": _with_structure({"__code__": "print(1)"}),
    "root missing": {"__metadata__": {"microgradnp": json.dumps({"version": 1})}},
    "metadata not json": {"__metadata__": {"microgradnp": "{not json"}},
    "metadata not a dict": {"__metadata__": ["x"]},
    "metadata value not a string": {"__metadata__": {"microgradnp": 5}},
    "wrong dtype string": {"t": {"dtype": "F13", "shape": [2], "data_offsets": [0, 8]}},
    "dtype not a string": {"t": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}},
    "bfloat16": {"t": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}},
    "shape larger than bytes": {"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},
    "huge shape": {"t": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}},
    "negative shape": {"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}},
    "offsets past the end": {"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 800]}},
    "offsets reversed": {"t": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}},
    "overlapping tensors": {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    },
    "entry not a dict": {"t": [1, 2]},
    "header a list": [1, 2, 3],
    "header nested 5000 deep": _nested(5000, '{"a": ', "}").encode(),
}


@pytest.mark.parametrize("what", MALFORMED)
def test_malformed_checkpoint_is_refused_naming_the_file(tmp_path, what):
    path = _file(tmp_path, MALFORMED[what], body=np.ones(2, np.float32).tobytes())
    with pytest.raises(ValueError, match="ckpt.safetensors"):
        mg.load(path)


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x00" * 7, struct.pack("<Q", 2**60) + b"{}", struct.pack("<Q", 5) + b'{"a":'],
    ids=["empty", "short", "huge header length", "truncated header"],
)
def test_truncated_files_are_refused(tmp_path, blob):
    path = tmp_path / "ckpt.safetensors"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match="ckpt.safetensors"):
        mg.load(path)


def test_a_checkpoint_cut_short_is_refused(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.ones(10, 10), "step": 3}, path)
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) - 200, 20):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="ckpt.safetensors"):
            mg.load(path)


def test_a_checkpoint_round_trips_nested_and_non_finite_values(tmp_path):
    path = tmp_path / "ok.safetensors"
    obj = {"a": (1.5, float("nan"), float("-inf")), "b": [{"c": mg.ones(2)}], 3: None}
    mg.save(obj, path)
    back = mg.load(path)
    assert back["a"][0] == 1.5 and np.isnan(back["a"][1]) and back["a"][2] == -np.inf
    assert back["b"][0]["c"].tolist() == [1.0, 1.0] and back[3] is None


def test_save_refuses_what_load_would_refuse(tmp_path):
    deep = 1
    for _ in range(300):
        deep = [deep]
    with pytest.raises(ValueError, match="deeper than 200"):
        mg.save(deep, tmp_path / "deep.safetensors")
    assert not (tmp_path / "deep.safetensors").exists()


class _Payload:
    """Unpickling this would create the marker file: mg.load must never do it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_files_that_would_run_code_are_refused_unexecuted(tmp_path):
    import pickle
    import zipfile

    marker = tmp_path / "ran"
    pickled = tmp_path / "evil.safetensors"
    pickled.write_bytes(pickle.dumps(_Payload(str(marker))))
    npy = tmp_path / "evil.npy"
    np.save(npy, np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
    zipped = tmp_path / "evil.pt"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(_Payload(str(marker))))
    for path, kind in ((pickled, "pickle"), (npy, "NumPy"), (zipped, "zip")):
        with pytest.raises(ValueError, match=kind):
            mg.load(path)
    assert not marker.exists()
