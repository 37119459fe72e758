"""PyTorch's semantics where users rely on them: per-thread grad mode, in-place operators,
views and version counters, hooks, op errors, Functions with several outputs, and what a
graph keeps in memory (compared with PyTorch where it has the same thing)."""

from __future__ import annotations

import gc
import threading
import tracemalloc

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.graph import Node

# ---- 1. grad mode per thread ------------------------------------------------------------


def test_grad_mode_is_per_thread():
    failures = []
    start = threading.Barrier(2)

    def evaluator():
        start.wait()
        for _ in range(200):
            with mg.no_grad():
                (mg.ones(2, requires_grad=True) * 2).sum()

    def trainer():
        start.wait()
        for _ in range(200):
            w = mg.ones(2, requires_grad=True)
            loss = (w * 3).sum()
            try:
                loss.backward()
            except RuntimeError:
                failures.append(1)

    threads = [threading.Thread(target=evaluator), threading.Thread(target=trainer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and mg.is_grad_enabled()


def test_new_thread_starts_with_grad_on():
    seen = []
    with mg.no_grad():
        t = threading.Thread(target=lambda: seen.append(mg.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_interleaved_modes_in_two_threads_restore_each_thread():
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    results = {}

    def a():
        with mg.no_grad():
            a_in.set()
            b_in.wait()
        a_out.set()
        results["a"] = mg.is_grad_enabled()

    def b():
        a_in.wait()
        with mg.enable_grad():
            with mg.no_grad():
                b_in.set()
                a_out.wait()
        results["b"] = mg.is_grad_enabled()

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == {"a": True, "b": True}


def test_set_grad_enabled_as_a_function_and_decorators():
    mg.set_grad_enabled(False)
    try:
        assert not mg.is_grad_enabled()
    finally:
        mg.set_grad_enabled(True)
    assert mg.is_grad_enabled()

    @mg.no_grad
    def bare(x):
        return x * 2

    @mg.no_grad()
    def called(x):
        return x * 2

    x = mg.ones(2, requires_grad=True)
    assert not bare(x).requires_grad and not called(x).requires_grad
    assert mg.is_grad_enabled()

    @mg.set_grad_enabled(False)
    def off(x):
        return x * 2

    assert mg.is_grad_enabled()  # decorating must not switch the mode
    assert not off(x).requires_grad


def test_no_grad_on_a_generator_applies_only_inside_it():
    @mg.no_grad()
    def gen(x):
        for _ in range(2):
            yield x * 2, mg.is_grad_enabled()

    x = mg.ones(1, requires_grad=True)
    for y, inside in gen(x):
        assert not inside and not y.requires_grad
        assert mg.is_grad_enabled()  # not leaked to the caller between yields
        assert (x * 2).requires_grad


# ---- 2. in-place operators -----------------------------------------------------------------


def test_hand_written_sgd_step_keeps_the_parameter(torch):
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (w * w).sum().backward()
        (tw * tw).sum().backward()
        with mg.no_grad():
            w -= 0.1 * w.grad
        with torch.no_grad():
            tw -= 0.1 * tw.grad
        w.grad = None
        tw.grad = None
    assert w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-6)


def test_augmented_assignment_is_in_place_and_recorded(torch):
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = a * 1
    same = x
    x += 2
    x *= a
    assert x is same
    x.sum().backward()
    ta = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tx = ta * 1
    tx += 2
    tx *= ta
    tx.sum().backward()
    np.testing.assert_allclose(x.data, tx.detach().numpy())
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy())


def test_in_place_on_a_leaf_that_requires_grad_raises():
    w = mg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w += 1


# ---- 3. views and version counters ---------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda x: x.detach().add_(1),
        lambda x: x[:2].add_(1),
        lambda x: x.reshape(3, 1).mul_(2),
        lambda x: x.unsqueeze(0).zero_(),
        lambda x: x.view(-1)[0:1].fill_(5),
    ],
    ids=["detach", "slice", "reshape", "unsqueeze", "view-of-view"],
)
def test_change_through_a_view_after_use_is_detected(change):
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = mg.tensor([4.0, 5.0, 6.0])
    y = (w * x).sum()  # mul saves x
    with mg.no_grad():
        change(x)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_change_through_state_dict_entry_is_detected():
    lin = mg.nn.Linear(2, 1)
    y = lin(mg.ones(3, 2, requires_grad=True)).sum()  # linear saves its weight
    with mg.no_grad():
        lin.state_dict()["weight"].mul_(2)
    with pytest.raises(RuntimeError, match="inplace"):
        y.backward()


