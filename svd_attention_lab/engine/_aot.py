"""Ahead-of-time compilation of the UNet (AOTInductor), with the weights left as the model's own tensors.

ZeroGPU does not run ``torch.compile``; Hugging Face's documented way there is ahead-of-time
compilation: capture one call of the module, ``torch.export`` it, compile it with AOTInductor
(``spaces.aoti_capture`` / ``spaces.aoti_compile`` wrap these), all inside a GPU function at
start-up. The lab needs one thing the documented ``spaces.aoti_apply`` does not give: a slider
rewrites the attention weights in place, and the next render must use them. ``aoti_apply`` binds
the compiled code to the weights captured at compile time and drains the module's parameters, so a
slider change would never reach the compiled UNet.

Here the package is compiled without its weights (``aot_inductor.package_constants_in_so=False``,
no constant folding) and, in each process that runs it, loaded with the UNet's own parameters and
buffers as user-managed constants (``AOTICompiledModel.load_constants(..., user_managed=True)``):
the compiled code reads the very tensors the patcher writes, so a slider change costs what it costs
in eager mode and never recompiles. The tensors are bound again only if one of them moves.

The package has the shapes of the call it was compiled from (the page's default size and frame
count); a call with other shapes runs the eager UNet.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
from typing import Any

import numpy as np
import torch
from PIL import Image

from svd_attention_lab.controls import Multipliers

from ._loading import LoadedModel

logger = logging.getLogger(__name__)

# AOTInductor options that keep the weights out of the package and unfolded (spaces.aoti_compile sets these too).
INDUCTOR_CONFIGS = {
    "aot_inductor.package_constants_in_so": False,
    "always_keep_tensor_constants": True,
    "joint_graph_constant_folding": False,
}


class _Captured(Exception):
    def __init__(self, args: tuple, kwargs: dict) -> None:
        super().__init__("captured")
        self.call = (args, kwargs)


def capture_unet_call(model: LoadedModel, image: np.ndarray, settings) -> tuple[tuple, dict]:
    """The arguments of the UNet's first call in a render of ``image`` (prepared, (H, W, 3) uint8) with
    ``settings``: the render stops there."""
    from ._frames import _generate  # the render's own path, so the captured call is the one renders make

    def stop(module, args, kwargs):
        raise _Captured(args, kwargs)

    hook = model.pipe.unet.register_forward_pre_hook(stop, with_kwargs=True)
    try:
        _generate(model, Image.fromarray(image), settings, Multipliers(), None, None, None)
    except _Captured as captured:
        return captured.call
    finally:
        hook.remove()
    raise RuntimeError("the render never called the UNet")


def export_unet(model: LoadedModel, args: tuple, kwargs: dict) -> torch.export.ExportedProgram:
    """``torch.export`` of the eager UNet for exactly this call's shapes."""
    unet = model.pipe.unet
    forward = unet.__dict__.pop("forward", None)  # export the module's own forward, not a compiled one
    try:
        with torch.no_grad():
            return torch.export.export(unet, args, kwargs)
    finally:
        if forward is not None:
            unet.forward = forward


def compile_package(exported: torch.export.ExportedProgram, zerogpu: bool = False) -> bytes:
    """An AOTInductor package of ``exported`` without its weights. On ZeroGPU through ``spaces.aoti_compile``
    (which also makes the compiled library loadable in ZeroGPU's workers); elsewhere through PyTorch's own
    ``aoti_compile_and_package``."""
    if zerogpu:
        import spaces

        return spaces.aoti_compile(exported, dict(INDUCTOR_CONFIGS)).archive_file.getvalue()
    package = io.BytesIO()
    torch._inductor.aoti_compile_and_package(exported, package_path=package, inductor_configs=dict(INDUCTOR_CONFIGS))
    return package.getvalue()


def call_signature(args: tuple, kwargs: dict) -> tuple:
    """What a call must match to run compiled: every tensor's shape, dtype and device, every other value."""
    leaves, spec = torch.utils._pytree.tree_flatten((args, kwargs))
    return str(spec), tuple((tuple(x.shape), x.dtype, x.device.type) if isinstance(x, torch.Tensor) else x
                            for x in leaves)


@dataclasses.dataclass
class AotPackage:
    """What a compile gives: small and picklable (it comes back from ZeroGPU's worker)."""

    archive: bytes
    signature: tuple


def build_package(model: LoadedModel, image: np.ndarray, settings, zerogpu: bool = False) -> AotPackage:
    """1. capture a UNet call of this render, 2. export it, 3. compile it ahead of time."""
    args, kwargs = capture_unet_call(model, image, settings)
    exported = export_unet(model, args, kwargs)
    return AotPackage(compile_package(exported, zerogpu), call_signature(args, kwargs))


class CompiledForward:
    """The UNet's ``forward`` in an ahead-of-time compiled package, reading the UNet's own tensors.

    Installed as the module's instance attribute ``forward``, so hooks and ``unet(...)`` work as before.
    ``calls`` counts compiled and eager calls (other shapes), for tests and benchmarks.
    """

    def __init__(self, unet: torch.nn.Module, package: AotPackage) -> None:
        self._unet = unet
        self._package = package
        self._loaded: dict[int, Any] = {}  # process id -> loaded package (a ZeroGPU worker loads its own)
        self._bound: tuple = ()  # the tensors' addresses the loaded package reads
        self.calls = {"compiled": 0, "eager": 0}

    def __call__(self, *args, **kwargs):
        if call_signature(args, kwargs) != self._package.signature:
            self.calls["eager"] += 1
            return type(self._unet).forward(self._unet, *args, **kwargs)
        self.calls["compiled"] += 1
        return self._compiled()(*args, **kwargs)

    def _compiled(self):
        pid = os.getpid()
        if pid not in self._loaded:
            self._loaded = {pid: torch._inductor.aoti_load_package(io.BytesIO(self._package.archive))}
            self._bound = ()
        compiled = self._loaded[pid]
        tensors = {**dict(self._unet.named_parameters()), **dict(self._unet.named_buffers())}
        addresses = tuple(t.data_ptr() for t in tensors.values())
        if addresses != self._bound:  # first call here, or the module moved: bind its tensors
            compiled.load_constants({name: tensors[name] for name in compiled.get_constant_fqns()},
                                    check_full_update=True, user_managed=True)
            self._bound = addresses
        return compiled

    def __getstate__(self):
        return {**self.__dict__, "_loaded": {}, "_bound": ()}  # a loaded package does not pickle


def install(model: LoadedModel, package: AotPackage) -> CompiledForward:
    """Make ``model``'s UNet run ``package`` for calls of its shapes."""
    forward = CompiledForward(model.pipe.unet, package)
    model.pipe.unet.forward = forward
    logger.info("UNet compiled ahead of time for %s", package.signature[1][0][0])
    return forward
