"""The public surface is what each package's __all__ says, and the layers import only downwards."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["patcher", "presets", "preview"]

# package -> the project packages (and heavy UI libraries) it must not import
FORBIDDEN = {
    "patcher": {"presets", "preview", "gradio", "diffusers", "app"},
    "presets": {"preview", "gradio", "diffusers", "torch", "app"},
    "preview": {"presets", "gradio", "app"},
}


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name):
    package = importlib.import_module(name)
    assert sorted(package.__all__) == sorted(set(package.__all__)), "duplicates in __all__"
    for member in package.__all__:
        assert hasattr(package, member), f"{name}.__all__ names {member}, which does not exist"
    public = {n for n, v in vars(package).items() if not n.startswith("_") and not isinstance(v, type(package))}
    assert public <= set(package.__all__), f"{name} exposes names missing from __all__: {public - set(package.__all__)}"


@pytest.mark.parametrize("name", PACKAGES)
def test_layers_import_only_downwards(name):
    for path in (ROOT / name).glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] not in FORBIDDEN[name], f"{path.relative_to(ROOT)} imports {module}"
