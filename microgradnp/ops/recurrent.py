"""Fused recurrences over time: `rnn_tanh_recurrence`, `rnn_relu_recurrence`,
`lstm_recurrence` and `gru_recurrence`, the inner loops of `nn.RNN`, `nn.LSTM`, `nn.GRU`.

Each takes the input projections of all time steps, gx = x W_ih^T + b_ih of shape
(T, N, G*H), and runs the recurrence forward in time in one primitive, so that a sequence
costs one graph node instead of a dozen per step (slicing a step out of gx would also cost a
full-size gradient per step). The VJPs run backpropagation through time with operators and
primitives only (so they also serve `create_graph=True`): they recompute the gate
pre-activations of all steps with one matmul from the saved hidden states, loop backwards
over time with one matmul per step, and end with one matmul for dW_hh. The composites in
`nn/rnn.py` (one op per gate and step) are their reference in the op table.

Shapes: gx (T, N, G*H); h0, c0 (N, H); w_hh (G*H, H); b_hh (G*H,) or absent. Outputs:
(T, N, H) hidden states; for the LSTM (T, N, 6H): hidden states, cell states and gates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import primitive, raw
from .elementwise import sigmoid, tanh
from .linalg import _matmul
from .reduce import _sum
from .shape import _cat, _permute, _reshape


def _t(w: Any) -> Any:
    return _permute(w, axes=(1, 0))


def _previous(h0: Any, hs: Any) -> Any:
    """The state entering each step: h0, h_1, ..., h_{T-1} (T, N, H)."""
    n, h = raw(h0).shape
    return _cat(_reshape(h0, shape=(1, n, h)), hs[:-1], axis=0)


def _recurrent_projection(h_prev: Any, w_hh: Any, b_hh: Any) -> Any:
    """h_prev W_hh^T (+ b_hh) for all steps at once, (T, N, G*H)."""
    proj = _matmul(h_prev, _t(w_hh))
    return proj if b_hh is None else proj + b_hh


def _weight_grads(dpre: Any, h0: Any, hs: Any, needs: tuple, w_at: int) -> tuple[Any, Any]:
    """dW_hh = sum_t dpre_t^T h_{t-1} and db_hh = sum_t dpre_t from the stacked (T, N, G*H)
    `dpre`, the initial state h0 and the states hs (`needs[w_at]` for W_hh,
    `needs[w_at + 1]` for b_hh when it was given)."""
    need_w = needs[w_at]
    need_b = len(needs) > w_at + 1 and needs[w_at + 1]
    dw = db = None
    steps, _, gsize = raw(dpre).shape
    hsize = raw(h0).shape[-1]
    if need_w:
        dw = _matmul(_t(dpre[0]), h0)
        if steps > 1:
            rest = _reshape(dpre[1:], shape=(-1, gsize))
            dw = dw + _matmul(_t(rest), _reshape(hs[:-1], shape=(-1, hsize)))
    if need_b:
        db = _sum(dpre, axis=(0, 1))
    return dw, db


def _stack_steps(steps: list) -> Any:
    return _cat(*[_reshape(x, shape=(1,) + raw(x).shape) for x in steps], axis=0)


def _simple_forward(gx: Any, h0: Any, w_hh: Any, b_hh: Any, act: Any) -> np.ndarray:
    out = np.empty(gx.shape[:2] + h0.shape[-1:], dtype=np.result_type(gx, h0, w_hh))
    h, wt = h0, w_hh.T
    for t in range(gx.shape[0]):
        pre = gx[t] + h @ wt
        if b_hh is not None:
            pre += b_hh
        h = out[t] = act(pre)
    return out


@primitive
def rnn_tanh_recurrence(gx, h0, w_hh, b_hh=None):
    """h_t = tanh(gx_t + h_{t-1} W_hh^T + b_hh) for t = 1..T; returns all h_t."""
    return _simple_forward(gx, h0, w_hh, b_hh, np.tanh)


@primitive
def rnn_relu_recurrence(gx, h0, w_hh, b_hh=None):
    """h_t = relu(gx_t + h_{t-1} W_hh^T + b_hh) for t = 1..T; returns all h_t."""
    return _simple_forward(gx, h0, w_hh, b_hh, lambda x: np.maximum(x, 0.0))


def _simple_vjp(g, out, needs, gx, h0, w_hh, b_hh, dact):
    # pre_t = gx_t + h_{t-1} W^T + b;  h_t = act(pre_t)
    # dpre_t = (g_t + dh_t) * act'(pre_t);  dh_{t-1} = dpre_t W;  dgx_t = dpre_t
    dh = None
    dpre = []
    for t in range(raw(gx).shape[0] - 1, -1, -1):
        total = g[t] if dh is None else g[t] + dh
        d = total * dact(out[t])
        dpre.append(d)
        dh = _matmul(d, w_hh)
    dpre.reverse()
    dgx = _stack_steps(dpre)
    dw, db = _weight_grads(dgx, h0, out, needs, 2)
    return (dgx, (dh if needs[1] else None), dw, db)[: len(needs)]


@rnn_tanh_recurrence.defvjp
def _rnn_tanh_recurrence_vjp(g, out, needs, gx, h0, w_hh, b_hh=None):
    return _simple_vjp(g, out, needs, gx, h0, w_hh, b_hh, lambda h: 1.0 - h * h)


@rnn_relu_recurrence.defvjp
def _rnn_relu_recurrence_vjp(g, out, needs, gx, h0, w_hh, b_hh=None):
    return _simple_vjp(
        g, out, needs, gx, h0, w_hh, b_hh, lambda h: (raw(h) > 0).astype(raw(h).dtype)
    )


@primitive
def lstm_recurrence(gx, h0, c0, w_hh, b_hh=None):
    """LSTM steps (gates i, f, g, o): c_t = f c_{t-1} + i g, h_t = o tanh(c_t). Returns
    (T, N, 6H): h_t, c_t and the gate activations i, f, g, o along the last dim (the
    activations are outputs so that the VJP need not recompute them)."""
    n = h0.shape[-1]
    out = np.empty(gx.shape[:2] + (6 * n,), dtype=np.result_type(gx, h0, c0, w_hh))
    h, c, wt = h0, c0, w_hh.T
    base = gx if b_hh is None else gx + b_hh  # both biases for all steps in one pass
    for t in range(gx.shape[0]):
        gates = base[t] + h @ wt
        acts = out[t, :, 2 * n :]
        acts[...] = sigmoid.impl(gates)  # (the NumPy forward: plain arrays here)
        acts[:, 2 * n : 3 * n] = np.tanh(gates[:, 2 * n : 3 * n])
        c = out[t, :, n : 2 * n] = acts[:, n : 2 * n] * c + acts[:, :n] * acts[:, 2 * n : 3 * n]
        h = out[t, :, :n] = acts[:, 3 * n :] * np.tanh(c)
    return out


@lstm_recurrence.defvjp
def _lstm_recurrence_vjp(g, out, needs, gx, h0, c0, w_hh, b_hh=None):
    # Per step, with dh = g_h + dh_next and dc = g_c + dc_next:
    #   dc += dh o (1 - tanh(c)^2);  dpre_i = dc g i(1-i);  dpre_f = dc c_prev f(1-f)
    #   dpre_g = dc i (1-g^2);  dpre_o = dh tanh(c) o(1-o)
    #   dh_next = dpre W_hh;  dc_next = dc f
    # plus, for the activations as outputs, dpre += g_act * (their derivative), which is
    # zero unless a second derivative flows through them.
    n = raw(h0).shape[-1]
    hs, cs = out[..., :n], out[..., n : 2 * n]
    i, f, gg, o = (out[..., k * n : (k + 1) * n] for k in range(2, 6))
    tc = tanh(cs)
    o_dtanh = o * (1.0 - tc * tc)
    di_dc, dg_dc, do_dh = gg * i * (1.0 - i), i * (1.0 - gg * gg), tc * o * (1.0 - o)
    df_dc = _previous(c0, cs) * f * (1.0 - f)
    g_h, g_c = g[..., :n], g[..., n : 2 * n]
    gi, gf, g_g, go = (g[..., k * n : (k + 1) * n] for k in range(2, 6))
    gi, gf = gi * i * (1.0 - i), gf * f * (1.0 - f)
    g_g, go = g_g * (1.0 - gg * gg), go * o * (1.0 - o)
    dh = dc = None
    dpre = []
    for t in range(raw(gx).shape[0] - 1, -1, -1):
        dh_t = g_h[t] if dh is None else g_h[t] + dh
        dc_t = g_c[t] + dh_t * o_dtanh[t]
        if dc is not None:
            dc_t = dc_t + dc
        d = _cat(
            dc_t * di_dc[t] + gi[t],
            dc_t * df_dc[t] + gf[t],
            dc_t * dg_dc[t] + g_g[t],
            dh_t * do_dh[t] + go[t],
            axis=1,
        )
        dpre.append(d)
        dh = _matmul(d, w_hh)
        dc = dc_t * f[t]
    dpre.reverse()
    dgx = _stack_steps(dpre)
    dw, db = _weight_grads(dgx, h0, hs, needs, 3)
    return (dgx, (dh if needs[1] else None), (dc if needs[2] else None), dw, db)[: len(needs)]


@primitive
def gru_recurrence(gx, h0, w_hh, b_hh=None):
    """GRU steps (gates r, z, n): n = tanh(gx_n + r (h W_hn^T + b_hn)),
    h_t = (1 - z) n + z h_{t-1}; returns all h_t."""
    k = h0.shape[-1]
    out = np.empty(gx.shape[:2] + (k,), dtype=np.result_type(gx, h0, w_hh))
    h, wt = h0, w_hh.T
    for t in range(gx.shape[0]):
        gh = h @ wt
        if b_hh is not None:
            gh += b_hh
        rz = sigmoid.impl(gx[t, :, : 2 * k] + gh[:, : 2 * k])
        new = np.tanh(gx[t, :, 2 * k :] + rz[:, :k] * gh[:, 2 * k :])
        h = out[t] = new + rz[:, k:] * (h - new)
    return out


@gru_recurrence.defvjp
def _gru_recurrence_vjp(g, out, needs, gx, h0, w_hh, b_hh=None):
    # h = n + z (h_prev - n):  dn = dh (1 - z);  dz = dh (h_prev - n);  dh_prev += dh z
    # n = tanh(a_n + r gh_n):  da_n = dn (1 - n^2);  dr = da_n gh_n;  dgh_n = da_n r
    # r, z = sigmoid(a + gh):  d(pre) = dr r(1-r), dz z(1-z)  (both for gx and gh)
    k = raw(h0).shape[-1]
    h_prev = _previous(h0, out)
    gh = _recurrent_projection(h_prev, w_hh, b_hh)
    rz = sigmoid(gx[..., : 2 * k] + gh[..., : 2 * k])
    r, z = rz[..., :k], rz[..., k:]
    ghn = gh[..., 2 * k :]
    new = tanh(gx[..., 2 * k :] + r * ghn)
    dh = None
    dgx, dgh = [], []
    for t in range(raw(gx).shape[0] - 1, -1, -1):
        dh_t = g[t] if dh is None else g[t] + dh
        dan = dh_t * (1.0 - z[t]) * (1.0 - new[t] * new[t])
        dr = dan * ghn[t] * r[t] * (1.0 - r[t])
        dz = dh_t * (h_prev[t] - new[t]) * z[t] * (1.0 - z[t])
        dgx.append(_cat(dr, dz, dan, axis=1))
        d = _cat(dr, dz, dan * r[t], axis=1)
        dgh.append(d)
        dh = dh_t * z[t] + _matmul(d, w_hh)
    dgx.reverse()
    dgh.reverse()
    dw, db = _weight_grads(_stack_steps(dgh), h0, out, needs, 2)
    return (_stack_steps(dgx), (dh if needs[1] else None), dw, db)[: len(needs)]
