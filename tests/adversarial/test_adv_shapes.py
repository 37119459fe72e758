"""View-producing and indexing ops given bad dims and sizes: refuse where PyTorch refuses,
with an error naming the op, else give PyTorch's result."""

import numpy as np
import pytest

import microgradnp as mg

from ._compare import same_as_torch

A = np.arange(6.0, dtype=np.float32).reshape(2, 3)
S = np.float32(2.5)  # a 0-d tensor
I = np.array([[-1], [0]])  # noqa: E741


def _ops(m, t):
    """(name, call on a module m of ops, with tensor constructor t) for mg and torch alike."""
    return [
        ("unsqueeze", lambda: t(A).unsqueeze(5)),
        ("unsqueeze", lambda: t(A).unsqueeze(-4)),
        ("unsqueeze", lambda: t(A).unsqueeze(-3)),
        ("unsqueeze", lambda: t(S).unsqueeze(1)),
        ("unsqueeze", lambda: t(S).unsqueeze(-1)),
        ("squeeze", lambda: t(A[:, :1]).squeeze(3)),
        ("squeeze", lambda: t(A[:, :1]).squeeze(-3)),
        ("squeeze", lambda: t(A[:, :1]).squeeze(0)),
        ("squeeze", lambda: t(S).squeeze(0)),
        ("squeeze", lambda: t(S).squeeze(-1)),
        ("squeeze", lambda: t(S).squeeze(1)),
        ("split", lambda: t(A).split(-1)),
        ("split", lambda: t(A).split(0)),
        ("split", lambda: t(A).split(1, 5)),
        ("split", lambda: t(A).split([3, -1], 1)),
        ("split", lambda: t(A).split([1, 1], 1)),
        ("split", lambda: t(A).split(2, -1)),
        ("split", lambda: t(np.zeros((0, 3), np.float32)).split(0)),
        ("expand", lambda: t(A[0]).expand(-1, 3)),
        ("expand", lambda: t(A).expand(3)),
        ("expand", lambda: t(A).expand(2, 4)),
        ("expand", lambda: t(A).expand(2, -2)),
        ("expand", lambda: t(A).expand(4, -1, -1)),
        ("expand", lambda: t(A[:1]).expand(0, 3)),
        ("gather", lambda: m.gather(t(A), 1, t(I))),
        ("gather", lambda: m.gather(t(A), 1, t(np.array([[3], [0]])))),
        ("gather", lambda: m.gather(t(A), 5, t(np.array([[0], [0]])))),
        ("gather", lambda: m.gather(t(A), 1, t(np.zeros((3, 4), np.int64)))),
        ("gather", lambda: m.gather(t(A), -1, t(np.array([[2, 0], [1, 1]])))),
        ("gather", lambda: m.gather(t(A), 0, t(np.array([[1, 0, 1]])))),
        ("softmax", lambda: m.softmax(t(S), dim=0)),
        ("softmax", lambda: m.softmax(t(S), dim=-1)),
        ("softmax", lambda: m.softmax(t(S), dim=1)),
        ("softmax", lambda: m.softmax(t(A), dim=5)),
        ("log_softmax", lambda: m.log_softmax(t(S), dim=0)),
        ("log_softmax", lambda: m.log_softmax(t(A), dim=-3)),
        ("flatten", lambda: t(A).flatten(2, 0)),
        ("flatten", lambda: t(A).flatten(1, 0)),
        ("flatten", lambda: t(S).flatten()),
        ("flatten", lambda: t(S).flatten(0, -1)),
        ("flatten", lambda: t(S).flatten(1)),
        ("transpose", lambda: t(A).transpose(0, 5)),
        ("transpose", lambda: t(A).transpose(-3, 0)),
        ("transpose", lambda: t(A).transpose(-1, 0)),
        ("permute", lambda: t(A).permute(0, 0)),
        ("permute", lambda: t(A).permute(0, 1, 2)),
        ("permute", lambda: t(A).permute(0, 2)),
        ("permute", lambda: t(A).permute(-1, 0)),
        ("reshape", lambda: t(A).reshape(4, 2)),
        ("reshape", lambda: t(A).reshape(-1, -1)),
        ("cat", lambda: m.cat([t(A), t(A)], 5)),
        ("cat", lambda: m.cat([t(A), t(A)], -1)),
        ("stack", lambda: m.stack([t(A), t(A)], 3)),
        ("stack", lambda: m.stack([t(A), t(A)], -4)),
        ("stack", lambda: m.stack([t(A), t(A)], -3)),
        ("max", lambda: t(A).max(5)),
        ("max", lambda: t(S).max(0)),
        ("min", lambda: t(A).min(-3)),
    ]


