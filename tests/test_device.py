"""device=: the CPU is accepted everywhere (factories, Module.to, Tensor.to's helper); any other
device is refused with a plain "no GPU"."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.device import check_device, parse_to_args, tensor_to

FACTORIES = [
    lambda device: mg.tensor([1.0], device=device),
    lambda device: mg.zeros(2, device=device),
    lambda device: mg.ones(2, 3, device=device),
    lambda device: mg.empty((2,), device=device),
    lambda device: mg.full((2,), 1.5, device=device),
    lambda device: mg.zeros_like(mg.ones(2), device=device),
    lambda device: mg.ones_like(mg.ones(2), device=device),
    lambda device: mg.full_like(mg.ones(2), 3.0, device=device),
    lambda device: mg.eye(2, device=device),
    lambda device: mg.arange(3, device=device),
    lambda device: mg.linspace(0, 1, 3, device=device),
    lambda device: mg.rand(2, device=device),
    lambda device: mg.randn(2, device=device),
    lambda device: mg.randint(5, (2,), device=device),
]


@pytest.mark.parametrize("factory", FACTORIES)
def test_factories_accept_the_cpu_and_refuse_other_devices(factory):
    for cpu in ("cpu", "cpu:0", mg.device("cpu"), None):
        assert isinstance(factory(cpu), mg.Tensor)
    for other in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match=r"CPU only \(no GPU\): device='"):
            factory(other)


def test_device_objects_and_torch_devices(torch):
    cpu = mg.device("cpu")
    assert repr(cpu) == "device(type='cpu')" and str(cpu) == "cpu"
    assert cpu == "cpu" and cpu != "cuda" and mg.device("cpu", 0) == mg.device("cpu:0")
    assert mg.device(torch.device("cpu")) == cpu
    assert mg.zeros(1, device=torch.device("cpu")).shape == (1,)
    with pytest.raises(RuntimeError, match="no GPU"):
        check_device(torch.device("cuda"))
    with pytest.raises(RuntimeError, match="no GPU"):
        mg.device("cpu", 1)
    with pytest.raises(TypeError, match="'cpu'"):
        mg.device(3)


def test_parse_to_args_reads_pytorch_overloads():
    f64 = np.dtype(np.float64)
    assert parse_to_args("cpu") == (None, False)
    assert parse_to_args(mg.float64) == (f64, False)
    assert parse_to_args("float64") == (f64, False)
    assert parse_to_args("cpu", mg.float64) == (f64, False)
    assert parse_to_args(device="cpu", dtype=mg.float64, non_blocking=True) == (f64, False)
    assert parse_to_args(mg.zeros(1, dtype=mg.float64)) == (f64, False)
    assert parse_to_args(mg.float32, copy=True) == (np.dtype(np.float32), True)
    with pytest.raises(RuntimeError, match=r"no GPU\): device='cuda'"):
        parse_to_args("cuda", mg.float64)
    with pytest.raises(RuntimeError, match="no GPU"):
        parse_to_args(device="cuda:1")
    with pytest.raises(TypeError, match="unexpected keyword"):
        parse_to_args(devices="cpu")


def test_tensor_to_helper_and_module_to():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert tensor_to(x, "cpu") is x and tensor_to(x, mg.device("cpu")) is x
    y = tensor_to(x, "cpu", dtype=mg.float64)
    assert y.dtype == np.float64
    y.sum().backward()  # the cast is differentiable
    assert x.grad.tolist() == [1.0, 1.0]
    copied = tensor_to(x, "cpu", copy=True)
    assert copied is not x and copied.tolist() == x.tolist()
    model = mg.nn.Linear(2, 1)
    assert model.to("cpu") is model and model.weight.dtype == np.float32
    model.to("cpu", mg.float64)
    assert model.weight.dtype == np.float64
    model.to(device="cpu", dtype=mg.float32)
    assert model.weight.dtype == np.float32
    with pytest.raises(RuntimeError, match="no GPU"):
        model.to("cuda")
