"""DistributedDataParallel beyond plain equivalence, and `fit` on a data-parallel job.

Checks: state_dict keys and `.module`; buffers broadcast from rank 0 at each forward;
`no_sync` keeps gradients local; an unused parameter is reported at the next forward;
`mg.train.fit` with a DistributedSampler logs the same global numbers on every rank, keeps
replicas identical, and `save_checkpoint` writes once. Run as
`mpiexec -n N python ddp_behaviour.py CHECKPOINT_DIR`; rank 0 prints "ddp behaviour ok".
"""

import io
import os
import sys

import numpy as np

import microgradnp as mg
from microgradnp import data, nn

dist = mg.distributed
dist.init_process_group(backend="mpi")
rank, size = dist.get_rank(), dist.get_world_size()
DDP = nn.parallel.DistributedDataParallel


class Counting(nn.Module):
    """A linear layer with a buffer that each forward increases by (rank + 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("count", mg.zeros(1, dtype="int64"))

    def forward(self, x):
        self.count.data += rank + 1
        return self.fc(x)


mg.manual_seed(rank)
ddp = DDP(Counting())
assert list(ddp.state_dict()) == ["module.count", "module.fc.weight", "module.fc.bias"]
assert isinstance(ddp.module, Counting) and ddp.module.fc is ddp.module._modules["fc"]
for _ in range(3):  # before each forward rank 0's count (0, 1, 2) is copied everywhere
    ddp(mg.ones(2, 3))
assert ddp.module.count.item() == 2 + rank + 1, ddp.module.count.item()
ddp.module.count.data[...] = 0

if hasattr(nn, "BatchNorm1d"):  # running statistics follow rank 0 at every forward
    bn = DDP(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)))
    bn(mg.full((5, 3), float(rank)) + mg.randn(5, 3))  # training: each rank its own statistics
    stats = [None] * size
    dist.all_gather_object(stats, [b.data.copy() for b in bn.module.buffers()])
    assert size == 1 or not np.array_equal(stats[0][0], stats[1][0])
    bn.eval()
    with mg.no_grad():
        bn(mg.ones(2, 3))  # the forward first copies rank 0's buffers everywhere
    for mine, rank0 in zip(bn.module.buffers(), stats[0], strict=True):
        np.testing.assert_array_equal(mine.data, rank0)
    if rank == 0:
        print("BatchNorm buffers follow rank 0")

# no_sync: local gradients; the next synced backward averages the accumulated sum
x_local = mg.full((1, 3), float(rank + 1))
with ddp.no_sync():
    ddp(x_local).sum().backward()
assert ddp.module.fc.weight.grad.tolist()[0] == [float(rank + 1)] * 3
ddp(x_local).sum().backward()
mean = sum(2.0 * (r + 1) for r in range(size)) / size
np.testing.assert_allclose(ddp.module.fc.weight.grad.numpy(), np.full((2, 3), mean))


class Unused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used, self.spare = nn.Linear(2, 2), nn.Linear(2, 2)

    def forward(self, x):
        return self.used(x)


unused = DDP(Unused())
unused(mg.ones(1, 2)).sum().backward()
try:
    unused(mg.ones(1, 2))
except RuntimeError as err:
    assert "spare.weight" in str(err) and "spare.bias" in str(err), err
else:
    raise AssertionError("an unused parameter went unnoticed")

# fit on shards of a small classification problem
X, y = mg.datasets.make_blobs(n_samples=90, centers=3, random_state=0)
dataset = data.TensorDataset(X.astype(np.float32), y)


mg.manual_seed(rank)
model = DDP(nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3)))
opt = mg.optim.SGD(model.parameters(), lr=0.1)
stream = io.StringIO()
train_loader = data.DataLoader(dataset, 8, sampler=data.DistributedSampler(dataset, seed=1))
history = mg.train.fit(
    model,
    train_loader,
    nn.CrossEntropyLoss(),
    opt,
    epochs=3,
    val_loader=data.DataLoader(
        dataset, 16, sampler=data.DistributedSampler(dataset, shuffle=False)
    ),
    metrics=["accuracy"],
    progress=True,
    stream=stream,
)
assert train_loader.sampler.epoch == 2  # fit called set_epoch(0), (1), (2)
histories = [None] * size
dist.all_gather_object(histories, dict(history))
assert all(h == histories[0] for h in histories), histories
# the validation numbers are those of the whole (padded) data set, as one process sees it
padded = [i for r in range(size) for i in data.DistributedSampler(dataset, size, r, False)]
model.eval()
with mg.no_grad():
    logits = model.module(mg.from_numpy(X[padded].astype(np.float32)))
    val_loss = nn.CrossEntropyLoss()(logits, mg.from_numpy(y[padded])).item()
np.testing.assert_allclose(history["val_loss"][-1], val_loss, rtol=1e-5)
assert history["val_accuracy"][-1] == mg.metrics.accuracy(y[padded], logits.numpy())
assert (stream.getvalue() != "") == (rank == 0), "progress must be shown on rank 0 only"
replicas = [None] * size
dist.all_gather_object(replicas, [p.data for p in model.parameters()])
for other in replicas:
    for a, b in zip(replicas[0], other, strict=True):
        np.testing.assert_array_equal(a, b)

path = os.path.join(sys.argv[1], "model.safetensors")
dist.save_checkpoint(model.module.state_dict(), path)
loaded = mg.load(path)  # every rank may read it once save_checkpoint returns
np.testing.assert_array_equal(loaded["0.weight"].numpy(), model.module[0].weight.data)
dist.destroy_process_group()
if rank == 0:
    print(f"ddp behaviour ok on {size} ranks; fit history {history['val_accuracy']}")
