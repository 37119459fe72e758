"""Numerical edge values: one input, one output, at every array size and as PyTorch."""

import warnings

import numpy as np
import pytest

import microgradnp as mg

EDGES = [-1000.0, -745.0, -720.0, -100.0, -90.0, -88.0, -20.0, 0.0, 20.0, 90.0, 1000.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_of_extreme_inputs_matches_torch(torch, dtype):
    x = np.array(EDGES, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        ours = mg.sigmoid(mg.tensor(x)).numpy()
    theirs = torch.sigmoid(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_gives_one_answer_at_every_size(dtype):
    answers = set()
    for n in (1, 100, 16383, 16384, 100_000):
        for value in (-1000.0, -720.0, -100.0):
            out = mg.sigmoid(mg.tensor(np.full(n, value, dtype))).numpy()
            assert (out == out[0]).all()
            answers.add((value, float(out[0])))
        answers.add(("0-d", float(mg.sigmoid(mg.tensor(np.asarray(-720.0, dtype))).item())))
    assert len(answers) == 4, answers
