import os

import numpy as np
import pytest
from hypothesis import settings

import microgradnp as mg

# CI runs the property-based tests on a fixed sequence of examples, so that a run is
# reproducible; elsewhere hypothesis explores new ones each time.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Tests may change the default dtype or grad mode; put them back afterwards."""
    dtype = mg.get_default_dtype()
    yield
    mg.set_default_dtype(dtype)
    mg.set_grad_enabled(True)
    mg.set_detect_anomaly(False)


@pytest.fixture
def torch():
    """PyTorch as the oracle (skipped where it is not installed), with its default dtype
    float32 for the test and restored afterwards."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield torch
    torch.set_default_dtype(previous)
