"""mg.distributed, DistributedDataParallel and DistributedSampler.

The multi-process tests launch `mpiexec -n 2` and `-n 4` (oversubscribed on small machines)
on the scripts in tests/dist_scripts/, each under a time limit; they are skipped only where
mpi4py or mpiexec is missing (`pip install 'microgradnp[dist]'` installs both).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import microgradnp as mg

dist = mg.distributed
ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "dist_scripts"


def _mpiexec() -> str | None:
    """The launcher next to this Python (pip's mpich puts it there), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(
    not dist.is_available() or _mpiexec() is None,
    reason="MPI is not installed (mpi4py and mpiexec): pip install 'microgradnp[dist]'",
)


def launch(n: int, script: str, *args: str, limit: float = 30.0) -> tuple[int, str, float]:
    """Run `mpiexec -n n python script args`; return (exit code, stdout+stderr, seconds).

    The job runs in its own session so that a hang is killed whole at `limit` seconds.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [_mpiexec(), "-n", str(n), sys.executable, str(SCRIPTS / script), *args]
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"mpiexec -n {n} {script} {' '.join(args)} hung for {limit} s:\n{out}")
    return proc.returncode, out, time.monotonic() - start


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_collectives_every_op_and_dtype(n):
    code, out, _ = launch(n, "collectives.py", str(n))
    assert code == 0, out
    assert f"collectives ok: {69 if n == 2 else 75} checks on {n} ranks" in out


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_data_parallel_equals_one_process_on_the_global_batch(n):
    code, out, _ = launch(n, "equivalence.py")
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("equivalence")]
    assert len(lines) == 8, out  # {sgd, adam} x {float32, float64} x {no_sync or not}


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_ddp_buffers_no_sync_unused_fit_and_checkpoint(n, tmp_path):
    code, out, _ = launch(n, "ddp_behaviour.py", str(tmp_path))
    assert code == 0, out
    assert f"ddp behaviour ok on {n} ranks" in out
    assert ("BatchNorm buffers follow rank 0" in out) == hasattr(mg.nn, "BatchNorm1d")
    assert (tmp_path / "model.safetensors").exists()


@needs_mpi
@pytest.mark.parametrize("n", [3, 4])
def test_sampler_partitions_every_epoch(n):
    code, out, _ = launch(n, "sampler.py")
    assert code == 0, out
    assert f"sampler ok: 192 epochs partitioned on {n} ranks" in out


@needs_mpi
@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("exception", 1, "[rank 1] uncaught ValueError: bad batch on purpose"),
        ("kill", 9, "Killed (signal 9)"),
        (
            "mismatch",
            1,
            "parameter '1.weight' has shape (4, 4) and dtype float32 on rank 0, but rank 1 has "
            "'1.weight' with shape (5, 4)",
        ),
    ],
)
def test_a_failing_rank_ends_the_job_quickly(kind, code, message):
    returncode, out, seconds = launch(4, "fault.py", kind, limit=30)
    assert returncode == code, out
    assert message in out
    assert "unreachable" not in out
    assert seconds < 10, f"the job took {seconds:.1f} s to end"


def test_sampler_matches_torch_partition_and_padding(torch):
    from torch.utils.data import DistributedSampler as TorchSampler

    for n in range(0, 23):
        for replicas in range(1, 6):
            for drop_last in (False, True):
                for rank in range(replicas):
                    ours = mg.data.DistributedSampler(range(n), replicas, rank, False, 0, drop_last)
                    theirs = TorchSampler(range(n), replicas, rank, False, 0, drop_last)
                    assert list(ours) == list(theirs), (n, replicas, rank, drop_last)
                    assert len(ours) == len(theirs)


def test_sampler_shuffles_by_seed_and_epoch():
    a = mg.data.DistributedSampler(range(20), num_replicas=2, rank=0, seed=5)
    b = mg.data.DistributedSampler(range(20), num_replicas=2, rank=1, seed=5)
    first = list(a)
    assert sorted(first + list(b)) == list(range(20))
    assert first != list(range(0, 20, 2))
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) != first and sorted(list(a) + list(b)) == list(range(20))
    a.set_epoch(0)
    assert list(a) == first


def test_sampler_errors():
    with pytest.raises(
        ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"
    ):
        mg.data.DistributedSampler(range(5), num_replicas=3, rank=3)
    with pytest.raises(RuntimeError, match="init_process_group"):
        mg.data.DistributedSampler(range(5))


def test_errors_before_and_during_initialisation():
    with pytest.raises(RuntimeError, match="all_reduce: default process group has not been"):
        dist.all_reduce(mg.ones(2))
    with pytest.raises(ValueError, match="backend 'gloo' is not supported"):
        dist.init_process_group(backend="gloo")
    with pytest.raises(RuntimeError, match="init_process_group"):
        mg.nn.parallel.DistributedDataParallel(mg.nn.Linear(2, 2))


@needs_mpi
def test_single_rank_group_checks_arguments():
    dist.init_process_group("mpi")
    try:
        with pytest.raises(RuntimeError, match="twice"):
            dist.init_process_group("mpi")
        with pytest.raises(TypeError, match="dtype bool cannot be sent"):
            dist.all_reduce(mg.ones(2) > 0)
        with pytest.raises(ValueError, match=r"tensor_list must hold one tensor per rank \(1\)"):
            dist.all_gather([mg.ones(2), mg.ones(2)], mg.ones(2))
        with pytest.raises(ValueError, match=r"input_list\[0\] has shape \(3,\)"):
            dist.reduce_scatter(mg.ones(2), [mg.ones(3)])
        with pytest.raises(ValueError, match=r"src must be a rank in \[0, 1\), got 1"):
            dist.broadcast(mg.ones(2), src=1)
        with pytest.raises(TypeError, match="op must be a ReduceOp"):
            dist.all_reduce(mg.ones(2), op="sum")
        with pytest.raises(TypeError, match="wraps an nn.Module"):
            mg.nn.parallel.DistributedDataParallel(lambda x: x)
        assert sys.excepthook is not sys.__excepthook__
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()


def test_missing_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert not dist.is_available()
    with pytest.raises(ImportError, match=r"pip install 'microgradnp\[dist\]'"):
        dist.init_process_group("mpi")


@needs_mpi
def test_ddp_buckets_follow_reverse_registration_order_and_cap():
    dist.init_process_group("mpi")
    try:
        model = mg.nn.Sequential(mg.nn.Linear(100, 100), mg.nn.Linear(100, 10)).double()
        # 0.05 MiB (52,428 bytes) holds the last layer and bias (8,880 bytes of float64), not
        # the 100x100 weight as well (80,000 bytes more)
        ddp = mg.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.05)
        shapes = [[p.shape for p in bucket.params] for bucket in ddp._buckets]
        assert shapes == [[(10,), (10, 100), (100,)], [(100, 100)]]
        x = mg.randn(4, 100, dtype="float64")
        ddp(x).sum().backward()
        grad = model[1].weight.grad.numpy().copy()
        model.zero_grad()
        model(x).sum().backward()  # one rank: the average is the gradient itself
        np.testing.assert_array_equal(model[1].weight.grad.numpy(), grad)
    finally:
        dist.destroy_process_group()


@needs_mpi
def test_ddp_starts_each_bucket_as_soon_as_it_is_complete(monkeypatch):
    """A bucket's allreduce is launched while later parameters are still being accumulated;
    all are awaited only after the last bucket is launched; float32 and float64 parameters
    travel in separate buckets."""
    from microgradnp.nn import parallel

    events = []
    launch, finish = parallel._Bucket.launch, parallel._Bucket.finish
    monkeypatch.setattr(parallel._Bucket, "launch", lambda b: (events.append("launch"), launch(b)))
    monkeypatch.setattr(parallel._Bucket, "finish", lambda b: (events.append("finish"), finish(b)))
    dist.init_process_group("mpi")
    try:
        model = mg.nn.Sequential(mg.nn.Linear(30, 30), mg.nn.Linear(30, 30).double())
        ddp = mg.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.003)
        dtypes = [{str(p.dtype) for p in bucket.params} for bucket in ddp._buckets]
        assert dtypes == [{"float64"}, {"float64"}, {"float32"}, {"float32"}], dtypes
        for p in model.parameters():  # registered after DDP's hook, so called after it
            p.register_post_accumulate_grad_hook(lambda p: events.append("ready"))
        x = mg.randn(5, 30)
        ddp(x).double().sum().backward()
        # the first launch comes before the last parameter is ready ...
        assert events.index("launch") < len(events) - 1 - events[::-1].index("ready")
        # ... and the waits come after the last launch (the last "ready" is our hook's,
        # called after DDP's hook on the same parameter)
        assert events[-5:] == ["finish"] * 4 + ["ready"] and events.count("launch") == 4
    finally:
        dist.destroy_process_group()


@needs_mpi
def test_ddp_example_trains(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [_mpiexec(), "-n", "2", sys.executable, str(ROOT / "examples" / "ddp_mnist.py"),
           "--epochs", "3", "--out", str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    accuracy = float(proc.stdout.split("test accuracy ")[1].split(";")[0])
    assert accuracy > 0.85, proc.stdout
    assert (tmp_path / "ddp_digits.safetensors").exists()