def _more(m, t):
    """Indexing, reductions and other ops with shape rules."""
    one_hot = mg.one_hot if m is mg else m.nn.functional.one_hot
    pad = mg.pad if m is mg else m.nn.functional.pad
    empty = np.zeros((0, 3), np.float32)
    return [
        ("index", lambda: t(A)[5]),
        ("index", lambda: t(A)[0, 3]),
        ("index", lambda: t(A)[0, 0, 0]),
        ("index", lambda: t(A)[t(np.array([True, False, True]))]),
        ("index", lambda: t(A)[:, t(np.array([0, 3]))]),
        ("index", lambda: t(A)[t(np.array([-1]))]),
        ("index", lambda: t(A)[1.5]),
        ("index", lambda: t(A)[..., None, 1]),
        ("sum", lambda: t(A).sum(5)),
        ("sum", lambda: t(A).sum((0, 0))),
        ("mean", lambda: t(A).mean(-3)),
        ("mean", lambda: t(A).mean((0, 5))),
        ("var", lambda: t(np.arange(4)).var()),
        ("std", lambda: t(A).std(5)),
        ("logsumexp", lambda: m.logsumexp(t(A), 5)),
        ("logsumexp", lambda: m.logsumexp(t(A), 1)),
        ("argmax", lambda: t(A).argmax(5)),
        ("argmax", lambda: t(empty).argmax()),
        ("max", lambda: t(empty).max()),
        ("max", lambda: t(empty).max(0)),
        ("max", lambda: t(empty).max(1)),
        ("one_hot", lambda: one_hot(t(np.array([-1])))),
        ("one_hot", lambda: one_hot(t(np.array([3])), 3)),
        ("one_hot", lambda: one_hot(t(np.array([1.0])))),
        ("pad", lambda: pad(t(A), (1, 2, 3))),
        ("pad", lambda: pad(t(A), (1, 1, 1, 1, 1, 1))),
        ("reshape", lambda: t(A).reshape(-2, -3)),
        ("reshape", lambda: t(A).reshape(3, -1)),
        ("reshape", lambda: t(A).view(7)),
        ("matmul", lambda: m.matmul(t(A), t(A))),
        ("matmul", lambda: m.matmul(t(A[0]), t(A[0]))),
        ("matmul", lambda: m.matmul(t(S), t(A))),
        ("where", lambda: m.where(t(np.array([True, False])), t(A), t(A))),
        ("broadcast_to", lambda: m.broadcast_to(t(A), (3, 3))),
        ("broadcast_to", lambda: m.broadcast_to(t(A), (4, 2, 3))),
        ("expand", lambda: t(A[:1]).expand_as(t(np.zeros((3, 3), np.float32)))),
    ]


CASES = list(range(len(_ops(mg, mg.tensor))))
MORE = list(range(len(_more(mg, mg.tensor))))


@pytest.mark.parametrize("case", CASES)
def test_shape_op_refuses_or_matches_torch(torch, case):
    name, ours = _ops(mg, mg.tensor)[case]
    _, theirs = _ops(torch, torch.tensor)[case]
    same_as_torch(ours, theirs, words=(name,))


@pytest.mark.parametrize("case", MORE)
def test_indexing_and_reductions_refuse_or_match_torch(torch, case):
    name, ours = _more(mg, mg.tensor)[case]
    _, theirs = _more(torch, torch.tensor)[case]
    same_as_torch(ours, theirs, words=(name,))


def test_max_dim_gradient_goes_to_the_returned_index(torch):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], dtype=np.float32)
    for fn in ("max", "min"):
        for keep in (False, True):
            ours, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            v, i = getattr(mg, fn)(ours, dim=1, keepdim=keep)
            tv, ti = getattr(torch, fn)(theirs, dim=1, keepdim=keep)
            (v * mg.tensor([[2.0], [5.0]] if keep else [2.0, 5.0])).sum().backward()
            (tv * torch.tensor([[2.0], [5.0]] if keep else [2.0, 5.0])).sum().backward()
            np.testing.assert_array_equal(i.numpy(), ti.numpy())
            np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_max_over_all_dims_still_splits_ties_like_amax(torch):
    x = np.array([[1.0, 3.0, 3.0]], dtype=np.float32)
    ours, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    mg.max(ours).backward()
    torch.amax(theirs, dim=(0, 1)).backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_max_dim_second_derivative():
    x = mg.tensor(np.array([[0.3, -1.2, 2.0], [1.0, 0.1, 1.5]]), requires_grad=True)
    assert mg.gradgradcheck(lambda t: mg.max(t, dim=1).values ** 2, (x,))


def test_softmax_of_a_scalar_has_torchs_gradient(torch):
    ours, theirs = mg.tensor(0.7, requires_grad=True), torch.tensor(0.7, requires_grad=True)
    (mg.log_softmax(ours, dim=0) * 3).backward()
    (torch.log_softmax(theirs, dim=0) * 3).backward()
    assert ours.grad.item() == theirs.grad.item() == 0.0
