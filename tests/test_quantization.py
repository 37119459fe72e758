"""`mg.quantization`: integer arithmetic, PyTorch's quantization formulas, accuracy and size."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.quantization import (
    MinMaxObserver,
    PercentileObserver,
    QuantizedConv2d,
    QuantizedLinear,
    convert,
    prepare,
    quantize_dynamic,
)
from microgradnp.quantization.qfunctional import choose_qparams, quantize_activation

# PyTorch deprecates its quantized tensors; they remain the reference for the formulas here
pytestmark = pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")


def _needs_quantized_tensors(torch):
    if not hasattr(torch, "quantize_per_channel"):  # deprecated by PyTorch, may go
        pytest.skip("this PyTorch has no quantized tensors")


def test_weight_codes_match_torch_per_channel(torch):
    _needs_quantized_tensors(torch)
    w = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    q = QuantizedLinear.from_float(_linear_with(w))
    scale = q.weight_scale.numpy()
    np.testing.assert_allclose(scale, np.abs(w).max(axis=1) / 127, rtol=1e-6)
    tq = torch.quantize_per_channel(
        torch.from_numpy(w), torch.from_numpy(scale.astype(np.float64)),
        torch.zeros(6, dtype=torch.long), 0, torch.qint8,
    )  # fmt: skip
    np.testing.assert_array_equal(q.weight.numpy(), tq.int_repr().numpy())
    assert np.abs(q.weight.numpy()).max(axis=1).tolist() == [127] * 6  # symmetric, full range


def _linear_with(w, b=None):
    lin = mg.nn.Linear(w.shape[1], w.shape[0])
    lin.weight.data[...] = w
    lin.bias.data[...] = 0.0 if b is None else b
    return lin


def test_activation_qparams_match_torch_minmax_observer(torch):
    _needs_quantized_tensors(torch)
    TorchMinMax = pytest.importorskip("torch.ao.quantization").MinMaxObserver

    rng = np.random.default_rng(1)
    for lo, hi in [(-1.3, 2.7), (0.2, 5.0), (-4.0, -0.5), (-0.0, 1e-3)]:
        x = rng.uniform(lo, hi, size=200).astype(np.float32)
        obs, tobs = MinMaxObserver(), TorchMinMax(dtype=torch.quint8)
        obs(mg.tensor(x))
        tobs(torch.from_numpy(x))
        scale, zp = obs.calculate_qparams()
        tscale, tzp = tobs.calculate_qparams()
        assert scale == pytest.approx(float(tscale), rel=1e-6) and zp == int(tzp)
        tq = torch.quantize_per_tensor(torch.from_numpy(x), scale, zp, torch.quint8)
        np.testing.assert_array_equal(quantize_activation(x, scale, zp), tq.int_repr().numpy())


def test_linear_accumulates_in_int32_exactly():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((7, 300)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    x = rng.standard_normal((5, 300)).astype(np.float32)
    q = QuantizedLinear.from_float(_linear_with(w, b))
    scale, zp = choose_qparams(x.min(), x.max())
    codes = quantize_activation(x, scale, zp).astype(np.int32) - zp
    acc = codes @ q.weight.numpy().astype(np.int32).T  # the reference int32 accumulation
    expected = acc.astype(np.float32) * (np.float32(scale) * q.weight_scale.numpy()) + b
    np.testing.assert_array_equal(q(mg.tensor(x)).numpy(), expected)
    ref = x @ w.T + b
    np.testing.assert_allclose(q(mg.tensor(x)).numpy(), ref, atol=0.02 * np.abs(ref).max())


def test_long_reductions_switch_to_float64_and_stay_exact():
    rng = np.random.default_rng(3)
    x = np.abs(rng.standard_normal((2, 2000))).astype(np.float32)
    x[:, :1000] = 10.0  # many large codes of one sign: sums above 2**24
    q = QuantizedLinear.from_float(_linear_with(rng.uniform(0.9, 1.0, (3, 2000))))
    scale, zp = choose_qparams(x.min(), x.max())
    codes = quantize_activation(x, scale, zp).astype(np.int64) - zp
    acc = codes @ q.weight.numpy().astype(np.int64).T
    assert acc.max() > 2**24
    got = q(mg.tensor(x)).numpy()
    np.testing.assert_array_equal(got, acc.astype(np.float32) * (scale * q.weight_scale.numpy()))


@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": 1}, {"groups": 2, "dilation": 2}])
def test_conv2d_accumulates_in_int32_exactly(kwargs):
    conv = mg.nn.Conv2d(4, 6, 3, **kwargs)
    x = mg.randn(2, 4, 9, 9)
    q = QuantizedConv2d.from_float(conv)
    a = x.numpy()
    scale, zp = choose_qparams(a.min(), a.max())
    codes = quantize_activation(a, scale, zp).astype(np.float64) - zp
    with mg.no_grad():  # a float64 convolution of integer codes is exact
        acc = mg.nn.functional.conv2d(
            mg.tensor(codes), mg.tensor(q.weight.numpy().astype(np.float64)), None,
            conv.stride, conv.padding, conv.dilation, conv.groups,
        ).numpy()  # fmt: skip
    expected = acc.astype(np.float32) * (np.float32(scale) * q.weight_scale.numpy()[:, None, None])
    expected += conv.bias.detach().numpy()[:, None, None]
    np.testing.assert_array_equal(q(x).numpy(), expected)
    with mg.no_grad():
        ref = conv(x).numpy()
    assert np.abs(q(x).numpy() - ref).max() < 0.05 * np.abs(ref).max()


@pytest.fixture(scope="module")
def digits_mlp():
    """An MLP trained for a few epochs on the digits, with its held-out split."""
    X, y = mg.datasets.load_digits()
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    tr, te = order[:1400], order[1400:]
    mg.manual_seed(0)
    net = mg.nn.Sequential(mg.nn.Linear(64, 128), mg.nn.ReLU(), mg.nn.Linear(128, 10))
    opt = mg.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(15):
        for i in range(0, 1400, 100):
            idx = tr[i : i + 100]
            opt.zero_grad()
            mg.nn.functional.cross_entropy(net(mg.tensor(X[idx])), mg.tensor(y[idx])).backward()
            opt.step()
    return net, X[tr], X[te], y[te]


def _accuracy(model, X, y):
    with mg.no_grad():
        return float((model(mg.tensor(X)).numpy().argmax(1) == y).mean())


def test_quantized_mlp_accuracy_within_one_point(digits_mlp):
    net, X_train, X_test, y_test = digits_mlp
    float_acc = _accuracy(net, X_test, y_test)
    assert float_acc > 0.93
    dyn = quantize_dynamic(net, {mg.nn.Linear}, dtype="int8")
    assert _accuracy(dyn, X_test, y_test) >= float_acc - 0.01
    for observer in (MinMaxObserver, lambda: PercentileObserver(99.99)):
        prepared = prepare(net, observer=observer)
        for i in range(0, 400, 100):
            prepared(mg.tensor(X_train[i : i + 100]))
        static = convert(prepared)
        assert _accuracy(static, X_test, y_test) >= float_acc - 0.01
    assert isinstance(net[0], mg.nn.Linear) and not hasattr(net[0], "input_observer")


def test_quantized_cnn_accuracy_within_one_point():
    X, y = mg.datasets.load_digits()
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    mg.manual_seed(1)
    net = mg.nn.Sequential(
        mg.nn.Conv2d(1, 8, 3, padding=1), mg.nn.ReLU(), mg.nn.MaxPool2d(2),
        mg.nn.Flatten(), mg.nn.Linear(128, 10),
    )  # fmt: skip
    opt = mg.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(10):
        for i in range(0, 1400, 100):
            opt.zero_grad()
            out = net(mg.tensor(X[i : i + 100]))
            mg.nn.functional.cross_entropy(out, mg.tensor(y[i : i + 100])).backward()
            opt.step()
    float_acc = _accuracy(net, X[1400:], y[1400:])
    assert float_acc > 0.85
    dyn = quantize_dynamic(net, {mg.nn.Linear, mg.nn.Conv2d})
    assert isinstance(dyn[0], QuantizedConv2d) and isinstance(dyn[4], QuantizedLinear)
    assert _accuracy(dyn, X[1400:], y[1400:]) >= float_acc - 0.01
    prepared = prepare(net)
    prepared(mg.tensor(X[:300]))
    assert _accuracy(convert(prepared), X[1400:], y[1400:]) >= float_acc - 0.01


def test_state_dict_saves_int8_and_is_four_times_smaller(tmp_path):
    net = mg.nn.Sequential(mg.nn.Linear(784, 256), mg.nn.ReLU(), mg.nn.Linear(256, 10))
    q = quantize_dynamic(net, {mg.nn.Linear}, dtype="int8")
    sd = q.state_dict()
    assert list(sd) == [f"{i}.{k}" for i in (0, 2) for k in ("weight", "weight_scale", "bias")]
    assert sd["0.weight"].dtype == np.int8 and sd["0.weight_scale"].dtype == np.float32
    mg.save(net.state_dict(), tmp_path / "float.safetensors")
    mg.save(sd, tmp_path / "int8.safetensors")
    ratio = (tmp_path / "float.safetensors").stat().st_size / (
        tmp_path / "int8.safetensors"
    ).stat().st_size
    assert 3.8 < ratio < 4.0
    fresh = quantize_dynamic(
        mg.nn.Sequential(mg.nn.Linear(784, 256), mg.nn.ReLU(), mg.nn.Linear(256, 10))
    )
    fresh.load_state_dict(mg.load(tmp_path / "int8.safetensors"))
    x = mg.randn(3, 784)
    np.testing.assert_array_equal(fresh(x).numpy(), q(x).numpy())


def test_static_state_dict_round_trip(tmp_path):
    prepared = prepare(mg.nn.Sequential(mg.nn.Linear(5, 4), mg.nn.ReLU()))
    prepared(mg.randn(20, 5))
    assert list(prepared.state_dict()) == [
        "0.weight", "0.bias", "0.input_observer.min_val", "0.input_observer.max_val",
        "0.output_observer.min_val", "0.output_observer.max_val",
    ]  # fmt: skip
    static = convert(prepared)
    mg.save(static.state_dict(), tmp_path / "s.safetensors")
    other = convert(prepare(mg.nn.Sequential(mg.nn.Linear(5, 4), mg.nn.ReLU())).apply(_observe))
    other.load_state_dict(mg.load(tmp_path / "s.safetensors"))
    x = mg.randn(3, 5)
    np.testing.assert_array_equal(other(x).numpy(), static(x).numpy())


def _observe(m):
    if isinstance(m, MinMaxObserver):
        m(mg.zeros(1))


def test_percentile_observer_ignores_outliers():
    x = np.r_[np.random.default_rng(4).uniform(-1, 1, 10_000), 1000.0].astype(np.float32)
    mm, pc = MinMaxObserver(), PercentileObserver(99.9)
    mm(mg.tensor(x))
    pc(mg.tensor(x))
    assert mm.calculate_qparams()[0] > 3.9  # one outlier stretches the grid
    assert pc.calculate_qparams()[0] < 0.01
    pc(mg.tensor(x * 3))  # running mean over batches
    assert pc.max_val.item() == pytest.approx(2 * np.percentile(x, 99.9), rel=1e-5)


def test_bad_arguments():
    net = mg.nn.Sequential(mg.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="only dtype='int8'"):
        quantize_dynamic(net, dtype="float16")
    with pytest.raises(ValueError, match="cannot quantize 'ReLU'"):
        quantize_dynamic(net, {mg.nn.ReLU})
    with pytest.raises(ValueError, match="call prepare"):
        convert(net)
    with pytest.raises(ValueError, match="was the observer run"):
        convert(prepare(net))
    with pytest.raises(RuntimeError, match="dynamic"):
        quantize_dynamic(net)[0].set_activation_qparams((1.0, 0), (1.0, 0))
    with pytest.raises(ValueError, match="padding_mode='zeros' only"):
        QuantizedConv2d.from_float(mg.nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"))
    with pytest.raises(ValueError, match="in_features=2"):
        quantize_dynamic(net)(mg.randn(3, 5))
    with pytest.raises(ValueError, match="percentile"):
        PercentileObserver(20)


def test_layers_inside_custom_modules_are_replaced():
    class Net(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mg.nn.Sequential(mg.nn.Conv2d(1, 2, 3), mg.nn.ReLU())
            self.head = mg.nn.Linear(2 * 4 * 4, 3)

        def forward(self, x):
            return self.head(self.body(x).flatten(1))

    net = Net()
    q = quantize_dynamic(net, {mg.nn.Linear, mg.nn.Conv2d})
    assert isinstance(q.body[0], QuantizedConv2d) and isinstance(q.head, QuantizedLinear)
    assert isinstance(net.head, mg.nn.Linear)  # the original is untouched
    x = mg.randn(2, 1, 6, 6)
    with mg.no_grad():
        ref = net(x).numpy()
    assert np.abs(q(x).numpy() - ref).max() < 0.05 * np.abs(ref).max() + 1e-3
