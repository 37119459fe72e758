"""Data loading (`mg.data`): datasets, samplers, batching and the usual preprocessing helpers.

`Dataset`, `TensorDataset`, `Subset`, `random_split` and `DataLoader` follow
`torch.utils.data`; `StandardScaler` follows scikit-learn; `one_hot` prepares label arrays.
Modules: `dataset` (map-style data sets), `collate` (samples to batches), `loader`
(`DataLoader`), `preprocessing` (scaling, one-hot). Bundled and synthetic data sets live in
`microgradnp.datasets`; metrics in `microgradnp.metrics`. Shuffling and splitting draw from
the generator that `mg.manual_seed` seeds, unless given one.
"""

from .collate import default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader
from .preprocessing import StandardScaler, one_hot

__all__ = [
    "DataLoader",
    "Dataset",
    "StandardScaler",
    "Subset",
    "TensorDataset",
    "default_collate",
    "one_hot",
    "random_split",
]
