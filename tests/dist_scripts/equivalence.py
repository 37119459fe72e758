"""N ranks on shards vs one process on the global batch: parameters after 20 steps.

For SGD (momentum) and Adam, float32 and float64, with and without `no_sync` gradient
accumulation (2 micro-batches per step), each rank trains a DistributedDataParallel model on
its shard of every global batch, and also, alone, a copy of the model on the whole global
batch. Rank 0 prints one line per case with the largest relative difference
max|p_ddp - p_ref| / max|p_ref| over the parameters, and fails past the tolerance.
Run as `mpiexec -n N python equivalence.py`.
"""

import numpy as np

import microgradnp as mg
from microgradnp import nn

dist = mg.distributed
dist.init_process_group(backend="mpi")
rank, size = dist.get_rank(), dist.get_world_size()
STEPS, BATCH = 20, 24  # 24 samples divide into 2 micro-batches and into 2, 3 or 4 shards
TOL = {"float32": 1e-6, "float64": 1e-12}


def make_model(dtype: str) -> nn.Module:
    mg.manual_seed(100 + rank)  # different on every rank: DDP must broadcast rank 0's
    return nn.Sequential(
        nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3)
    ).to(dtype)


def make_optimizer(name: str, params):
    if name == "sgd":
        return mg.optim.SGD(params, lr=0.1, momentum=0.9)
    return mg.optim.Adam(params, lr=0.01)


def run_case(opt_name: str, dtype: str, accumulate: bool) -> float:
    rng = np.random.default_rng(7)  # the same data on every rank
    X = rng.normal(size=(STEPS, BATCH, 6)).astype(dtype)
    y = rng.integers(0, 3, size=(STEPS, BATCH))
    ddp = nn.parallel.DistributedDataParallel(make_model(dtype), bucket_cap_mb=0.001)
    reference = make_model(dtype)
    reference.load_state_dict({k: v.numpy().copy() for k, v in ddp.module.state_dict().items()})
    opt_ddp = make_optimizer(opt_name, ddp.parameters())
    opt_ref = make_optimizer(opt_name, reference.parameters())
    loss_fn = nn.CrossEntropyLoss()
    micro = 2 if accumulate else 1
    shard = BATCH // size // micro
    for step in range(STEPS):
        opt_ref.zero_grad()
        loss_fn(reference(mg.from_numpy(X[step])), mg.from_numpy(y[step])).backward()
        opt_ref.step()
        # rank r's shard of micro-batch m: rows [m*B/micro + r*shard, ... + shard)
        opt_ddp.zero_grad()
        for m in range(micro):
            lo = m * BATCH // micro + rank * shard
            xb, yb = (
                mg.from_numpy(X[step, lo : lo + shard]),
                mg.from_numpy(y[step, lo : lo + shard]),
            )
            if m < micro - 1:
                with ddp.no_sync():
                    (loss_fn(ddp(xb), yb) / micro).backward()
            else:
                (loss_fn(ddp(xb), yb) / micro).backward()
        opt_ddp.step()
    worst = 0.0
    for p, q in zip(ddp.module.parameters(), reference.parameters(), strict=True):
        worst = max(worst, float(np.abs(p.data - q.data).max() / np.abs(q.data).max()))
    replicas = [None] * size
    dist.all_gather_object(replicas, [p.data for p in ddp.module.parameters()])
    for other in replicas[1:]:  # every replica holds the very same parameters
        for a, b in zip(replicas[0], other, strict=True):
            np.testing.assert_array_equal(a, b)
    return worst


for opt_name in ("sgd", "adam"):
    for dtype in ("float32", "float64"):
        for accumulate in (False, True):
            worst = run_case(opt_name, dtype, accumulate)
            if rank == 0:
                print(
                    f"equivalence {opt_name} {dtype} no_sync={accumulate}: "
                    f"max relative difference {worst:.2e} (tolerance {TOL[dtype]:.0e})"
                )
            assert worst <= TOL[dtype], (opt_name, dtype, accumulate, worst)
dist.destroy_process_group()
