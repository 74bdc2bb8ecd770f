"""What a render will cost, before it starts, and the limit a public host puts on it.

A video costs ``steps x frames x pixels`` of UNet work plus ``frames x pixels`` of VAE decoding.
On a GPU the seconds per unit come from the per-GPU-class table (``_gpu.STEP_SECONDS``); on the
CPU from what this project measured on its 2-core machine for the demo model, scaled by the
model's size. Each finished render corrects the estimate towards what this machine really takes.
"""

from __future__ import annotations

import dataclasses
import math
import threading

from ._errors import PreviewError
from ._gpu import DECODE_SECONDS_PER_FRAME, NATIVE_WORK, step_seconds

# Measured with the demo model (2.05 M UNet parameters, float32) on a 2-core CPU: seconds per step
# per frame-pixel for the UNet, and per frame-pixel for the VAE decode. Both scale with the model.
CPU_UNET_SECONDS = 1.5e-5
CPU_DECODE_SECONDS = 1.2e-5
DEMO_UNET_PARAMETERS = 2_049_939
DEFAULT_PUBLIC_BUDGET_S = 60.0


@dataclasses.dataclass(frozen=True)
class Estimate:
    """The expected wall time of one request's renders."""

    seconds: float
    size: tuple[int, int]  # (width, height)
    frames: int
    steps: int
    videos: int  # renders it needs: the baseline (unless cached) and the patched video

    def short(self) -> str:
        """``≈ 4 s``, ``≈ 3 min``, ``≈ 1.5 h``."""
        return f"≈ {duration(self.seconds)}"

    def describe(self) -> str:
        width, height = self.size
        return f"{width}×{height} × {self.frames} frames × {self.steps} steps {self.short()} here"


def duration(seconds: float) -> str:
    if seconds < 1:
        return "under 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class CostModel:
    """Seconds per unit of work for one loaded model, corrected by the renders it times."""

    def __init__(self, device: str, unet_parameters: int, device_name: str | None = None) -> None:
        if device == "cuda":
            self.unet_rate = step_seconds(device_name) / NATIVE_WORK
            self.decode_rate = DECODE_SECONDS_PER_FRAME / (1024 * 576)
        else:  # the CPU (and MPS, for want of a table): the demo model's measurement, scaled by size
            scale = max(1.0, unet_parameters / DEMO_UNET_PARAMETERS)
            self.unet_rate, self.decode_rate = CPU_UNET_SECONDS * scale, CPU_DECODE_SECONDS * scale
        self._log_correction = 0.0  # mean log(measured / predicted) over recent renders
        self._lock = threading.Lock()

    def predict(self, size: tuple[int, int], frames: int, steps: int, videos: int) -> Estimate:
        pixels = size[0] * size[1] * frames
        seconds = videos * pixels * (steps * self.unet_rate + self.decode_rate) * math.exp(self._log_correction)
        return Estimate(seconds, size, frames, steps, videos)

    def record(self, estimate: Estimate, seconds: float) -> None:
        """A render measured ``seconds`` where ``estimate`` was predicted: move towards it."""
        if estimate.videos == 0 or estimate.seconds <= 0 or seconds <= 0:
            return
        with self._lock:
            error = math.log(seconds / estimate.seconds)
            self._log_correction += 0.5 * error  # half-way: one noisy render does not swing it


def check_budget(estimate: Estimate, limit_s: float | None) -> None:
    """Refuse, before it starts, a request that would hold the model longer than the host allows."""
    if limit_s is not None and estimate.seconds > limit_s:
        raise PreviewError(f"{estimate.describe()}; this Space allows {duration(limit_s)} per request: "
                           "lower the size, frames or steps")
