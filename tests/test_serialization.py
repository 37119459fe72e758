"""Checkpoints: exact round trips (dtypes, shapes, nesting), optimizer resume, PyTorch
safetensors files in both directions, and refusal of pickles and other formats without
running them."""

from __future__ import annotations

import io
import os
import pickle
import sys
from collections import OrderedDict

import numpy as np
import pytest

import microgradnp as mg
import microgradnp.nn as nn
from microgradnp.serialization import load, save

pytest.importorskip("safetensors")


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3))


def test_model_state_dict_round_trip(tmp_path):
    model = _mlp()
    path = tmp_path / "model.safetensors"
    save(model.state_dict(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temp file left
    loaded = load(path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(model.state_dict())
    assert all(type(v) is mg.Tensor and v.dtype == np.float32 for v in loaded.values())
    fresh = _mlp()
    fresh.load_state_dict(loaded)
    x = mg.randn(5, 4)
    np.testing.assert_array_equal(fresh(x).data, model(x).data)
    loaded["0.weight"].data[0, 0] = 42.0  # loaded arrays are owned and writable
    assert model[0].weight.data[0, 0] != 42.0


DTYPES = [
    np.bool_,
    np.uint8,
    np.int8,
    np.uint16,
    np.int16,
    np.uint32,
    np.int32,
    np.uint64,
    np.int64,
    np.float16,
    np.float32,
    np.float64,
]


def test_nested_structure_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {np.dtype(d).name: (rng.standard_normal((2, 3)) * 50).astype(d) for d in DTYPES}
    obj = {
        "state": {
            0: {"step": 3, "exp_avg": mg.tensor(rng.standard_normal((2, 2)))},
            1: {"step": mg.tensor(2.0), "buf": None},
        },
        "param_groups": [
            {
                "lr": 1e-3,
                "betas": (0.9, 0.999),
                "nesterov": False,
                "params": [0, 1],
                "name": "dense",
                "nan": float("nan"),
                "inf": -float("inf"),
            }
        ],
        "arrays": arrays,
        "scalar": np.float32(1.5),
        "zero_d": np.array(7, dtype=np.int16),
        "empty": np.zeros((0, 4), np.float32),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2],
        "param": nn.Parameter(mg.ones(2)),
        "frozen": nn.Parameter(mg.ones(1), requires_grad=False),
        "big": 2**70,
    }
    save(obj, tmp_path / "ckpt.safetensors")
    out = load(tmp_path / "ckpt.safetensors")
    assert list(out) == list(obj)
    assert out["state"][0]["step"] == 3 and list(out["state"]) == [0, 1]  # int keys stay int
    np.testing.assert_array_equal(out["state"][0]["exp_avg"].data, obj["state"][0]["exp_avg"].data)
    assert out["state"][1]["step"].shape == () and out["state"][1]["buf"] is None
    group = out["param_groups"][0]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert group["lr"] == 1e-3 and group["nesterov"] is False and group["name"] == "dense"
    assert np.isnan(group["nan"]) and group["inf"] == -np.inf
    for name, arr in arrays.items():
        assert out["arrays"][name].dtype == arr.dtype
        np.testing.assert_array_equal(out["arrays"][name], arr)
    assert type(out["scalar"]) is np.float32 and out["scalar"] == 1.5
    assert out["zero_d"].shape == () and out["zero_d"].dtype == np.int16
    assert out["empty"].shape == (0, 4)
    np.testing.assert_array_equal(out["strided"], obj["strided"])
    assert type(out["param"]) is nn.Parameter and out["param"].requires_grad
    assert not out["frozen"].requires_grad
    assert out["big"] == 2**70


def test_file_objects_work():
    buf = io.BytesIO()
    save({"w": mg.ones(2)}, buf)
    buf.seek(0)
    assert load(buf)["w"].tolist() == [1.0, 1.0]


def test_optimizer_resume_from_checkpoint_is_bit_identical(tmp_path):
    optim = pytest.importorskip("microgradnp.optim")
    rng = np.random.default_rng(0)
    X, y = mg.tensor(rng.standard_normal((16, 4))), mg.tensor(rng.integers(0, 3, 16))

    def steps(model, opt, n):
        for _ in range(n):
            opt.zero_grad()
            nn.functional.cross_entropy(model(X), y).backward()
            opt.step()

    mg.manual_seed(0)
    model = _mlp().double()
    opt = optim.Adam(model.parameters(), lr=0.05, amsgrad=True)
    steps(model, opt, 3)
    save(
        {"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3},
        tmp_path / "resume.safetensors",
    )
    steps(model, opt, 4)
    ckpt = load(tmp_path / "resume.safetensors")
    resumed = _mlp().double()
    resumed.load_state_dict(ckpt["model"])
    resumed_opt = optim.Adam(resumed.parameters(), lr=0.05, amsgrad=True)
    resumed_opt.load_state_dict(ckpt["optim"])
    steps(resumed, resumed_opt, 4)
    assert ckpt["epoch"] == 3
    for a, b in zip(model.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_pytorch_safetensors_files_both_ways(tmp_path, torch):
    st_torch = pytest.importorskip("safetensors.torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Sigmoid(), torch.nn.Linear(8, 3))
    st_torch.save_file(theirs.state_dict(), str(tmp_path / "torch.safetensors"))
    ours = _mlp()
    ours.load_state_dict(load(tmp_path / "torch.safetensors"))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(
        ours(mg.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6
    )
    # and back: a fresh torch model from our file
    ours = _mlp()
    save(ours.state_dict(), tmp_path / "ours.safetensors")
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Sigmoid(), torch.nn.Linear(8, 3))
    fresh.load_state_dict(st_torch.load_file(str(tmp_path / "ours.safetensors")))
    np.testing.assert_allclose(
        fresh(torch.tensor(x)).detach().numpy(), ours(mg.tensor(x)).data, rtol=1e-6, atol=1e-6
    )
    st_torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(tmp_path / "bf16"))
    with pytest.raises(ValueError, match="dtype BF16, which NumPy cannot represent"):
        load(tmp_path / "bf16")


class _Exploit:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickles_are_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    for protocol in (2, 4, 5):
        bad = tmp_path / f"model{protocol}.safetensors"
        bad.write_bytes(pickle.dumps({"weight": _Exploit(str(marker))}, protocol=protocol))
        with pytest.raises(ValueError, match="is a pickle file.*never unpickles"):
            load(bad)
        with pytest.raises(ValueError, match="pickle"):
            load(io.BytesIO(bad.read_bytes()))
    old = tmp_path / "old.pkl"
    old.write_bytes(pickle.dumps(_Exploit(str(marker)), protocol=0))
    with pytest.raises(ValueError, match="not a safetensors file"):
        load(old)
    assert not marker.exists()


def test_numpy_files_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    np.save(
        tmp_path / "obj.npy", np.array([_Exploit(str(marker))], dtype=object), allow_pickle=True
    )
    with pytest.raises(ValueError, match="NumPy .npy file"):
        load(tmp_path / "obj.npy")
    np.savez(tmp_path / "arrs.npz", a=np.array([_Exploit(str(marker))], dtype=object))
    with pytest.raises(ValueError, match="zip archive"):
        load(tmp_path / "arrs.npz")
    assert not marker.exists()


def test_torch_save_checkpoints_are_refused(tmp_path, torch):
    marker = tmp_path / "pwned"
    torch.save({"w": torch.ones(2), "evil": _Exploit(str(marker))}, tmp_path / "model.pt")
    assert not marker.exists()
    with pytest.raises(ValueError, match="zip archive.*torch.save"):
        load(tmp_path / "model.pt")
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"hello world, not a checkpoint",
        (10**6).to_bytes(8, "little") + b'{"a": 1}',
        (8).to_bytes(8, "little") + b'["list"]',
        (12).to_bytes(8, "little") + b'{"a": {"dtype": "F32", ',
    ],
)
def test_garbage_is_refused(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="mg.load"):
        load(path)


def test_corrupt_structure_and_truncated_data_are_refused(tmp_path):
    path = tmp_path / "x.safetensors"
    save({"w": mg.ones(3)}, path)
    data = path.read_bytes()
    (tmp_path / "cut").write_bytes(data[:-4])
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load(tmp_path / "cut")
    import safetensors.numpy as st

    forged = st.save(
        {"w": np.ones(1)},
        metadata={"microgradnp": '{"version": 1, "root": {"__tensor__": "nope"}}'},
    )
    with pytest.raises(ValueError, match="missing tensor 'nope'"):
        load(io.BytesIO(forged))


def test_unsupported_objects_are_refused_on_save(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=r"type Sequential.*save model.state_dict\(\)"):
        save(_mlp(), path)
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        save({(1, 2): mg.ones(1)}, path)
    with pytest.raises(TypeError, match="dtype object at a.0"):
        save({"a": [np.array([object()])]}, path)
    with pytest.raises(TypeError, match="type set"):
        save({"s": {1, 2}}, path)
    assert not path.exists()


def test_missing_safetensors_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r"microgradnp\[io\]"):
        save({"w": mg.ones(1)}, tmp_path / "x")
    assert not os.path.exists(tmp_path / "x")
