"""`mg.nn`: modules, layers, losses, and the `functional`, `init` and `utils` helpers.

Example:
    >>> import microgradnp as mg
    >>> nn = mg.nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3))
    >>> loss = nn.CrossEntropyLoss()(model(mg.randn(5, 4)), mg.tensor([0, 1, 2, 1, 0]))
    >>> loss.backward()
    >>> [p.grad.shape for p in model.parameters()]
    [(8, 4), (8,), (3, 8), (3,)]
"""

from . import functional, init, utils
from .attention import MultiheadAttention
from .containers import ModuleDict, ModuleList, Sequential
from .layers import (
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    KLDivLoss,
    MSELoss,
    NLLLoss,
)
from .module import Module, Parameter, RemovableHandle
from .rnn import GRU, LSTM, RNN
from .rnn_cells import GRUCell, LSTMCell, RNNCell
from .transformer import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "KLDivLoss",
    "TransformerEncoderLayer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "RNNCell",
    "RNN",
    "MultiheadAttention",
    "LSTMCell",
    "LSTM",
    "GRUCell",
    "GRU",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "LayerNorm",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "RemovableHandle",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
    "utils",
]
