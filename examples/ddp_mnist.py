"""Data-parallel training on several processes: the bundled handwritten digits, over MPI.

Each of N ranks holds a replica of an MLP (64 -> 128 -> ReLU -> 10), trains on its shard of
every epoch (`DistributedSampler`) with a per-rank batch of `--batch / N`, and
`DistributedDataParallel` averages the gradients in backward, so all replicas take the same
steps as one process on the global batch of `--batch`. `mg.train.fit` reshuffles the shards
each epoch (`sampler.set_epoch`), logs the loss and accuracy of all ranks together and shows
progress on rank 0 only; rank 0 alone writes the checkpoint. Run:

    pip install -e ".[dist]"
    mpiexec -n 4 python examples/ddp_mnist.py [--epochs 20] [--batch 64] [--out DIR]

The data are the UCI 8x8 digits bundled with the package (1,797 images); the 28x28 MNIST
subset loader is a drop-in replacement once available. Without `mpiexec` it runs as a job
of one rank.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import microgradnp as mg
from microgradnp import data, nn
from microgradnp.nn.parallel import DistributedDataParallel

dist = mg.distributed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64, help="global batch (all ranks)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "ddp_digits"))
    args = parser.parse_args()

    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch % world:
        raise ValueError(f"--batch {args.batch} must be divisible by the {world} ranks")

    # The same split and scaling on every rank (fixed seed), then each rank takes its shard.
    X, y = mg.datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(X))
    train_idx, val_idx, test_idx = order[:1257], order[1257:1527], order[1527:]
    scaler = data.StandardScaler().fit(X[train_idx])
    X = scaler.transform(X).astype(np.float32)
    train = data.TensorDataset(X[train_idx], y[train_idx])
    val = data.TensorDataset(X[val_idx], y[val_idx])

    mg.manual_seed(rank)  # replicas start apart on purpose: DDP copies rank 0's weights
    model = DistributedDataParallel(
        nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    )
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    start = time.perf_counter()
    history = mg.train.fit(
        model,
        data.DataLoader(train, args.batch // world, sampler=data.DistributedSampler(train)),
        nn.CrossEntropyLoss(),
        optimizer,
        epochs=args.epochs,
        val_loader=data.DataLoader(val, 256, sampler=data.DistributedSampler(val, shuffle=False)),
        metrics=["accuracy"],
    )
    seconds = time.perf_counter() - start

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "ddp_digits.safetensors")
    dist.save_checkpoint(model.module.state_dict(), path)  # rank 0 writes, all wait
    if rank == 0:
        restored = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        restored.load_state_dict(mg.load(path))
        with mg.no_grad():
            logits = restored(mg.from_numpy(X[test_idx]))
        test_acc = mg.metrics.accuracy(y[test_idx], logits.numpy())
        print(
            f"{world} rank(s), {args.epochs} epochs in {seconds:.1f} s: "
            f"train loss {history['loss'][-1]:.4f}, val accuracy "
            f"{history['val_accuracy'][-1]:.4f}, test accuracy {test_acc:.4f}; "
            f"checkpoint {path}"
        )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