def test_views_share_memory_and_version_with_their_base():
    x = mg.arange(6).reshape(2, 3)
    v = x[0]
    t = x.T
    x[0, 0] = 100
    assert v.data[0] == 100 and t.data[0, 0] == 100
    assert v._version == x._version == t._version > 0


def test_changing_the_output_a_backward_reads_is_detected(torch):
    a = mg.tensor([0.5, 1.0], requires_grad=True)
    e = a.exp()  # exp's backward reads its output
    e.mul_(2)
    with pytest.raises(RuntimeError, match="inplace"):
        e.sum().backward()
    ta = torch.tensor([0.5, 1.0], requires_grad=True)
    te = ta.exp()
    te.mul_(2)
    with pytest.raises(RuntimeError, match="inplace"):
        te.sum().backward()


def test_in_place_on_a_view_in_the_graph_is_refused_not_wrong():
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = a * 1
    with pytest.raises(RuntimeError, match="view"):
        x[:2].mul_(2)


def test_setitem_on_a_graph_tensor_matches_torch(torch):
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = a * 1
    x[:2] = a[1:] * a[:2]
    (x * x).sum().backward()
    ta = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tx = ta * 1
    tx[:2] = ta[1:] * ta[:2]
    (tx * tx).sum().backward()
    np.testing.assert_allclose(x.data, tx.detach().numpy())
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy())


def test_optimizer_step_after_forward_makes_that_backward_raise():
    lin = mg.nn.Linear(2, 1)
    opt = mg.optim.SGD(lin.parameters(), lr=0.1)
    loss = lin(mg.ones(3, 2)).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="inplace"):
        loss.backward()


# ---- 7. hooks and .grad of the wrong shape ------------------------------------------------


def test_hook_returning_the_wrong_shape_raises():
    x = mg.ones(3, requires_grad=True)
    x.register_hook(lambda g: mg.ones(2))
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*\(3,\)"):
        (x * 2).sum().backward()
    y = mg.ones(3, requires_grad=True) * 2
    y.register_hook(lambda g: mg.ones(4))
    with pytest.raises(RuntimeError, match="shape"):
        y.sum().backward()


def test_assigning_grad_of_the_wrong_shape_or_dtype_raises():
    x = mg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(2,\)"):
        x.grad = mg.ones(2)
    with pytest.raises(TypeError, match="dtype"):
        x.grad = mg.ones(3, dtype=mg.float64)
    x.grad = mg.zeros(3)
    assert x.grad.shape == (3,)


def test_hook_on_intermediate_and_retain_grad_see_the_hooked_gradient(torch):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = tx * 3
    ty.retain_grad()
    ty.register_hook(lambda g: g * 10)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.grad.data, ty.grad.numpy())
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy())


# ---- 11. errors name the op, the shapes and the dtypes -------------------------------------


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: mg.zeros(2) + "a", ["add", "(2,)", "float32"]),
        (lambda: mg.softmax(mg.tensor([1, 2])), ["softmax", "int64"]),
        (lambda: mg.tensor([1, 2]).add_(1.5), ["add_", "int64"]),
        (lambda: mg.ones(2, 3) * mg.ones(4), ["mul", "(2, 3)", "(4,)"]),
    ],
    ids=["str", "int-softmax", "int-inplace", "broadcast"],
)
def test_op_errors_are_clear(call, words):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    assert all(w in str(info.value) for w in words), str(info.value)


