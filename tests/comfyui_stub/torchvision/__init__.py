"""A stand-in ``torchvision`` for importing ComfyUI in tests (the index's torchvision wheels are CUDA
builds that cannot load beside the CPU torch). ComfyUI only names it at import time on SVD's paths.

Every attribute is a placeholder, except dunder names, which raise AttributeError as a missing
attribute would (``torch.library`` inspects modules by them when ComfyUI registers its ops)."""

import sys
import types


class _Placeholder:
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return self

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder()


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Placeholder


for _name in ("ops", "ops.misc", "transforms", "transforms.functional", "transforms.v2", "models", "io", "utils",
              "datasets"):
    _module = types.ModuleType(f"{__name__}.{_name}")
    _module.__getattr__ = __getattr__
    _module.__path__ = []
    sys.modules[_module.__name__] = _module
    _parent, _, _child = _module.__name__.rpartition(".")
    setattr(sys.modules[_parent], _child, _module)
__version__ = "0.0-stub"
