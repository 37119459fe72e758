"""Helpers shared by the tests that compare with PyTorch in float64: the default dtype
float64 and single-threaded torch for every test of the importing module, loading
PyTorch's weights by key, and the comparison tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest

import microgradnp as mg

RTOL, ATOL = 1e-8, 1e-10


@pytest.fixture(autouse=True)
def _float64():
    mg.set_default_dtype(mg.float64)  # restored by conftest
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small problems: threads only contend
    yield
    torch.set_num_threads(threads)


def _load(model, tmodel):
    result = model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    assert list(model.state_dict()) == list(tmodel.state_dict())


def _close(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)
