"""Drive the op table: forward vs NumPy, gradcheck, gradgradcheck and PyTorch, per sample."""

from __future__ import annotations

import numpy as np
import pytest
from opinfo import OP_DB, OpInfo, Sample

import microgradnp as mg
from microgradnp.grad_mode import context
from microgradnp.graph import Node
from microgradnp.primitive import Primitive

try:
    import torch  # arrays are float64, so are the torch tensors made from them
except ImportError:  # the PyTorch comparisons are skipped
    torch = None


def _is_diff(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype == np.float64


def _convert(args, make):
    """Replace every float64 array (also inside lists) by make(array); collect them."""
    leaves = []

    def conv(a):
        if _is_diff(a):
            t = make(a)
            leaves.append(t)
            return t
        if isinstance(a, list):
            return [conv(x) for x in a]
        return a

    return [conv(a) for a in args], leaves


def _rebuild(args, tensors):
    it = iter(tensors)

    def put(a):
        if _is_diff(a):
            return next(it)
        if isinstance(a, list):
            return [put(x) for x in a]
        return a

    return [put(a) for a in args]


def _cases():
    for info in OP_DB:
        for i, sample in enumerate(info.samples(np.random.default_rng(0))):
            yield pytest.param(info, sample, id=f"{info.name}-{i}")


CASES = list(_cases())


@pytest.mark.parametrize("info,sample", CASES)
def test_forward_matches_numpy(info: OpInfo, sample: Sample):
    args, _ = _convert(sample.args, lambda a: mg.tensor(a, requires_grad=True))
    out = info.op(*args, **sample.kwargs)
    ref = info.ref(*sample.args, **sample.kwargs)
    assert out.shape == np.shape(ref)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("info,sample", CASES)
def test_gradcheck(info: OpInfo, sample: Sample):
    _, leaves = _convert(sample.args, lambda a: mg.tensor(a, requires_grad=True))

    def fn(*tensors):
        return info.op(*_rebuild(sample.args, tensors), **sample.kwargs)

    assert mg.gradcheck(fn, leaves, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("info,sample", [c for c in CASES if c.values[0].gradgrad])
def test_gradgradcheck(info: OpInfo, sample: Sample):
    _, leaves = _convert(sample.args, lambda a: mg.tensor(a, requires_grad=True))

    def fn(*tensors):
        return info.op(*_rebuild(sample.args, tensors), **sample.kwargs)

    assert mg.gradgradcheck(fn, leaves, atol=1e-6, rtol=1e-5)


def _to_torch(a):
    if _is_diff(a):
        return torch.tensor(a, requires_grad=True)
    if isinstance(a, np.ndarray):
        return torch.as_tensor(a)
    if isinstance(a, list):
        return [_to_torch(x) for x in a]
    return a


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("info,sample", [c for c in CASES if c.values[0].torch is not None])
def test_against_torch(info: OpInfo, sample: Sample):
    args, leaves = _convert(sample.args, lambda a: mg.tensor(a, requires_grad=True))
    out = info.op(*args, **sample.kwargs)
    targs, tleaves = _convert(sample.args, lambda a: torch.tensor(a, requires_grad=True))
    targs = [_to_torch(a) if not isinstance(a, torch.Tensor) else a for a in targs]
    tout = info.torch(*targs, **sample.kwargs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    u = np.random.default_rng(1).standard_normal(out.shape)
    (out * mg.tensor(u)).sum().backward()
    (tout * torch.tensor(u)).sum().backward()
    for ours, theirs in zip(leaves, tleaves, strict=True):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_every_primitive_has_a_table_entry():
    covered = {name for info in OP_DB for name in info.covers()}
    missing = set(Primitive.registry) - covered
    assert not missing, f"primitives without an OpInfo entry in tests/opinfo.py: {missing}"


@pytest.mark.parametrize("info", OP_DB, ids=[info.name for info in OP_DB])
def test_float32_gradients_stay_float32(info: OpInfo):
    sample = next(iter(info.samples(np.random.default_rng(0))))
    args, leaves = _convert(
        sample.args, lambda a: mg.tensor(a.astype(np.float32), requires_grad=True)
    )
    out = info.op(*args, **sample.kwargs)
    out.sum().backward()
    for t in leaves:
        assert t.grad.dtype == np.float32, info.name


def _nodes(root):
    """Every node behind `root`, each once."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(p for p in node.parents if type(p) is Node)


def _has_fast(info: OpInfo) -> bool:
    return any(
        Primitive.registry[n].fast is not None for n in info.covers() if n in Primitive.registry
    )


@pytest.mark.parametrize("info,sample", [c for c in CASES if _has_fast(c.values[0])])
def test_fast_vjp_equals_plain_vjp(info: OpInfo, sample: Sample):
    """An op's NumPy-only fast VJP and its plain (dual-mode) VJP give the same gradients."""
    args, _ = _convert(sample.args, lambda a: mg.tensor(a, requires_grad=True))
    out = info.op(*args, **sample.kwargs)
    rng = np.random.default_rng(1)
    checked = 0
    context().in_backward = True  # as in a fast backward pass: primitives of arrays give arrays
    try:
        for node in _nodes(out._node):
            prim = node.prim
            if prim.fast is None:
                continue
            g = np.asarray(rng.standard_normal(node.shape))
            data = node.data or node.parents
            fast = prim.fast(g, node.out, node.needs, node.res, *data, **node.params)
            plain = prim.vjp(g, node.out, node.needs, *data, **node.params)
            for a, b in zip(fast, plain, strict=True):
                assert (a is None) == (b is None)
                if a is not None:
                    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
            checked += 1
    finally:
        context().in_backward = False
    assert checked


def test_every_fast_vjp_is_checked():
    fast = {name for name, prim in Primitive.registry.items() if prim.fast is not None}
    covered = {n for info in OP_DB if _has_fast(info) for n in info.covers()}
    assert fast <= covered, f"fast VJPs without an op-table entry: {fast - covered}"


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int32, np.bool_])
def test_sum_and_sum_to_equal_numpy_sum(dtype):
    # the forwards reduce with np.add.reduce (np.sum without its wrapper): same dtype, same bits
    from microgradnp.ops.shape import sum_to

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 4, 5)) * 10).astype(dtype)
    for axis in (None, 0, -1, (0, 2)):
        for keepdim in (False, True):
            got = mg.sum(mg.from_numpy(x), dim=axis, keepdim=keepdim).data
            want = np.sum(x, axis=axis, keepdims=keepdim)
            assert got.dtype == want.dtype and np.array_equal(got, want)
    for shape in ((4, 5), (1, 5), (3, 1, 1), (5,)):
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1
        )
        want = np.sum(x, axis=axes, keepdims=True)
        got = sum_to(mg.from_numpy(x), shape).data
        assert got.dtype == want.dtype and np.array_equal(got, want.reshape(shape))
