"""Rendering on Hugging Face's ZeroGPU, and how long a call may take there.

On ZeroGPU ``gpu_render_frames`` is the engine's ``render_frames`` under ``spaces.GPU``: each call runs
in a worker process forked from the app, which gets a GPU slice for the call. The worker sees the
models loaded before it was forked (load them at start-up), receives the job pickled, and only the
return value comes back: nothing it changes in memory does. Progress and Stop cannot reach into it,
so a ZeroGPU render always runs to its end (or its deadline). Elsewhere ``spaces.GPU`` is a
pass-through and the engine renders in this process.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image

from svd_attention_lab.engine import (
    AotPackage,
    LoadedModel,
    RenderJob,
    build_package,
    install,
    prepare_image,
    register_model,
    registered_model,
    render_frames,
    zerogpu_host,
)

from ._budget import CostModel

try:  # Hugging Face's ZeroGPU package; a pass-through off ZeroGPU, absent where not installed
    import spaces
except ImportError:
    spaces = None

SAFETY_FACTOR = 1.5
STARTUP_SECONDS = 10  # worker fork, moving the weights to the GPU slice
# ZeroGPU refuses longer requests; the limit is not documented (Hugging Face staff: "5 minutes is
# the maximum time that can be requested at once").
ZEROGPU_MAX_SECONDS = 300
# Hugging Face's ZeroGPU ahead-of-time guide (the "zerogpu-aoti" blog post) gives its start-up compile 1500 s.
AOT_COMPILE_SECONDS = 1500


def estimate_gpu_seconds(job: RenderJob, progress=None, cancel=None, live=None, device_name: str | None = None) -> int:
    """The GPU time to request for ``render_frames(job)``: same arguments, measured costs, a safety
    factor, never above ZeroGPU's maximum."""
    cost = CostModel("cuda", 0, device_name)  # the page's cost model, for this GPU class
    seconds = STARTUP_SECONDS + SAFETY_FACTOR * cost.work_seconds(job.size, job.settings.frames,
                                                                 job.settings.steps, len(job.videos))
    return int(min(ZEROGPU_MAX_SECONDS, max(1, round(seconds))))


def on_zerogpu() -> bool:
    return spaces is not None and zerogpu_host()


def aot_package(model_id: int, image: np.ndarray, settings) -> AotPackage:
    """The UNet of a registered model compiled ahead of time for renders of ``image`` (prepared) with
    ``settings``: on the GPU's clock, so on ZeroGPU it runs in a worker, as Hugging Face documents."""
    return build_package(registered_model(model_id), image, settings, zerogpu=on_zerogpu())


if spaces is not None:
    # Decorated at import, as ZeroGPU requires (it checks for a GPU function at start-up).
    gpu_render_frames = spaces.GPU(duration=estimate_gpu_seconds)(render_frames)
    gpu_aot_package = spaces.GPU(duration=AOT_COMPILE_SECONDS)(aot_package)
else:
    gpu_render_frames = render_frames
    gpu_aot_package = aot_package


class _Isolated:
    """A runner that renders in another process: the engine passes it no callbacks."""

    isolated = True

    def __init__(self, runner: Callable) -> None:
        self.runner = runner

    def __call__(self, job: RenderJob):
        return self.runner(job)


def gpu_runner() -> Callable:
    """What renders a job on this host: ``render_frames`` on ZeroGPU's clock in a worker on a ZeroGPU
    Space, ``render_frames`` itself elsewhere."""
    return _Isolated(gpu_render_frames) if on_zerogpu() else render_frames


def compile_ahead_of_time(model: LoadedModel, image: Image.Image, settings, runner: Callable | None = None):
    """Compile ``model``'s UNet ahead of time for renders with ``settings`` (their size and frames) and
    install it; slider changes reach it without recompiling (``engine._aot``). ``image`` only gives the
    captured call its values. Returns the installed ``CompiledForward``."""
    width, height = settings.resolved_size(model)
    prepared = np.asarray(prepare_image(image, width, height).convert("RGB"))
    package = (runner or gpu_aot_package)(register_model(model), prepared, settings)
    return install(model, package)
