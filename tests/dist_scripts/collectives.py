"""Every collective, op and dtype against NumPy on the values all ranks hold.

Run as `mpiexec -n N python collectives.py N`; prints "collectives ok" on rank 0.
"""

import sys

import numpy as np

import microgradnp as mg

dist = mg.distributed
dist.init_process_group(backend="mpi")
rank, size = dist.get_rank(), dist.get_world_size()
assert size == int(sys.argv[1]), f"launched {size} ranks, expected {sys.argv[1]}"
R = dist.ReduceOp


def values(r: int, dtype: str) -> np.ndarray:
    """Rank r's input: distinct per rank, with negative entries (AVG's rounding on ints)."""
    base = np.array([[1, -2, 3], [-4, 5, 7]], dtype=np.float64)
    return ((base * (r + 1) + (-3) ** r) / (1 if dtype == "int64" else 4)).astype(dtype)


def reference(op: R, parts: list[np.ndarray]) -> np.ndarray:
    stacked = np.stack(parts)
    if op is R.SUM:
        return stacked.sum(0)
    if op is R.PRODUCT:
        return stacked.prod(0)
    if op is R.MAX:
        return stacked.max(0)
    if op is R.MIN:
        return stacked.min(0)
    total = stacked.sum(0)
    if stacked.dtype.kind == "f":
        return total / len(parts)
    return np.trunc(total / len(parts)).astype(stacked.dtype)  # ints: truncate toward zero


checked = 0
for dtype in ("float32", "float64", "int64"):
    everyone = [values(r, dtype) for r in range(size)]
    rtol = 1e-6 if dtype == "float32" else 1e-13
    for op in R:
        want = reference(op, everyone)
        for layout in ("contiguous", "fortran", "async"):
            mine = values(rank, dtype)  # a Fortran-ordered buffer takes the copy path
            t = mg.from_numpy(np.asfortranarray(mine) if layout == "fortran" else mine)
            if layout == "async":
                work = dist.all_reduce(t, op=op, async_op=True)
                work.wait()
                assert work.is_completed()
            else:
                assert dist.all_reduce(t, op=op) is None
            assert t.dtype == np.dtype(dtype), (t.dtype, dtype)
            np.testing.assert_allclose(t.numpy(), want, rtol=rtol, err_msg=f"{op} {dtype}")
            checked += 1
        # reduce_scatter: rank r receives the reduction of every rank's input_list[r]
        inputs = [mg.from_numpy(values(rank, dtype) * (j + 1)) for j in range(size)]
        out = mg.zeros(2, 3, dtype=dtype)
        dist.reduce_scatter(out, inputs, op=op)
        want_rs = reference(op, [values(r, dtype) * (rank + 1) for r in range(size)])
        np.testing.assert_allclose(out.numpy(), want_rs, rtol=rtol, err_msg=f"rs {op} {dtype}")
        checked += 1
    for src in range(size):
        t = mg.from_numpy(values(rank, dtype))
        dist.broadcast(t, src=src)
        np.testing.assert_array_equal(t.numpy(), everyone[src])
        checked += 1
    gathered = [mg.zeros(2, 3, dtype=dtype) for _ in range(size)]
    dist.all_gather(gathered, mg.from_numpy(values(rank, dtype)))
    for r in range(size):
        np.testing.assert_array_equal(gathered[r].numpy(), everyone[r])
    checked += 1

# a 0-d tensor, and a tensor that requires grad (the buffer changes, the graph does not)
scalar = mg.tensor(float(rank), dtype="float64")
dist.all_reduce(scalar, op=R.MAX)
assert scalar.item() == size - 1
leaf = mg.ones(3, requires_grad=True)
dist.all_reduce(leaf)
assert leaf.tolist() == [size] * 3 and leaf.is_leaf and leaf.grad is None
objects = [None] * size
dist.all_gather_object(objects, {"rank": rank})
assert objects == [{"rank": r} for r in range(size)]
dist.barrier()
dist.barrier(async_op=True).wait()
try:
    dist.all_reduce(mg.ones(2, dtype="float16"))
except TypeError as err:
    assert "float16" in str(err)
else:
    raise AssertionError("float16 was accepted")
dist.destroy_process_group()
if rank == 0:
    print(f"collectives ok: {checked} checks on {size} ranks")
