"""The public surface is what each package's __all__ says, and the layers import only downwards."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["controls", "patcher", "checkpoints", "presets", "preview", "batch", "ui"]

# package -> the project packages and heavy libraries it must not import, directly or through others
FORBIDDEN = {
    "controls": {"patcher", "checkpoints", "presets", "preview", "batch", "ui", "demo_model", "app", "torch", "numpy",
                 "gradio", "diffusers"},
    "patcher": {"checkpoints", "presets", "preview", "batch", "ui", "demo_model", "app", "gradio", "diffusers"},
    "checkpoints": {"presets", "preview", "batch", "ui", "demo_model", "app", "gradio", "diffusers"},
    "presets": {"patcher", "checkpoints", "preview", "batch", "ui", "demo_model", "app", "torch", "gradio",
                "diffusers"},
    "preview": {"presets", "batch", "ui", "demo_model", "app", "gradio", "ray", "pyarrow", "matplotlib"},
    "batch": {"demo_model", "app", "gradio", "ray", "pyarrow", "matplotlib"},  # ray & co. only when running
    "ui": {"batch", "demo_model", "app", "ray", "pyarrow", "matplotlib"},
}
PROJECT = {*PACKAGES, "demo_model", "app"}


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
    code = ("import sys\nfor m in ['batch', 'ray', 'pyarrow', 'matplotlib']: sys.modules[m] = None\n"
            "import app\napp.build_demo\nprint('ok')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_the_block_in_the_test_above_really_blocks():
    code = "import sys\nsys.modules['torch'] = None\nimport patcher"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "torch" in result.stderr


COMMANDS = sorted(p for d in PACKAGES for name in ("__main__.py", "_cli.py") if (p := ROOT / d / name).is_file())


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_command_module_imports_upwards(path):
    """A package's command line obeys the package's own import rules, lazy imports inside functions included."""
    upward = FORBIDDEN[path.parent.name] & PROJECT
    for module in _imports(path):
        assert module.split(".")[0] not in upward, f"{path.relative_to(ROOT)} imports {module}, above its package"


def test_the_command_check_sees_a_lazy_upward_import(tmp_path):
    fake = tmp_path / "__main__.py"
    fake.write_text("def main():\n    from batch import batch_main\n")
    assert "batch" in {m.split(".")[0] for m in _imports(fake)}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


SOURCES = sorted(p for d in [*PACKAGES, "demo_model"] for p in (ROOT / d).glob("*.py")) + [ROOT / "app.py"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_another_packages_private_module(path):
    own = path.parent.name if path.parent != ROOT else None
    for module in _imports(path):
        parts = module.split(".")
        if parts[0] in (*PACKAGES, "demo_model") and parts[0] != own:
            private = [p for p in parts[1:] if p.startswith("_")]
            assert not private, f"{path.relative_to(ROOT)} imports {module}, a private part of {parts[0]}"


def test_the_runtime_never_imports_the_training_code():
    for path in SOURCES:
        if path.parent.name != "demo_model":
            assert not any(m.split(".")[0] == "demo_model" for m in _imports(path)), path
