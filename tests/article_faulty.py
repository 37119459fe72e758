"""The article's two programs reimplemented as printed, mistakes included, so tests can show them.

Nothing here is for use: each function reproduces the article's code line for line (article
layout: ``w`` of shape ``(in, out)``, ``z = x @ w + b``) so that ``tests/test_reference.py``
can demonstrate each mistake listed in ``docs/article-errata.md``. The corrected versions are
``sigmoid_net`` and ``softmax_net``. Where a program cannot run at all, a second function keeps
its arithmetic with only the crash removed, so its formulas can still be checked.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Literal

import numpy as np


def article_sigmoid(x: np.ndarray) -> np.ndarray:
    """The article's sigmoid: right value, but ``exp(-x)`` overflows (with a warning) for
    ``x < -709`` in float64 and ``x < -88`` in float32."""
    return 1 / (1 + np.exp(-x))


def article_forward(
    x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """Program 1's ``forward`` as printed (this one is right, apart from the overflow)."""
    z1 = np.dot(x, w1) + b1
    a1 = article_sigmoid(z1)
    z2 = np.dot(a1, w2) + b2
    a2 = article_sigmoid(z2)
    return a2


def article_backward(
    x: np.ndarray,
    y: np.ndarray,
    a2: np.ndarray,
    w1: np.ndarray,
    w2: np.ndarray,
    b1: np.ndarray,
    b2: np.ndarray,
):
    """Program 1's ``backward`` as printed: returns ``dw1, dw2, db1, db2`` (in that order).

    Mistakes kept: the ``a2`` argument is overwritten by a recomputed forward pass; the hidden
    delta uses ``w2`` untransposed and the output layer's sigmoid derivative; an unused third
    delta, itself ill-shaped, is computed. See ``docs/article-errata.md``.
    """
    z1 = np.dot(x, w1) + b1
    a1 = article_sigmoid(z1)
    z2 = np.dot(a1, w2) + b2
    a2 = article_sigmoid(z2)  # the argument a2 is overwritten here, as in the article

    delta_output = a2 - y
    delta_hidden = np.dot(delta_output, w2) * article_sigmoid(z2) * (1 - article_sigmoid(z2))
    delta_input = (  # noqa: F841 - unused, as in the article
        np.dot(delta_hidden, w1) * article_sigmoid(z1) * (1 - article_sigmoid(z1))
    )

    dw2 = np.dot(a1.T, delta_output)
    db2 = np.sum(delta_output, axis=0)
    dw1 = np.dot(x.T, delta_hidden)
    db1 = np.sum(delta_hidden, axis=0)

    return dw1, dw2, db1, db2


def hidden_delta(
    delta_output: np.ndarray,
    w2: np.ndarray,
    z1: np.ndarray,
    z2: np.ndarray,
    transpose_w2: bool,
    derivative_at: Literal["z1", "z2"],
) -> np.ndarray:
    """Program 1's hidden delta with each of its two mistakes switchable (article layout).

    The article: ``transpose_w2=False, derivative_at="z2"``; correct: ``True, "z1"``. Tests use
    the two mixed settings to show that each mistake on its own is wrong.
    """
    back = np.dot(delta_output, w2.T if transpose_w2 else w2)
    z = {"z1": z1, "z2": z2}[derivative_at]
    return back * article_sigmoid(z) * (1 - article_sigmoid(z))


def article_softmax(x: np.ndarray) -> np.ndarray:
    """Program 2's softmax: subtracts the max of the WHOLE array, so a row far below it
    underflows to ``0 / 0 = nan``; and ``axis=1`` rejects a single 1-D sample."""
    exp_x = np.exp(x - np.max(x))
    return exp_x / np.sum(exp_x, axis=1, keepdims=True)


def article_cross_entropy_loss(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """Program 2's loss: ``log(0)`` gives ``-inf``, and ``0 * -inf`` gives ``nan``."""
    return -np.sum(y_true * np.log(y_pred))


def article_train(model, x_train, y_train, epochs, learning_rate):
    """Program 2's ``train`` as printed. It cannot run: see ``docs/article-errata.md``.

    ``model`` is called like a function and indexed like a dict; ``'h2'`` is not one of its
    weights; ``sigmoid_derivative`` is defined nowhere.
    """
    for epoch in range(epochs):
        model_output = model(x_train)
        loss = article_cross_entropy_loss(model_output, y_train)

        dZ = model_output - y_train
        dW2 = np.dot(x_train.T, dZ)
        db2 = np.sum(dZ, axis=0)

        dZ2 = np.dot(dZ, model["weights"]["h2"].T) * sigmoid_derivative(model["outputs"]["z2"])  # noqa: F821 - defined nowhere
        dW1 = np.dot(x_train.T, dZ2)
        db1 = np.sum(dZ2, axis=0)

        model["weights"]["w2"] -= learning_rate * dW2
        model["weights"]["b2"] -= learning_rate * db2
        model["weights"]["w1"] -= learning_rate * dW1
        model["weights"]["b1"] -= learning_rate * db1

        if epoch % 100 == 0:
            print(f"Epoch {epoch}, loss: {loss}")


def article_multiclass_grads(
    x: np.ndarray, y: np.ndarray, weights: MutableMapping[str, np.ndarray]
):
    """Program 2's gradient arithmetic with only its crashes removed: returns
    ``dW1, db1, dW2, db2`` in the article layout, for the summed cross-entropy.

    Kept: ``dW2`` from the input ``x`` instead of the hidden activations, and the sigmoid
    derivative taken at the output pre-activation ``z2``. Removed: the dict is no longer called
    (an explicit forward pass runs), ``'h2'`` reads ``'w2'``, and ``sigmoid_derivative`` is
    ``s(z) (1 - s(z))`` of the pre-activation it is given.
    """
    z1 = np.dot(x, weights["w1"]) + weights["b1"]
    a1 = article_sigmoid(z1)
    z2 = np.dot(a1, weights["w2"]) + weights["b2"]
    model_output = article_softmax(z2)

    dZ = model_output - y
    dW2 = np.dot(x.T, dZ)
    db2 = np.sum(dZ, axis=0)

    dZ2 = np.dot(dZ, weights["w2"].T) * article_sigmoid(z2) * (1 - article_sigmoid(z2))
    dW1 = np.dot(x.T, dZ2)
    db1 = np.sum(dZ2, axis=0)
    return dW1, db1, dW2, db2
