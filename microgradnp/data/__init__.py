"""Data loading (`mg.data`): datasets, samplers, batching and the usual preprocessing helpers.

`Dataset`, `TensorDataset`, `Subset`, `random_split` and `DataLoader` follow
`torch.utils.data`; `StandardScaler` follows scikit-learn; `one_hot` prepares label arrays.
Modules: `dataset` (map-style data sets), `sampler` (index orders and batches), `collate`
(samples to batches), `loader` (`DataLoader`), `worker` (multi-process loading),
`preprocessing` (scaling, one-hot), `transforms` (data augmentation). Bundled and synthetic
data sets live in `microgradnp.datasets`; metrics in `microgradnp.metrics`. Shuffling and
splitting draw from the generator that `mg.manual_seed` seeds, unless given one.
"""

from . import transforms
from .collate import default_collate, default_convert
from .dataset import Dataset, Subset, TensorDataset, random_split
from .distributed_sampler import DistributedSampler
from .loader import DataLoader
from .preprocessing import StandardScaler, one_hot
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .worker import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StandardScaler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "one_hot",
    "random_split",
    "transforms",
]
