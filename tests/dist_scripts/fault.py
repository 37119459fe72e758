"""A job in which one rank fails; the launcher must end the whole job quickly.

`mpiexec -n N python fault.py KIND` with KIND:
- "exception": rank 1 raises while the others wait in an allreduce;
- "kill": rank 1 is killed (SIGKILL) while the others wait in an allreduce;
- "mismatch": rank 1 builds a model with other shapes; DistributedDataParallel refuses it.
"""

import os
import signal
import sys

import microgradnp as mg

dist = mg.distributed
dist.init_process_group(backend="mpi")
rank = dist.get_rank()
kind = sys.argv[1]
if kind == "mismatch":
    width = 5 if rank == 1 else 4
    model = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.Linear(4, width))
    mg.nn.parallel.DistributedDataParallel(model)
elif rank == 1:
    if kind == "exception":
        raise ValueError("bad batch on purpose")
    os.kill(os.getpid(), signal.SIGKILL)
t = mg.ones(3)
dist.all_reduce(t)  # the healthy ranks wait here for rank 1
print("unreachable: the job should have been aborted", flush=True)
