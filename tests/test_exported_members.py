"""The public surface is what each package's __all__ says, and the layers import only downwards."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAB = "svd_attention_lab"

# The layers, lowest first; each may import only those before it (directly or through others), except
# what NOT_BELOW names. ``presets`` sits beside ``patcher``: both stand on ``controls`` alone.
LAYERS = ["controls", "files", "patcher", "presets", "checkpoints", "engine", "outputs", "studies", "hosting",
          "ui", "batch"]
TOP_LEVEL = {"patcher", "presets"}  # the design card's top level; the rest live in the library package
NOT_BELOW = {  # lower layers a package must still not import
    "patcher": {"presets"},
    "checkpoints": {"presets"},
    "engine": {"presets"},
    "outputs": {"presets"},
    "studies": {"presets"},
    "hosting": {"presets"},
    "batch": {"ui", "hosting"},
}
HEAVY = {  # libraries a package must not load on import
    "controls": {"torch", "numpy", "gradio", "diffusers"},
    "files": {"torch", "numpy", "gradio", "diffusers"},
    "patcher": {"gradio", "diffusers"},
    "presets": {"torch", "gradio", "diffusers"},
    "checkpoints": {"gradio", "diffusers"},
    "engine": {"gradio", "ray", "pyarrow", "matplotlib"},
    "outputs": {"gradio", "diffusers", "ray", "pyarrow", "matplotlib"},
    "studies": {"gradio", "ray", "pyarrow", "matplotlib"},
    "hosting": {"gradio", "ray", "pyarrow", "matplotlib"},
    "ui": {"ray", "pyarrow", "matplotlib"},
    "batch": {"gradio", "ray", "pyarrow", "matplotlib"},  # ray & co. only when running
}


def module_name(layer: str) -> str:
    return layer if layer in TOP_LEVEL else f"{LAB}.{layer}"


def allowed(layer: str) -> set[str]:
    below = set(LAYERS[:LAYERS.index(layer)]) - NOT_BELOW.get(layer, set())
    if layer not in ("patcher", "presets"):
        return below
    return {"controls"}  # beside each other, not on each other


PACKAGES = [module_name(layer) for layer in LAYERS if layer != "files"]
PROJECT = {module_name(layer) for layer in LAYERS} | {f"{LAB}.demo_model", "app"}
FORBIDDEN = {module_name(layer): (PROJECT - {module_name(a) for a in allowed(layer)} - {module_name(layer)})
             | HEAVY[layer] for layer in LAYERS}
FORBIDDEN[f"{LAB}.__main__"] = FORBIDDEN[f"{LAB}.hosting"] | {f"{LAB}.hosting"}  # the render command: below hosting


def test_the_library_package_imports_nothing_itself():
    code = f"import sys\nimport {LAB}\nprint(sorted(m for m in sys.modules if m.startswith('{LAB}.')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stderr[-2000:]


def test_the_top_level_is_the_design_cards():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert packages == {"patcher", "presets", LAB, "comfyui_svd_attention_lab"}


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name):
    package = importlib.import_module(name)
    assert sorted(package.__all__) == sorted(set(package.__all__)), "duplicates in __all__"
    for member in package.__all__:
        assert hasattr(package, member), f"{name}.__all__ names {member}, which does not exist"
    public = {n for n, v in vars(package).items() if not n.startswith("_") and not isinstance(v, type(package))}
    assert public <= set(package.__all__), f"{name} exposes names missing from __all__: {public - set(package.__all__)}"


@pytest.mark.parametrize("name", PACKAGES)
def test_importing_a_package_loads_none_of_its_forbidden_modules(name):
    """Transitively: a blocked module (set to None in sys.modules) makes any import of it fail."""
    blocked = sorted(FORBIDDEN[name])
    code = (f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\n"
            f"import {name}\nprint('ok')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_the_app_runs_without_the_batch_dependencies():
    code = (f"import sys\nfor m in ['{LAB}.batch', 'ray', 'pyarrow', 'matplotlib']: sys.modules[m] = None\n"
            "import app\napp.build_demo\nprint('ok')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_the_block_in_the_test_above_really_blocks():
    code = "import sys\nsys.modules['torch'] = None\nimport patcher"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "torch" in result.stderr


def _dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _package_of(module: str) -> str | None:
    """The project package (longest prefix in FORBIDDEN) a dotted module name belongs to."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in FORBIDDEN:
            return ".".join(parts[:n])
    return None


COMMANDS = sorted(p for d in PACKAGES for name in ("__main__.py", "_cli.py")
                  if (p := ROOT.joinpath(*d.split("."), name)).is_file()) + [ROOT / LAB / "__main__.py"]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_command_module_imports_upwards(path):
    """A package's command line obeys the package's own import rules, lazy imports inside functions included."""
    own = _dotted(path) if path.name == "__main__.py" and path.parent.name == LAB else _dotted(path.parent)
    upward = FORBIDDEN[own] & PROJECT
    for module in _imports(path):
        assert _package_of(module) not in upward, f"{path.relative_to(ROOT)} imports {module}, above its package"


def test_the_command_check_sees_a_lazy_upward_import(tmp_path):
    fake = tmp_path / "__main__.py"
    fake.write_text(f"def main():\n    from {LAB}.batch import batch_main\n")
    assert f"{LAB}.batch" in {_package_of(m) for m in _imports(fake)}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


SOURCES = sorted(p for d in [*PACKAGES, f"{LAB}.demo_model"] for p in ROOT.joinpath(*d.split(".")).glob("*.py")) + [
    ROOT / LAB / "__main__.py", ROOT / LAB / "files.py", ROOT / "app.py"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_another_packages_private_module(path):
    own = _package_of(_dotted(path))
    for module in _imports(path):
        package = _package_of(module)
        if package is not None and package != own:
            private = [p for p in module[len(package) + 1:].split(".") if p.startswith("_")]
            assert not private, f"{path.relative_to(ROOT)} imports {module}, a private part of {package}"


def test_the_runtime_never_imports_the_training_code():
    for path in SOURCES:
        if f"{LAB}.demo_model" not in _dotted(path):
            assert not any(m.startswith(f"{LAB}.demo_model") for m in _imports(path)), path


def _elsewhere(package: str) -> str:
    """The code outside ``package`` (the app, the other packages, bench/ and docs/ scripts; not the tests)
    and the user documentation, as one text."""
    own = ROOT.joinpath(*package.split("."))
    code = [p for p in ROOT.rglob("*.py") if not {".git", "tests", "third_party"} & set(p.relative_to(ROOT).parts)
            and own not in p.parents]
    docs = [ROOT / "README.md", *ROOT.glob("docs/*.md")]
    return "\n".join(p.read_text(encoding="utf-8") for p in [*code, *docs])


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_name_is_called_by_another_package_or_documented_for_users(name):
    import re

    package = importlib.import_module(name)
    text = _elsewhere(name)
    unused = [n for n in package.__all__ if not re.search(rf"\b{re.escape(n)}\b", text)]
    assert not unused, f"{name}.__all__ lists names nothing outside it calls and no document mentions: {unused}"
