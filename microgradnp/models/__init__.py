"""`mg.models`: complete models built from `mg.nn` layers, ready to train.

- `mg.models.gpt`: a character- or token-level GPT (`GPT`, `GPTConfig`) with a key/value
  cache for generation.

Example:
    >>> import microgradnp as mg
    >>> mg.models.gpt.GPTConfig(vocab_size=68, n_layer=2).n_layer
    2
"""

from . import gpt

__all__ = ["gpt"]
