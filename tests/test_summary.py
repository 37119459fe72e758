"""mg.nn.utils.summary: rows per module call, output shapes, parameter counts, memory estimate."""

import numpy as np
import pytest

import microgradnp as mg
from microgradnp import nn
from microgradnp.nn.utils import summary


class Encoder(nn.Module):
    """Embedding -> LayerNorm -> a shared Linear applied twice -> two outputs."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.norm = nn.LayerNorm(16)
        self.block = nn.Sequential(nn.Linear(16, 16), nn.Tanh())
        self.head = nn.Linear(16, 3, bias=False)

    def forward(self, tokens, scale):
        h = self.block(self.block(self.norm(self.embed(tokens))))
        return self.head(h) * scale, h


def test_counts_shapes_and_memory_of_a_sequential(capsys):
    model = nn.Sequential(nn.Linear(64, 32), nn.Sigmoid(), nn.Dropout(0.5), nn.Linear(32, 10))
    result = summary(model, (8, 64))
    printed = capsys.readouterr().out
    assert printed.strip() == str(result).strip()
    assert result.total_params == sum(p.numel() for p in model.parameters()) == 2410
    assert result.trainable_params == 2410 and result.non_trainable_params == 0
    assert [(r.name, r.type, r.depth) for r in result.rows] == [
        ("", "Sequential", 0),
        ("0", "Linear", 1),
        ("1", "Sigmoid", 1),
        ("2", "Dropout", 1),
        ("3", "Linear", 1),
    ]
    assert [r.output_shape for r in result.rows] == [[8, 10], [8, 32], [8, 32], [8, 32], [8, 10]]
    assert [r.params for r in result.rows] == [0, 64 * 32 + 32, 0, 0, 32 * 10 + 10]
    assert result.params_bytes == 2410 * 4 and result.input_bytes == 8 * 64 * 4
    assert result.forward_backward_bytes == 2 * 4 * 8 * (32 + 32 + 32 + 10)
    assert result.total_bytes == (
        result.input_bytes + result.params_bytes + result.forward_backward_bytes
    )
    assert "Total params: 2,410" in printed and "Estimated total size (MB): 0.02" in printed
    assert "  0 (Linear)" in printed and "2,080" in printed
    assert model.training  # the mode is restored
    assert not model[0]._forward_hooks and not model[0]._forward_pre_hooks


def test_nested_shared_frozen_and_several_inputs(torch):
    mg.manual_seed(0)
    model = Encoder()
    model.head.requires_grad_(False)
    result = summary(model, [(2, 5), (1,)], dtypes=[mg.int64, mg.float32], verbose=0)
    total = sum(p.numel() for p in model.parameters())
    assert result.total_params == total == 50 * 16 + 2 * 16 + 16 * 16 + 16 + 16 * 3
    assert result.non_trainable_params == 48 and result.trainable_params == total - 48
    rows = [(r.name, r.depth, r.shared) for r in result.rows]
    assert rows[:4] == [
        ("", 0, False),
        ("embed", 1, False),
        ("norm", 1, False),
        ("block", 1, False),
    ]
    assert rows.count(("block.0", 2, False)) == 1 and rows.count(("block.0", 2, True)) == 1
    assert result.rows[0].output_shape == [[2, 5, 3], [2, 5, 16]]
    assert "(shared)" in str(result) and "[2, 5, 3], [2, 5, 16]" in str(result)
    # the same counts as PyTorch's modules of the same sizes
    theirs = [torch.nn.Embedding(50, 16), torch.nn.LayerNorm(16), torch.nn.Linear(16, 16)]
    theirs.append(torch.nn.Linear(16, 3, bias=False))
    assert total == sum(p.numel() for m in theirs for p in m.parameters())


def test_input_data_and_errors():
    model = nn.Linear(3, 2)
    result = summary(model, input_data=mg.tensor(np.ones((4, 3), np.float64)), verbose=0)
    assert result.rows[0].output_shape == [4, 2] and result.input_bytes == 4 * 3 * 8
    with pytest.raises(ValueError, match="input_size"):
        summary(model)
    with pytest.raises(ValueError, match="positive ints"):
        summary(model, (4, -3))
    with pytest.raises(ValueError, match="dtypes"):
        summary(model, (4, 3), dtypes=[mg.float32, mg.float32])
