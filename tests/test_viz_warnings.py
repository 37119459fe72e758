"""mg.viz: a model passed as `params` whose parameters are not in the graph is reported."""

import warnings

import pytest

import microgradnp as mg
from microgradnp import nn, viz


def _loss(model):
    return model(mg.randn(3, 2)).sum()


def test_warns_when_no_parameter_of_the_model_is_in_the_graph(tmp_path):
    model, other = nn.Sequential(nn.Linear(2, 2)), nn.Linear(2, 2)
    loss = _loss(other)
    with pytest.warns(UserWarning, match=r"params=Sequential\(\.\.\.\): none of the model's 2"):
        viz.to_dot(loss, params=model)
    with pytest.warns(UserWarning, match="none of the model's") as record:
        viz.save_graph(loss, tmp_path / "graph.dot", params=model)
    assert record[0].filename == __file__  # points at the caller, not inside mg.viz
    with mg.no_grad():
        quiet = _loss(model) * 1.0
    x = mg.randn(2, requires_grad=True)
    with pytest.warns(UserWarning, match="no_grad"):
        viz.to_dot((x * 2.0).sum() + quiet.sum(), params=model)


def test_no_warning_when_the_model_is_used_or_has_no_parameters():
    model = nn.Linear(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dot = viz.to_dot(_loss(model), params=model)
        assert "<B>weight</B>" in dot or "weight" in dot
        viz.to_dot(_loss(nn.Linear(2, 2)), params=nn.Sigmoid())  # nothing to name
        viz.to_dot(_loss(model), params={"w": model.weight})  # a dict is not a model
