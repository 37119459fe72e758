"""The article's two networks in plain NumPy, with gradients derived by hand.

``sigmoid_net``: 2-layer sigmoid network, binary cross-entropy (or squared error).
``softmax_net``: sigmoid hidden layer, softmax output, cross-entropy, gradient descent.
See ``docs/article-errata.md`` for the list of mistakes and their corrections.
"""

from . import sigmoid_net, softmax_net

__all__ = ["sigmoid_net", "softmax_net"]
