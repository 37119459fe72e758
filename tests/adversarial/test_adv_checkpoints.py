"""Loading checkpoints: a failed Module.load_state_dict changes nothing; mg.load refuses
malformed files with a ValueError naming the file, never running code."""


import numpy as np
import pytest

import microgradnp as mg


def _model():
    mg.manual_seed(0)
    return mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.ReLU(), mg.nn.Linear(4, 2))


def _snapshot(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def _assert_unchanged(model, before):
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.detach().numpy(), before[key])


def _good_state():
    return {k: np.full(v.shape, 7.0, np.float32) for k, v in _model().state_dict().items()}


BAD_STATES = {
    "shape": lambda s: {**s, "2.weight": np.zeros((3, 4), np.float32)},
    "string": lambda s: {**s, "2.bias": "not a tensor"},
    "none": lambda s: {**s, "2.bias": None},
    "ragged": lambda s: {**s, "2.bias": [[1.0], [1.0, 2.0]]},
    "object": lambda s: {**s, "2.bias": np.array([object(), object()])},
    "complex": lambda s: {**s, "2.bias": np.zeros(2, np.complex64)},
    "missing": lambda s: {k: v for k, v in s.items() if k != "2.bias"},
    "unexpected": lambda s: {**s, "3.weight": np.zeros(2, np.float32)},
    "not a mapping": lambda s: list(s.items()),
}


@pytest.mark.parametrize("what", BAD_STATES)
def test_failed_module_load_changes_nothing(what):
    model = _model()
    before = _snapshot(model)
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        model.load_state_dict(BAD_STATES[what](_good_state()))
    _assert_unchanged(model, before)


def test_read_only_parameter_is_refused_before_anything_is_copied():
    model = _model()
    model[2].weight.data.flags.writeable = False
    before = _snapshot(model)
    with pytest.raises(RuntimeError, match="2.weight is read-only"):
        model.load_state_dict(_good_state())
    _assert_unchanged(model, before)


def test_a_copy_that_fails_midway_is_rolled_back(monkeypatch):
    model, state = _model(), _good_state()
    before = _snapshot(model)
    calls = []
    original = mg.Tensor.copy_

    def failing_copy(self, src, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("simulated failure on the third copy")
        return original(self, src, *args, **kwargs)

    monkeypatch.setattr(mg.Tensor, "copy_", failing_copy)
    with pytest.raises(MemoryError):
        model.load_state_dict(state)
    monkeypatch.undo()
    assert len(calls) == 3
    _assert_unchanged(model, before)
    model.load_state_dict(state)  # and a good load still works afterwards
    assert (model[0].weight.data == 7.0).all()
