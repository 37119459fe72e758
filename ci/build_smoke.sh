#!/usr/bin/env bash
# Build the wheel and the sdist, install each into a fresh virtual environment (the package
# with --no-deps, then NumPy, its only dependency), and run a smoke test from outside the
# source tree: import, a tiny backward pass, the bundled digits.
# Usage: ci/build_smoke.sh [OUTDIR]   (default: a temporary directory, removed afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-}
if [[ -z "$out" ]]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

python -m build --outdir "$out/dist" "$root" >"$out/build.log" 2>&1 || {
  cat "$out/build.log"
  exit 1
}
wheel=$(ls "$out"/dist/microgradnp-*.whl)
sdist=$(ls "$out"/dist/microgradnp-*.tar.gz)
echo "built $(basename "$wheel") and $(basename "$sdist")"

# The data files and the licence must travel in both archives.
python - "$wheel" "$sdist" <<'PY'
import sys, tarfile, zipfile
wheel, sdist = sys.argv[1:]
names = zipfile.ZipFile(wheel).namelist()
for need in ("microgradnp/data_files/digits.npz", "microgradnp/data_files/DIGITS_LICENSE.md",
             "microgradnp/reference/sigmoid_net.py"):
    assert need in names, f"{need} missing from the wheel"
assert any(n.endswith("/LICENSE") for n in names), "LICENSE missing from the wheel"
tar = tarfile.open(sdist).getnames()
for need in ("LICENSE", "README.md", "microgradnp/data_files/digits.npz"):
    assert any(n.endswith("/" + need) for n in tar), f"{need} missing from the sdist"
PY

# NumPy from the local pip cache when there is one (no network needed), else from the index.
numpy_spec="numpy==$(python -c 'import numpy; print(numpy.__version__)')"

smoke() {
  local venv=$1 what=$2
  python -m venv "$venv"
  "$venv/bin/python" -m pip install -q --no-deps "$what"
  "$venv/bin/python" -m pip install -q "$numpy_spec"
  (cd "$out" && "$venv/bin/python" - <<'PY'
import microgradnp as mg
from microgradnp import nn

assert "site-packages" in mg.__file__, mg.__file__
x = mg.tensor([[0.5, -1.0], [2.0, 0.1]], requires_grad=True)
model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))
loss = (model(x) ** 2).mean()
loss.backward()
assert x.grad.shape == (2, 2) and model[0].weight.grad is not None
(g,) = mg.grad((x ** 3).sum(), x, create_graph=True)
(h,) = mg.grad(g.sum(), x)
assert abs(h.numpy() - 6 * x.detach().numpy()).max() < 1e-5
X, y = mg.datasets.load_digits()
assert X.shape == (1797, 64), X.shape
print(f"microgradnp {mg.__version__}: import, backward, second derivative, digits ok")
PY
  )
}
smoke "$out/venv-wheel" "$wheel"
smoke "$out/venv-sdist" "$sdist"
