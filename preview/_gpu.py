"""Time-limited GPU hosts (ZeroGPU on Hugging Face Spaces): how long a call needs, and the decorator."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable

from controls import setting_names

from ._render import RenderSettings

try:  # ZeroGPU on Hugging Face Spaces; absent everywhere else
    import spaces
except ImportError:
    spaces = None

logger = logging.getLogger(__name__)

# Assumed cost of one denoising step of SVD at 1024x576 and 14 frames on an H200-class GPU, in
# seconds. A guess to be replaced by bench/gpu.py's measurement; doubled below for safety.
SECONDS_PER_STEP = 0.15
GPU_SECONDS_CAP = 300


def estimate_gpu_seconds(settings: RenderSettings, renders: int) -> int:
    """GPU time to ask a time-limited host (ZeroGPU) for: ``renders`` renders at ``settings``, bounded."""
    width, height = (settings.width or 1024), (settings.height or 576)
    per_step = SECONDS_PER_STEP * settings.frames / 14 * (width * height) / (1024 * 576)
    return int(min(GPU_SECONDS_CAP, 20 + renders * settings.steps * per_step * 2))



def on_gpu(handler: Callable, renders: Callable[[dict[str, Any]], int]) -> Callable:
    """``spaces.GPU`` on ZeroGPU, asking for the time the call's own settings need; ``handler`` elsewhere.

    ``handler`` takes the render settings as keyword parameters (``controls.with_setting_parameters``);
    ``renders`` says from its bound arguments how many renders the call makes.
    """
    if spaces is None:
        return handler
    signature = inspect.signature(handler)

    def duration(*args, **kwargs) -> int:
        try:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            settings = RenderSettings(**{name: bound.arguments[name] for name in setting_names()})
            return estimate_gpu_seconds(settings, renders(bound.arguments))
        except Exception:  # a bad value is reported by the handler itself
            return 120

    return spaces.GPU(duration=duration)(handler)