# ---- 15. Function with several outputs -----------------------------------------------------


class SinCos(mg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx, gs, gc):
        (x,) = ctx.saved_tensors
        return gs * x.cos() - gc * x.sin()  # d sin = cos, d cos = -sin


def test_function_with_two_outputs(torch):
    x = mg.tensor([0.3, 1.2], dtype=mg.float64, requires_grad=True)
    s, c = SinCos.apply(x)
    (s * 2 + c * c).sum().backward()
    tx = torch.tensor([0.3, 1.2], dtype=torch.float64, requires_grad=True)
    (tx.sin() * 2 + tx.cos() ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)
    x.grad = None
    s, _ = SinCos.apply(x)  # an unused output gets a zero gradient
    s.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cos(x.data), rtol=1e-12)
    assert mg.gradcheck(lambda t: SinCos.apply(t)[0] * SinCos.apply(t)[1], (x,))
    assert mg.gradgradcheck(lambda t: SinCos.apply(t)[0] * SinCos.apply(t)[1], (x,))


# ---- what a graph keeps --------------------------------------------------------------------


def _held_bytes(build):
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = build()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base, kept
    finally:
        tracemalloc.stop()


def test_after_backward_a_kept_loss_holds_only_the_grads():
    mg.manual_seed(0)
    model = mg.nn.Sequential(
        mg.nn.Linear(256, 256), mg.nn.Sigmoid(), mg.nn.Linear(256, 256), mg.nn.Tanh(),
        mg.nn.Linear(256, 64),
    )  # fmt: skip
    x = mg.randn(512, 256)
    y = mg.randint(0, 64, (512,))
    params = sum(p.data.nbytes for p in model.parameters())

    def step():
        loss = mg.nn.functional.cross_entropy(model(mg.nn.functional.dropout(x, 0.5)), y)
        loss.backward()
        return loss  # kept alive, as a logged loss is

    held, loss = _held_bytes(step)
    # the grads (as large as the parameters), plus the small graph skeleton: no activations
    # (512 x 256 float32 = 512 KiB each), no residuals, no dropout mask
    assert params <= held < params + 64 * 1024, (held, params)
    assert loss.grad_fn is not None


def test_intermediates_the_backward_does_not_read_are_freed_after_forward():
    import weakref

    x = mg.randn(64, 64, requires_grad=True)
    z = x * 2
    ref = weakref.ref(z)
    out = mg.sigmoid(z)  # sigmoid's backward reads only its output
    del z
    assert ref() is None
    out.sum().backward()
    s = 1 / (1 + np.exp(-2 * x.data))
    np.testing.assert_allclose(x.grad.data, 2 * s * (1 - s), rtol=1e-5)


def test_node_keeps_only_declared_values():
    x = mg.randn(3, requires_grad=True)
    y = mg.exp(x)  # reads its output, not its input
    assert y.grad_fn.inputs is None and y.grad_fn.out is y.data
    z = x * y  # reads its inputs, not its output
    assert z.grad_fn.out is None and z.grad_fn.inputs is not None
    assert isinstance(z.grad_fn.parents[1], Node) and z.grad_fn.parents[0] is x


def test_a_leaf_is_finished_as_soon_as_its_last_consumer_is_done(torch):
    # As PyTorch's AccumulateGrad: the last layer's gradient is ready (and its hooks run)
    # before backward reaches the first layer, so distributed training can overlap.
    def order(lib, first, second):
        seen = []
        for name, p in (("second", second.weight), ("first", first.weight)):
            p.register_post_accumulate_grad_hook(lambda t, name=name: seen.append(name))
        x = lib.ones(3, 2)
        second(lib.tanh(first(x))).sum().backward()
        return seen

    assert order(mg, mg.nn.Linear(2, 4), mg.nn.Linear(4, 1)) == ["second", "first"]
    assert order(torch, torch.nn.Linear(2, 4), torch.nn.Linear(4, 1)) == ["second", "first"]
