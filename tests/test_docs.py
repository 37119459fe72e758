"""The documentation: API reference coverage, docstrings, `__all__`, runnable pages, notebooks.

The site itself is built by `mkdocs build --strict` and the notebooks are executed by
`pytest --nbmake docs/tutorials`; these tests check what can be checked without either.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

import microgradnp as mg

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PUBLIC_MODULES = [
    "microgradnp",
    "microgradnp.nn",
    "microgradnp.nn.functional",
    "microgradnp.nn.init",
    "microgradnp.nn.utils",
    "microgradnp.nn.utils.prune",
    "microgradnp.quantization",
    "microgradnp.optim",
    "microgradnp.optim.lr_scheduler",
    "microgradnp.data",
    "microgradnp.data.transforms",
    "microgradnp.datasets",
    "microgradnp.metrics",
    "microgradnp.train",
    "microgradnp.viz",
    "microgradnp.onnx",
    "microgradnp.plots",
    "microgradnp.explain",
    "microgradnp.adversarial",
]
# Modules whose docstrings are kept elsewhere (the engine); their names are still documented.
ENGINE = {
    "microgradnp.tensor",
    "microgradnp.primitive",
    "microgradnp.graph",
    "microgradnp.autograd",
    "microgradnp.grad_mode",
    "microgradnp.function",
}


def api_targets() -> tuple[set[str], dict[str, list[str] | None]]:
    """`::: target` directives of docs/api: single objects, and modules with their members
    option (None: the module's `__all__`)."""
    objects: set[str] = set()
    modules: dict[str, list[str] | None] = {}
    for page in sorted((DOCS / "api").glob("*.md")):
        for block in re.split(r"(?m)^(?=::: )", page.read_text(encoding="utf-8"))[1:]:
            target = block.split()[1]
            members = re.findall(r"(?m)^ {8}- (\S+)$", block)
            if inspect.ismodule(_resolve(target)):
                modules[target] = members or None
            else:
                objects.add(target)
    return objects, modules


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(dotted)


def public_names(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    return [n for n in module.__all__ if not inspect.ismodule(getattr(module, n))]


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_in_the_api_reference(module_name):
    objects, modules = api_targets()
    documented = set()
    for target in objects:
        documented.add(id(_resolve(target)))
    for target, members in modules.items():
        module = importlib.import_module(target)
        for name in module.__all__ if members is None else members:
            documented.add(id(getattr(module, name)))
    module = importlib.import_module(module_name)
    missing = [n for n in public_names(module_name) if id(getattr(module, n)) not in documented]
    # dtypes are named in the prose of the Tensor page, not rendered as objects
    prose = (DOCS / "api" / "tensor.md").read_text(encoding="utf-8")
    missing = [
        n
        for n in missing
        if not (isinstance(getattr(module, n), np.dtype) and f"`mg.{n}`" in prose)
    ]
    assert not missing, f"{module_name}: not in docs/api: {missing}"


def test_api_directives_resolve():
    objects, modules = api_targets()
    for target in objects | set(modules):
        assert _resolve(target) is not None
    for target, members in modules.items():
        for name in members or ():
            assert hasattr(importlib.import_module(target), name), f"{target}.{name}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_modules_export_only_their_api(module_name):
    module = importlib.import_module(module_name)
    assert isinstance(module.__all__, list) and len(set(module.__all__)) == len(module.__all__)
    star: dict = {}
    exec(f"from {module_name} import *", star)
    leaked = {"np", "numpy", "Any", "warnings", "annotations", "math", "Tensor"} & set(star)
    if module_name == "microgradnp":
        leaked.discard("Tensor")
    assert not leaked, f"`from {module_name} import *` exports {sorted(leaked)}"


def test_package_all_lists_every_public_attribute():
    submodules = {"creation", "dtypes", "function", "grad_mode", "graph", "ops", "primitive"}
    submodules |= {"random", "serialization", "tensor", "gradcheck", "reference"}
    public = {n for n in dir(mg) if not n.startswith("_")}
    unlisted = sorted(public - set(mg.__all__) - submodules)
    assert not unlisted, f"add to microgradnp.__all__: {unlisted}"


def _undocumented(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    out = []
    for name in public_names(module_name):
        obj = getattr(module, name)
        if getattr(obj, "__module__", None) in ENGINE or not callable(obj):
            continue
        if not inspect.getdoc(obj):
            out.append(name)
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                fn = value.fget if isinstance(value, property) else value
                fn = getattr(fn, "__func__", fn)
                if not attr.startswith("_") and callable(fn) and not fn.__doc__:
                    out.append(f"{name}.{attr}")
    return out


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_names_and_methods_have_docstrings(module_name):
    assert _undocumented(module_name) == []


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"(?ms)^```python\n(.*?)^```", page.read_text(encoding="utf-8"))


RUNNABLE_PAGES = [
    "index.md",
    "getting-started.md",
    "concepts/tensors-and-autograd.md",
    "concepts/graph.md",
    "concepts/modules.md",
    "concepts/training.md",
    "concepts/checkpoints.md",
    "concepts/graph-drawing.md",
    "explain.md",
]


@pytest.mark.parametrize("page", RUNNABLE_PAGES)
def test_code_on_the_page_runs(page, tmp_path, monkeypatch, capsys):
    blocks = python_blocks(DOCS / page)
    assert blocks, f"{page} has no python blocks"
    if "safetensors" in "".join(blocks) or "mg.save" in "".join(blocks):
        pytest.importorskip("safetensors")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile(block, f"docs/{page}", "exec"), namespace)
    mg.set_default_dtype(mg.float32)


def test_printed_values_on_the_pages_are_right(capsys):
    """The comments after print() state the output: check the ones with numbers."""
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x**2).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    w = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    loss = (w * mg.tensor([0.5, 0.5, 0.5])).sum() ** 2
    loss.backward()
    assert loss.item() == 1.0 and w.grad.tolist() == [1.0, 1.0, 1.0]


