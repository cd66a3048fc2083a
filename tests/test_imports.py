"""The architecture, enforced: arrows point down, each module imports alone, extras stay lazy."""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "src" / "chainrule"

# Lower layers never import higher ones: core ← functions ← nn ← optim ← app.
LAYERS = {
    "manual": 0, "backend": 0, "backend_threads": 0, "serialization": 0,
    "core": 1, "data": 1,
    "functions": 2, "gradcheck": 2,
    "nn": 3,
    "viz": 4,  # drawings of graphs; its expression parser calls functions and reads nn modules
    "optim": 4,
    "__init__": 5,  # the public face (chainrule/__init__.py) gathers the layers below it
    "distributed": 5,
    "func": 4,  # function transforms: grad, jvp, vjp, jacobians, hessians (above nn)
    "app": 6,  # the program behind the command: cli, training, builders, runfiles
    "__main__": 7,  # python -m chainrule
}

MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def layer_of(dotted):
    name = dotted.split(".")[1]
    is_module = (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()
    return LAYERS[name if is_module else "__init__"]  # `from chainrule import __version__`


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def chainrule_imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("chainrule."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "chainrule":
                yield from (f"chainrule.{a.name}" for a in node.names)
            elif node.module.startswith("chainrule."):
                yield node.module


def test_every_module_has_a_layer():
    unknown = {module_name(p).split(".")[1] for p in MODULES} - set(LAYERS)
    assert not unknown, f"add these modules to LAYERS: {sorted(unknown)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down_only(path):
    source = module_name(path)
    for target in chainrule_imports(path):
        same_package = target.split(".")[1] == source.split(".")[1]
        assert same_package or layer_of(target) < layer_of(source), f"{source} imports {target}"


def test_manual_layers_need_numpy_alone():
    assert not list(chainrule_imports(PACKAGE / "manual.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_each_module_imports_alone(path):
    subprocess.run([sys.executable, "-c", f"import {module_name(path)}"], check=True)


def test_import_chainrule_loads_no_optional_package():
    code = (
        "import sys, chainrule, chainrule.functions, chainrule.nn, chainrule.optim,"
        " chainrule.data\n"
        "heavy = {'torch', 'safetensors', 'tqdm', 'matplotlib', 'cupy', 'mpi4py', 'graphviz',"
        " 'scipy'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
