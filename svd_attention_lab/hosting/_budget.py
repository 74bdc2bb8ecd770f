"""What a render will cost, before it starts, and the limit a public host puts on it: the one cost model,
for the page's estimate, the public budget and the GPU time ZeroGPU is asked for.

A video of ``frames`` frames of ``pixels`` pixels costs ``steps x frames x unet(pixels)`` of UNet work
plus ``frames x decode(pixels)`` of VAE decoding. Both grow faster than the pixels: attention runs over
``pixels / 64`` latent tokens, and its cost grows with their square.

- On a GPU, ``unet`` and ``decode`` come from the per-GPU-class table at SVD's native size
  (``STEP_SECONDS``), scaled by ``max(x, x**2)`` of the pixels' ratio ``x`` to the native size: an
  upper bound for any cost between linear and quadratic in the pixels.
- On the CPU, from what ``python bench/render_cost.py`` measured for the demo model on this project's
  2-core machine (a linear and a quadratic term each, fitted), scaled by the UNet's size.

Each complete render then calibrates the model: the estimate is the prediction times the median
ratio of measured to predicted seconds among the last few complete renders, times the fit's margin.
The model's first render is not among them (it pays once for what later renders reuse), and the median
lets neither one render slowed by something else on the machine nor one unusually quick one move the
estimate. Only renders that computed every step they were asked for count (a resumed or cached render
does less work than its settings say), so no sequence of requests can pull the estimate below what this
hardware was measured to take.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import statistics
import threading

import torch

from svd_attention_lab.engine import PreviewError

# Seconds per denoising step of SVD-XT's UNet (classifier-free guidance, batch 2) in float16 at its
# native 1024x576 and 14 frames, by GPU class (the first name found in the device's name wins).
# ASSUMPTION until bench/gpu.py fills it from a measurement: derived from public reports of SVD-XT
# taking about a minute for 25 frames x 25 steps on an A100, scaled to 14 frames and by each
# class's fp16 throughput relative to the A100; ZeroGPU's slice is an H200 MIG 3g (60 of 132 SMs).
STEP_SECONDS = {
    "MIG 3g": 0.95,
    "H200": 0.42,
    "H100": 0.45,
    "A100": 0.85,
    "L40S": 1.0,
    "A10G": 2.4,
    "L4": 3.0,
    "T4": 6.5,
}
DEFAULT_STEP_SECONDS = 2.4  # an unknown GPU: assume an A10G-class card
DECODE_SECONDS_PER_FRAME = 0.15  # temporal VAE decode at 1024x576, A100-class (same assumption)
NATIVE_PIXELS, NATIVE_FRAMES = 1024 * 576, 14  # what the table's figures are for

# The demo model (2.05 M UNet parameters, float32) on the project's 2-core CPU, per frame, fitted by
# ``python bench/render_cost.py`` at 64², 256² and 512² (docs/benchmarks.md): seconds per UNet step
# and per decode, as linear + quadratic in the frame's pixels. Larger models scale by UNet size.
CPU_VIDEO = 0.049  # per video: encoding the conditioning image, the pipeline's set-up
CPU_UNET = (2.72e-6, 3.92e-11)  # (per pixel, per pixel²)
CPU_DECODE = (3.75e-6, 2.86e-11)
DEMO_UNET_PARAMETERS = 2_049_939
FIT_MARGIN = 1.4  # the fit is at worst 28 % under one of the benchmark's measurements
RECENT = 8  # complete renders the calibration remembers
DEFAULT_PUBLIC_BUDGET_S = 60.0


def gpu_class() -> str:
    """The device's marketing name, e.g. 'NVIDIA H200 MIG 3g.71gb'; 'cpu' without CUDA."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def step_seconds(device_name: str | None = None) -> float:
    name = device_name if device_name is not None else gpu_class()
    return next((s for key, s in STEP_SECONDS.items() if key in name), DEFAULT_STEP_SECONDS)


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
    """Rounded up, so a time shown as the limit is never over it: ``61 s`` for 60.2."""
    if seconds < 1:
        return "under 1 s"
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    if seconds < 90 * 60:
        return f"{math.ceil(seconds / 60)} min"
    return f"{math.ceil(seconds / 360) / 10:.1f} h"


class CostModel:
    """Seconds of one loaded model's renders on this device, calibrated by the complete renders it times."""

    def __init__(self, device: str, unet_parameters: int, device_name: str | None = None) -> None:
        self.gpu = device == "cuda"
        if self.gpu:
            self._step, self._decode = step_seconds(device_name) / NATIVE_FRAMES, DECODE_SECONDS_PER_FRAME
            self._video = 0.0  # in the table's per-step figures
            self.margin = 1.0  # the table's own assumption; ZeroGPU's request adds its safety factor
        else:  # the CPU (and MPS, for want of a table): the demo model's measurement, scaled by size
            scale = max(1.0, unet_parameters / DEMO_UNET_PARAMETERS)
            self._video = CPU_VIDEO * scale
            self._unet = tuple(c * scale for c in CPU_UNET)
            self._decode_terms = tuple(c * scale for c in CPU_DECODE)
            self.margin = FIT_MARGIN
        self._ratios: collections.deque[float] = collections.deque(maxlen=RECENT)
        self._warm = False  # the first complete render has been seen (and left out)
        self._lock = threading.Lock()

    def work_seconds(self, size: tuple[int, int], frames: int, steps: int, videos: int) -> float:
        """The model's seconds for this work, before calibration."""
        pixels = size[0] * size[1]
        if self.gpu:
            x = pixels / NATIVE_PIXELS
            growth = max(x, x * x)
            per_frame = steps * self._step * growth + self._decode * growth
        else:
            per_frame = (steps * (self._unet[0] * pixels + self._unet[1] * pixels ** 2)
                         + self._decode_terms[0] * pixels + self._decode_terms[1] * pixels ** 2)
        return videos * (self._video + frames * per_frame)

    @property
    def calibration(self) -> float:
        """The median measured / predicted ratio of the last complete renders after the first (1 before any)."""
        with self._lock:
            return statistics.median(self._ratios) if self._ratios else 1.0

    def predict(self, size: tuple[int, int], frames: int, steps: int, videos: int) -> Estimate:
        seconds = self.work_seconds(size, frames, steps, videos) * self.calibration * self.margin
        return Estimate(seconds, size, frames, steps, videos)

    def record(self, size: tuple[int, int], frames: int, steps: int, videos: int, seconds: float) -> None:
        """``videos`` complete renders (every step computed) of these settings took ``seconds``."""
        predicted = self.work_seconds(size, frames, steps, videos)
        if videos > 0 and predicted > 0 and seconds > 0:
            with self._lock:
                if self._warm:
                    self._ratios.append(seconds / predicted)
                self._warm = True


class OverBudget(PreviewError):
    """A request that would hold the model longer than the host allows; what it would cost and the limit
    travel with it, so an app can word the refusal (the message is the plain one)."""

    def __init__(self, estimate: Estimate, limit_s: float) -> None:
        super().__init__(f"{estimate.describe()}; this Space allows {duration(limit_s)} per request: "
                         "lower the size, frames or steps")
        self.estimate, self.limit_s = estimate, limit_s


def check_budget(estimate: Estimate, limit_s: float | None) -> None:
    """Refuse, before it starts, a request that would hold the model longer than the host allows."""
    if limit_s is not None and estimate.seconds > limit_s:
        raise OverBudget(estimate, limit_s)