NOTEBOOKS = sorted((DOCS / "tutorials").rglob("*.ipynb"))


def test_the_tutorials_are_there():
    names = {p.name for p in NOTEBOOKS}
    assert {
        "01-backprop-by-hand.ipynb",
        "02-first-model.ipynb",
        "03-looking-inside.ipynb",
        "04-cnn.ipynb",
        "01-backprop-by-hand.zh.ipynb",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_executed_and_clean(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        skipped = "skip-execution" in cell["metadata"].get("tags", [])
        outputs = cell.get("outputs", [])
        assert not any(o["output_type"] == "error" for o in outputs)
        assert cell["execution_count"] is None if skipped else cell["execution_count"]
    assert [c["execution_count"] for c in code if c["execution_count"]] == list(
        range(1, 1 + sum(1 for c in code if c["execution_count"]))
    ), "execute the notebook from top to bottom before committing it"


@pytest.mark.parametrize(
    "name", ["01-backprop-by-hand.ipynb", "03-looking-inside.ipynb", "01-backprop-by-hand.zh.ipynb"]
)
def test_graph_notebooks_show_the_graph_inline_as_svg(name):
    (path,) = [p for p in NOTEBOOKS if p.name == name]
    nb = json.loads(path.read_text(encoding="utf-8"))
    svgs = [
        "".join(o["data"]["image/svg+xml"])
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if "image/svg+xml" in o.get("data", {})
    ]
    assert svgs and all("<svg" in s for s in svgs)


def test_the_cnn_tutorial_runs_every_cell():
    (path,) = [p for p in NOTEBOOKS if p.name == "04-cnn.ipynb"]
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not [c for c in code if "skip-execution" in c["metadata"].get("tags", [])]
    assert any("Conv2d" in "".join(c["source"]) for c in code)


def test_notebook_links_point_at_site_pages(caplog):
    mkdocs_files = pytest.importorskip("mkdocs.structure.files")
    import importlib.util

    spec = importlib.util.spec_from_file_location("nb_links", DOCS / "hooks" / "notebook_links.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)

    class Page(mkdocs_files.File):  # mkdocs-jupyter makes notebooks pages like this
        def is_documentation_page(self) -> bool:
            return True

    def doc(uri):
        return Page(uri, str(DOCS), "/site", use_directory_urls=True)

    nb, errata, other = (
        doc("tutorials/01-backprop-by-hand.ipynb"),
        doc("article-errata.md"),
        doc("tutorials/02-first-model.ipynb"),
    )
    files = mkdocs_files.Files([nb, errata, other])
    page = type("Page", (), {"file": nb})()
    html = (
        '<a href="../article-errata.md#e1a">x</a> <a href="02-first-model.ipynb">y</a> '
        '<a href="https://example.org/a.md">z</a> <a href="missing.md">w</a>'
    )
    out = hook.on_page_content(html, page=page, config=None, files=files)
    assert 'href="../../article-errata/#e1a"' in out
    assert 'href="../02-first-model/"' in out
    assert 'href="https://example.org/a.md"' in out and 'href="missing.md"' in out
    assert "tutorials/missing.md" in caplog.text
    md_page = type("Page", (), {"file": errata})()
    assert hook.on_page_content(html, page=md_page, config=None, files=files) == html
