"""Hand-written NumPy floors for the sequence workloads: an LSTM layer and a post-norm
Transformer encoder layer (ReLU, no dropout), forward and backward written out by hand.

Both take PyTorch's parameter layout (the `state_dict` arrays) and return the output and
the gradients of the input and of every parameter, keyed as in the `state_dict`, for the
cotangent `g_out`. `benchmarks/sequence.py` checks them against microgradnp and PyTorch.
"""

from __future__ import annotations

import math

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.exp(-np.abs(x))  # stable for either sign
    return np.where(x >= 0, 1.0 / (1.0 + out), out / (1.0 + out))


def lstm_step(x: np.ndarray, p: dict, g_out: np.ndarray) -> tuple[np.ndarray, dict]:
    """One LSTM layer over x (T, N, I) from zero state; gates i, f, g, o as PyTorch."""
    w_ih, w_hh = p["weight_ih_l0"], p["weight_hh_l0"]
    steps, batch, n_in = x.shape
    n = w_hh.shape[1]
    dt = x.dtype
    x2 = x.reshape(steps * batch, n_in)
    pre = (x2 @ w_ih.T).reshape(steps, batch, 4 * n)
    pre += p["bias_ih_l0"] + p["bias_hh_l0"]
    acts = np.empty_like(pre)
    hs = np.empty((steps + 1, batch, n), dt)  # hs[0] = h_0 = 0
    cs = np.empty((steps + 1, batch, n), dt)
    hs[0] = 0.0
    cs[0] = 0.0
    tcs = np.empty((steps, batch, n), dt)
    for t in range(steps):
        a = acts[t]
        np.matmul(hs[t], w_hh.T, out=a)
        a += pre[t]
        a[:, : 2 * n] = _sigmoid(a[:, : 2 * n])
        a[:, 3 * n :] = _sigmoid(a[:, 3 * n :])
        np.tanh(a[:, 2 * n : 3 * n], out=a[:, 2 * n : 3 * n])
        c = cs[t + 1]
        np.multiply(a[:, n : 2 * n], cs[t], out=c)
        c += a[:, :n] * a[:, 2 * n : 3 * n]
        np.tanh(c, out=tcs[t])
        np.multiply(a[:, 3 * n :], tcs[t], out=hs[t + 1])
    out = hs[1:]
    dpre = np.empty_like(acts)
    dh = np.zeros((batch, n), dt)
    dc = np.zeros((batch, n), dt)
    for t in range(steps - 1, -1, -1):
        a = acts[t]
        i, f, g, o = a[:, :n], a[:, n : 2 * n], a[:, 2 * n : 3 * n], a[:, 3 * n :]
        dh += g_out[t]
        tc = tcs[t]
        dc += dh * o * (1.0 - tc * tc)
        d = dpre[t]
        d[:, :n] = dc * g * i * (1.0 - i)
        d[:, n : 2 * n] = dc * cs[t] * f * (1.0 - f)
        d[:, 2 * n : 3 * n] = dc * i * (1.0 - g * g)
        d[:, 3 * n :] = dh * tc * o * (1.0 - o)
        np.matmul(d, w_hh, out=dh)
        dc *= f
    d2 = dpre.reshape(steps * batch, 4 * n)
    db = d2.sum(0)
    grads = {
        "input": (d2 @ w_ih).reshape(x.shape),
        "weight_ih_l0": d2.T @ x2,
        "weight_hh_l0": d2.T @ hs[:-1].reshape(steps * batch, n),
        "bias_ih_l0": db,
        "bias_hh_l0": db.copy(),
    }
    return out, grads


def _layer_norm(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    inv = 1.0 / np.sqrt((xc * xc).mean(-1, keepdims=True) + eps)
    return xc * inv, inv


def _layer_norm_back(dy: np.ndarray, xhat: np.ndarray, inv: np.ndarray, gamma: np.ndarray):
    # y = xhat * gamma + beta:  dx = inv * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
    dxhat = dy * gamma
    dx = inv * (
        dxhat - dxhat.mean(-1, keepdims=True) - xhat * (dxhat * xhat).mean(-1, keepdims=True)
    )
    return dx, (dy * xhat).sum(0), dy.sum(0)


def encoder_step(
    x: np.ndarray, p: dict, g_out: np.ndarray, nhead: int, eps: float = 1e-5
) -> tuple[np.ndarray, dict]:
    """A post-norm encoder layer on batch-first x (B, T, D), ReLU, no dropout."""
    b, t, d = x.shape
    hd = d // nhead
    scale = 1.0 / math.sqrt(hd)  # a Python float: a NumPy float64 would promote to float64
    x2 = x.reshape(b * t, d)
    w_in, w_out = p["self_attn.in_proj_weight"], p["self_attn.out_proj.weight"]
    qkv = x2 @ w_in.T + p["self_attn.in_proj_bias"]
    heads = qkv.reshape(b, t, 3, nhead, hd).transpose(2, 0, 3, 1, 4)  # (3, B, H, T, hd)
    q, k, v = heads[0], heads[1], heads[2]
    s = (q @ k.transpose(0, 1, 3, 2)) * scale
    s -= s.max(-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(-1, keepdims=True)
    probs = s
    att = (probs @ v).transpose(0, 2, 1, 3).reshape(b * t, d)
    r1 = x2 + att @ w_out.T + p["self_attn.out_proj.bias"]
    xhat1, inv1 = _layer_norm(r1, eps)
    y1 = xhat1 * p["norm1.weight"] + p["norm1.bias"]
    h1 = y1 @ p["linear1.weight"].T + p["linear1.bias"]
    z = np.maximum(h1, 0.0)
    r2 = y1 + z @ p["linear2.weight"].T + p["linear2.bias"]
    xhat2, inv2 = _layer_norm(r2, eps)
    out = (xhat2 * p["norm2.weight"] + p["norm2.bias"]).reshape(b, t, d)

    grads: dict = {}
    g2 = g_out.reshape(b * t, d)
    dr2, grads["norm2.weight"], grads["norm2.bias"] = _layer_norm_back(
        g2, xhat2, inv2, p["norm2.weight"]
    )
    grads["linear2.weight"] = dr2.T @ z
    grads["linear2.bias"] = dr2.sum(0)
    dh1 = dr2 @ p["linear2.weight"]
    dh1 *= h1 > 0
    grads["linear1.weight"] = dh1.T @ y1
    grads["linear1.bias"] = dh1.sum(0)
    dy1 = dr2 + dh1 @ p["linear1.weight"]
    dr1, grads["norm1.weight"], grads["norm1.bias"] = _layer_norm_back(
        dy1, xhat1, inv1, p["norm1.weight"]
    )
    grads["self_attn.out_proj.weight"] = dr1.T @ att
    grads["self_attn.out_proj.bias"] = dr1.sum(0)
    datt = (dr1 @ w_out).reshape(b, t, nhead, hd).transpose(0, 2, 1, 3)
    dprobs = datt @ v.transpose(0, 1, 3, 2)
    dv = probs.transpose(0, 1, 3, 2) @ datt
    # softmax: ds = p * (dp - sum(dp * p)); then the scale
    ds = probs * (dprobs - (dprobs * probs).sum(-1, keepdims=True))
    ds *= scale
    dq = ds @ k
    dk = ds.transpose(0, 1, 3, 2) @ q
    dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(b * t, 3 * d)
    grads["self_attn.in_proj_weight"] = dqkv.T @ x2
    grads["self_attn.in_proj_bias"] = dqkv.sum(0)
    grads["input"] = (dr1 + dqkv @ w_in).reshape(b, t, d)
    return out, grads
