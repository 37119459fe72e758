"""Print the conformance table of docs/conformance.md from the collected test cases.

    PYTHONPATH=. python tests/conformance_table.py > /tmp/table.md

Each row is a layer (or op); each column counts the test cases of one kind that exercise
it: forward = torch and backward = torch (same weights, float64, every gradient), gradcheck
and gradgradcheck (finite differences in float64). Rows come from `ROWS`: the pytest node
ids whose test name and parameter id match. Extend ROWS for new layers.
"""

from __future__ import annotations

import re
import subprocess
import sys

FILES = ["tests/test_conv_layers.py", "tests/test_ops.py", "tests/test_layers.py"]

# row -> (ids from test_conv_layers' layer tests, op-table entries, other tests by name)
ROWS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "Conv2d / F.conv2d": (("Conv2d",), ("conv2d",), ("test_needle_conv_shapes_match_torch",)),
    "Conv1d / F.conv1d": (("Conv1d",), ("conv1d",), ()),
    "ConvTranspose2d / F.conv_transpose2d": (("ConvTranspose2d",), ("conv_transpose2d",),
                                             ("test_conv_transpose_output_size_matches_torch",)),
    "MaxPool1d": (("MaxPool1d",), (), ()),
    "MaxPool2d / F.max_pool2d": (("MaxPool2d",), ("max_pool2d",),
                                 ("test_max_pool_return_indices_match_torch",)),
    "AvgPool1d": (("AvgPool1d",), (), ()),
    "AvgPool2d / F.avg_pool2d": (("AvgPool2d",), ("avg_pool2d",), ()),
    "AdaptiveAvgPool2d": (("AdaptiveAvgPool2d",), ("adaptive_avg_pool2d",), ()),
    "BatchNorm1d": (("BatchNorm1d",), (), ()),
    "BatchNorm2d": (("BatchNorm2d",), (), ()),
    "F.batch_norm (training)": ((), ("batch_norm",), ()),
    "GroupNorm / F.group_norm": (("GroupNorm",), ("group_norm",), ()),
    "LayerNorm": (("LayerNorm",), (), ("test_layer_norm_matches_torch",
                                         "test_layer_norm_gradcheck_and_errors")),
    "Embedding": ((), (), ("test_embedding_matches_torch", "test_embedding_options_match_torch")),
    "GELU (none, tanh)": (("GELU",), ("gelu", "gelu_tanh"), ()),
    "SiLU": (("SiLU",), ("silu",), ()),
    "LeakyReLU": (("LeakyReLU",), ("leaky_relu",), ()),
    "ELU": (("ELU",), ("elu",), ()),
    "Softplus": (("Softplus",), ("softplus",), ()),
    "Unflatten": (("Unflatten",), (), ()),
    "F.unfold": ((), ("unfold",), ()),
    "F.fold": ((), ("fold",), ()),
    "F.pad reflect / replicate": ((), ("pad_modes",), ()),
    "erf": ((), ("erf",), ()),
    "cumsum": ((), ("cumsum",), ()),
    "sort": ((), ("sort",), ("test_sort_topk_namedtuples_and_indices",)),
    "topk": ((), ("topk",), ("test_sort_topk_namedtuples_and_indices",)),
}  # fmt: skip

KINDS = ("forward = torch", "backward = torch", "gradcheck", "gradgradcheck")


def _collect() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *FILES],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line for line in out.splitlines() if "::" in line]


FORWARD_ONLY = (
    "test_max_pool_return_indices_match_torch",
    "test_sort_topk_namedtuples_and_indices",
    "test_conv_transpose_output_size_matches_torch",
)


def _kinds(test: str) -> tuple[str, ...]:
    if test in FORWARD_ONLY:  # values and indices only
        return KINDS[:1]
    if test in ("test_layer_matches_torch", "test_against_torch") or test.endswith("torch"):
        return KINDS[:2]
    if test in ("test_layer_gradcheck", "test_gradcheck"):
        return ("gradcheck",)
    if test in ("test_layer_gradgradcheck", "test_gradgradcheck"):
        return ("gradgradcheck",)
    if test == "test_layer_norm_gradcheck_and_errors":
        return ("gradcheck",)
    return ()


def counts() -> dict[str, dict[str, int]]:
    table = {row: dict.fromkeys(KINDS, 0) for row in ROWS}
    for node in _collect():
        test, _, param = node.split("::", 1)[1].partition("[")
        param = param.rstrip("]")
        for row, (layers, ops, named) in ROWS.items():
            hit = (
                node.startswith("tests/test_conv_layers.py")
                and test.startswith("test_layer_")
                and param.split("-")[0] in layers
            )
            hit = hit or (
                node.startswith("tests/test_ops.py") and re.sub(r"-\d+$", "", param) in ops
            )
            hit = hit or test in named  # fmt: skip
            if hit:
                for kind in _kinds(test):
                    table[row][kind] += 1
    return table


def markdown() -> str:
    lines = ["| layer / op | " + " | ".join(KINDS) + " |", "|---|" + "---:|" * len(KINDS)]
    total = dict.fromkeys(KINDS, 0)
    for row, c in counts().items():
        lines.append(f"| {row} | " + " | ".join(str(c[k]) for k in KINDS) + " |")
        for k in KINDS:
            total[k] += c[k]
    lines.append("| **total** | " + " | ".join(f"**{total[k]}**" for k in KINDS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
