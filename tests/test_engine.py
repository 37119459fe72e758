"""The backward engine: traversal, accumulation, retain_graph, no_grad, hooks, anomaly mode."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import microgradnp as mg


def test_reuse_of_non_leaf_nodes():
    # a = 1, b = a + a, c = b + b  =>  dc/da = 4 (micrograd's classic bug case)
    a = mg.tensor(1.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_node_used_many_times_accumulates():
    x = mg.tensor([2.0, 3.0], requires_grad=True)
    y = x * x * x + x * 2  # d/dx = 3x^2 + 2
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [14.0, 29.0])


def test_leaves_accumulate_across_backward_calls():
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 6.0])


def test_shared_gradient_array_is_not_aliased_between_leaves():
    # add's VJP hands the same array to both inputs: each .grad must own its memory
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data *= 10
    np.testing.assert_allclose(b.grad.data, [1.0, 1.0])


def test_long_chain_backward_uses_no_recursion():
    # A recursion limit far below the chain's length proves the walk is iterative; the
    # million-node chain is a benchmark workload (`python -m benchmarks --only chain`).
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        y.backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.grad.item() == 1.0
    assert y.item() == 10_001.0


def test_backward_twice_through_freed_graph_raises():
    x = mg.tensor([1.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 4 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_non_scalar_backward_needs_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(mg.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, 20.0])


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


def test_no_grad_records_nothing():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2 + 1
        assert not mg.is_grad_enabled()
        with mg.enable_grad():
            z = x * 2
    assert mg.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None

    @mg.no_grad()
    def f(t):
        return t * 2

    assert f(x).grad_fn is None and mg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = mg.tensor([2.0], requires_grad=True)
    y = x * x
    z = y.detach() * x  # d/dx = y (constant) = 4
    z.sum().backward()
    assert x.grad.item() == 4.0
    assert y.detach().data is y.data


def test_retain_grad_on_intermediate():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.data, [6.0, 12.0])
    np.testing.assert_allclose(x.grad.data, [18.0, 36.0])


def test_hook_can_replace_gradient_and_be_removed():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    seen = []
    remove = y.register_hook(lambda g: seen.append(g.tolist()) or g * 10)
    y.sum().backward()
    assert seen == [[1.0, 1.0]]
    np.testing.assert_allclose(x.grad.data, [20.0, 20.0])
    remove()
    x.grad = None
    y = x * 2
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


def test_hook_on_leaf():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 0.5)
    (x * 4).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


def test_grad_returns_without_touching_dot_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    (gx,) = mg.grad((x * w).sum(), x)
    np.testing.assert_allclose(gx.data, [3.0, 4.0])
    assert x.grad is None and w.grad is None


def test_grad_allow_unused():
    x = mg.tensor([1.0], requires_grad=True)
    z = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="not used"):
        mg.grad((x * 2).sum(), [x, z])
    gx, gz = mg.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and gx.item() == 2.0


def test_grad_of_intermediate_tensor():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    (gh,) = mg.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.data, [4.0, 8.0])


def test_inplace_change_of_saved_tensor_raises_naming_op():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    with mg.no_grad():
        w.mul_(2)  # as an optimizer step between forward and backward would
    with pytest.raises(RuntimeError, match="MulBackward.*inplace|inplace.*MulBackward"):
        y.backward()


def test_inplace_on_leaf_requiring_grad_is_refused():
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1.0)
    with mg.no_grad():
        x.add_(1.0)
    assert x.item() == 2.0


def test_inplace_on_non_leaf_is_recorded():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.add_(1.0)
    y.mul_(x)  # y = (2x + 1) * x  => dy/dx = 4x + 1
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [5.0, 9.0])


def test_setitem_is_differentiable():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = mg.tensor(5.0, requires_grad=True)
    y = x * 1.0
    y[1] = v * 2
    (y * mg.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 0.0, 100.0])
    assert v.grad.item() == 20.0


def test_repeated_indices_accumulate():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 0.0, 1.0])


def test_boolean_mask_indexing():
    x = mg.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    (x[x > 0] ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 4.0, 0.0, 8.0])


def test_max_splits_gradient_between_ties():
    x = mg.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.5, 0.5, 0.0])
    y = mg.tensor([[2.0, 2.0], [1.0, 0.0]], requires_grad=True)
    values, indices = y.max(dim=1)
    values.sum().backward()
    # max(dim) sends the gradient to the returned (first) index, as PyTorch does
    np.testing.assert_allclose(y.grad.data, [[1.0, 0.0], [1.0, 0.0]])
    assert indices.tolist() == [0, 0]
    z = mg.tensor([1.0, 1.0], requires_grad=True)
    z.min().backward()
    np.testing.assert_allclose(z.grad.data, [0.5, 0.5])
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([1.0, 0.0], requires_grad=True)
    mg.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [0.5, 1.0])
    np.testing.assert_allclose(b.grad.data, [0.5, 0.0])


def test_detect_anomaly_names_the_op():
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with mg.detect_anomaly():
        y = mg.sqrt(x)  # d sqrt at 0 = inf
        with pytest.raises(RuntimeError, match="SqrtBackward") as info:
            y.sum().backward()
    assert "test_engine.py" in str(info.value)  # where it was created


def test_custom_function():
    class Square(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x

    x = mg.tensor([3.0, -1.0], dtype=mg.float64, requires_grad=True)
    y = Square.apply(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0, -2.0])
    assert mg.gradcheck(Square.apply, (x,))
    assert mg.gradgradcheck(Square.apply, (x,))


def test_version_counter_and_requires_grad_rules():
    with pytest.raises(TypeError, match="floating"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        mg.tensor([True]).requires_grad_()
    x = mg.tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


def test_graph_freed_after_backward_keeps_a_skeleton():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = mg.tensor([3.0, 4.0])
    loss = (mg.sigmoid(x * w)).sum()
    loss.backward()
    node = loss.grad_fn
    assert node.inputs is None and node.out is None  # saved data released
    (parent,) = node.parents
    assert parent.shape == (2,) and parent.name() == "SigmoidBackward"


@pytest.mark.parametrize("op", ["mul", "exp", "sum", "linear"])
def test_recorded_node_matches_node_init(op):
    # Primitive.__call__ builds nodes inline (the hot path): it must set every field that
    # Node.__init__ sets, to the same values.
    from microgradnp.graph import Node

    x = mg.tensor(np.ones((3, 2)), requires_grad=True)
    w = mg.tensor(np.ones((4, 2)), requires_grad=True)
    y = {
        "mul": lambda: x * 2.0,
        "exp": lambda: x.exp(),
        "sum": lambda: x.sum(),
        "linear": lambda: mg.linear(x, w),
    }[op]()
    node = y.grad_fn
    ref = Node(node.prim, node.parents, node.needs, node.inputs or (), node.data or (),
               node.params, y.data, node.res, node.scope)  # fmt: skip
    if node.inputs is None:
        assert ref.inputs is None and ref.data is None
    for name in Node.__slots__:
        if name in ("__weakref__", "seq"):
            continue
        got, want = getattr(node, name), getattr(ref, name)
        if name in ("inputs", "data") and got is None:
            continue
        if isinstance(want, np.ndarray):
            assert got is want or (got is None and not node.prim.uses_out)
        else:
            assert got == want if name != "stamp" else got <= want, name
    assert ref.seq > node.seq


@pytest.mark.parametrize("name", ["add", "mul", "exp", "relu", "sigmoid", "sum", "tanh"])
def test_ops_are_functions_found_where_they_are_defined(name):
    # an op is a plain function (cheap to call) that pickles by reference and documents itself
    import pickle
    import types

    op = getattr(mg, name) if name != "sum" else mg.ops.reduce._sum
    assert isinstance(op, types.FunctionType)
    assert pickle.loads(pickle.dumps(op)) is op
    assert op.__module__.startswith("microgradnp.ops.")
    assert op.prim.name in (name, "sum") and op.prim.op is op
