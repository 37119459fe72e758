"""The article's two networks in plain NumPy, with gradients derived by hand.

``sigmoid_net``: 2-layer sigmoid network, binary cross-entropy (or squared error).
``softmax_net``: sigmoid hidden layer, softmax output, cross-entropy, gradient descent.
``faulty``: the article's original formulas, reimplemented so tests can show they fail.
See ``docs/article-errata.md`` for the list of mistakes and their corrections.
"""

from microgradnp.reference import faulty, sigmoid_net, softmax_net

__all__ = ["faulty", "sigmoid_net", "softmax_net"]
