import numpy as np
import pytest

import microgradnp as mg


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Tests may change the default dtype or grad mode; put them back afterwards."""
    dtype = mg.get_default_dtype()
    yield
    mg.set_default_dtype(dtype)
    mg.autograd.GradMode.enabled = True
    mg.autograd.GradMode.anomaly = False


@pytest.fixture
def torch():
    """PyTorch as the oracle (skipped where it is not installed), with its default dtype
    float32 for the test and restored afterwards."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield torch
    torch.set_default_dtype(previous)
