"""mg.data.DataLoader with num_workers > 0: order, seeding, errors, shutdown, options."""

import gc
import multiprocessing
import os
import time

import numpy as np
import pytest

import microgradnp as mg
from microgradnp.data import DataLoader, Dataset, TensorDataset, get_worker_info


class Items(Dataset):
    """Sample i is (i as float32 pair, label i % 3); sample `bad` raises; every `slow`-th
    sample sleeps `delay` seconds (to make workers finish out of order)."""

    def __init__(self, n, bad=None, delay=0.0):
        self.n, self.bad, self.delay = n, bad, delay

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if index == self.bad:
            raise KeyError(f"sample {index} is broken")
        if self.delay and index % 4 == 0:
            time.sleep(self.delay)
        return np.full(2, float(index), dtype=np.float32), index % 3


class RandomDraws(Dataset):
    """Each sample is a draw from mg's global generator, plus the worker's id and seed."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        info = get_worker_info()
        return float(mg.rand(()).item()), info.id, info.seed


def _as_lists(loader):
    return [[t.tolist() for t in batch] for batch in loader]


def _no_children_left():
    return multiprocessing.active_children() == []


def test_workers_give_the_batches_of_the_main_process_in_order():
    ds = Items(23, delay=0.01)
    expected = _as_lists(DataLoader(ds, batch_size=3))
    assert _as_lists(DataLoader(ds, batch_size=3, num_workers=2)) == expected
    fast = TensorDataset(np.arange(46.0).reshape(23, 2), np.arange(23))
    for kwargs in (dict(shuffle=True, drop_last=True), dict(shuffle=True)):
        one = _as_lists(DataLoader(fast, 4, generator=np.random.default_rng(7), **kwargs))
        two = _as_lists(
            DataLoader(fast, 4, generator=np.random.default_rng(7), num_workers=3, **kwargs)
        )
        assert one == two
    assert _no_children_left()


def test_worker_seeds_are_base_seed_plus_id_and_reproducible():
    def run():
        loader = DataLoader(RandomDraws(), batch_size=2, num_workers=2)
        return [[b.tolist() if hasattr(b, "tolist") else b for b in batch] for batch in loader]

    mg.manual_seed(0)
    first = run()
    mg.manual_seed(0)
    assert run() == first
    mg.manual_seed(1)
    assert run() != first
    ids = [i for _, worker_ids, _ in first for i in worker_ids]
    assert ids == [0, 0, 1, 1, 0, 0, 1, 1]  # batches go round robin
    seeds = {i: s for _, worker_ids, seeds in first for i, s in zip(worker_ids, seeds, strict=True)}
    assert seeds[1] == seeds[0] + 1
    # worker 0 drew its values from mg.manual_seed(seed): check the first one
    mg.manual_seed(seeds[0])
    assert first[0][0][0] == pytest.approx(mg.rand(()).item())
    mg.manual_seed(0)
    base = int(np.random.default_rng(0).integers(2**62))  # the main generator's next draw
    assert seeds[0] == base
    # a new epoch (a new iterator) draws a new base seed from the loader's generator
    loader = DataLoader(
        RandomDraws(), batch_size=4, num_workers=1, generator=np.random.default_rng(5)
    )
    epoch_seeds = [int(batch[2][0].item()) for _ in range(2) for batch in loader]
    rng = np.random.default_rng(5)
    first_base, second_base = int(rng.integers(2**62)), int(rng.integers(2**62))
    assert epoch_seeds == [first_base, first_base, second_base, second_base]


def test_worker_init_fn_runs_in_each_worker():
    calls = []  # filled in the workers (separate processes): check through the batches

    def init(worker_id):
        info = get_worker_info()
        assert info.id == worker_id and info.num_workers == 2
        os.environ["MG_TEST_WORKER"] = f"init {worker_id}"

    class Env(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return os.environ.get("MG_TEST_WORKER", "none")

    loader = DataLoader(Env(), batch_size=1, num_workers=2, worker_init_fn=init)
    assert [b for (b,) in loader] == ["init 0", "init 1", "init 0", "init 1"]
    assert calls == [] and "MG_TEST_WORKER" not in os.environ


def test_worker_exception_is_reraised_with_its_traceback():
    loader = DataLoader(Items(12, bad=7), batch_size=2, num_workers=2)
    with pytest.raises(KeyError) as info:
        list(loader)
    message = str(info.value)
    assert "Caught KeyError in DataLoader worker process 1" in message
    assert "Traceback (most recent call last)" in message
    assert "sample 7 is broken" in message and "__getitem__" in message
    assert _no_children_left()

    def failing_init(worker_id):
        raise RuntimeError(f"init failed in {worker_id}")

    with pytest.raises(RuntimeError, match="init failed in 0"):
        list(DataLoader(Items(4), batch_size=2, num_workers=1, worker_init_fn=failing_init))
    assert _no_children_left()


def test_shutdown_when_exhausted_deleted_or_timed_out():
    loader = DataLoader(Items(40), batch_size=2, num_workers=2)
    iterator = iter(loader)
    next(iterator)
    workers = list(iterator._workers)
    assert len(workers) == 2 and all(w.is_alive() for w in workers)
    del iterator
    gc.collect()
    assert all(w.exitcode is not None for w in workers) and _no_children_left()

    slow = DataLoader(Items(8, delay=6.0), batch_size=1, num_workers=1, timeout=0.3)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="timed out after 0.3 seconds"):
        list(slow)
    # the busy worker is terminated rather than waited for
    assert time.perf_counter() - start < 5.0 and _no_children_left()


def test_persistent_workers_survive_epochs():
    ds = Items(9)
    loader = DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True, prefetch_factor=1)
    first = iter(loader)
    epoch_one = _as_lists(first)
    workers = list(first._workers)
    epoch_two = _as_lists(loader)
    assert epoch_one == epoch_two == _as_lists(DataLoader(ds, batch_size=2))
    assert loader._iterator is first and all(w.is_alive() for w in workers)
    # an epoch abandoned half way: the next one starts from its first batch again
    partial = iter(loader)
    next(partial)
    assert _as_lists(loader) == epoch_one
    first._shutdown_workers()
    assert all(w.exitcode is not None for w in workers) and _no_children_left()


def test_spawn_context_gives_the_same_batches():
    ds = TensorDataset(np.arange(12.0).reshape(6, 2), np.arange(6))
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert _as_lists(loader) == _as_lists(DataLoader(ds, batch_size=4))
    assert _no_children_left()
