"""DistributedSampler partitions every epoch exactly, with the rank and size of the job.

Run as `mpiexec -n N python sampler.py`; rank 0 prints "sampler ok".
"""

import microgradnp as mg

dist = mg.distributed
dist.init_process_group(backend="mpi")
rank, size = dist.get_rank(), dist.get_world_size()
cases = 0
for n in [*range(0, 14), 50, 97]:
    for shuffle in (False, True):
        for drop_last in (False, True):
            sampler = mg.data.DistributedSampler(
                range(n), shuffle=shuffle, seed=3, drop_last=drop_last
            )
            orders = []
            for epoch in range(3):
                sampler.set_epoch(epoch)
                mine = list(sampler)
                assert list(sampler) == mine  # the same epoch gives the same share
                shares = [None] * size
                dist.all_gather_object(shares, mine)
                assert all(len(s) == len(sampler) for s in shares), (n, shares)
                # rank r holds positions r, r + size, ... of one global order
                order = [shares[i % size][i // size] for i in range(size * len(sampler))]
                if drop_last:
                    assert len(order) == n - n % size
                    assert len(set(order)) == len(order) and set(order) <= set(range(n))
                else:
                    assert len(order) == -(-n // size) * size
                    assert sorted(order[:n]) == list(range(n))  # each sample once ...
                    assert order[n:] == [order[i % n] for i in range(n, len(order))]  # + pad
                if not shuffle:
                    assert order == [i % n for i in range(len(order))] if n else order == []
                orders.append(order)
                cases += 1
            if shuffle and n >= 4:
                assert orders[0] != orders[1] != orders[2], "set_epoch must reshuffle"
dist.destroy_process_group()
if rank == 0:
    print(f"sampler ok: {cases} epochs partitioned on {size} ranks")
