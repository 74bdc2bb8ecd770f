"""The motion meter: "this setting moves like motion bucket ≈ N".

For the current image, seed and settings, the baseline is rendered at a few ``motion_bucket_id``
values (each one an ordinary cached baseline), its motion is measured at each, and the patched
video's motion is placed on that curve by interpolation. Motion is optical-flow motion (OpenCV's DIS
flow, pixels per frame at a 256-pixel short side, ``outputs.measure_flow``), so flicker and colour
drift do not count as motion; the mean change between frames stays beside it under its own name.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from svd_attention_lab.controls import Multipliers

from svd_attention_lab.engine import Previewer, ProgressFn, RenderSettings, prepare_image, scaled_progress
from svd_attention_lab.outputs import measure_flow, temporal_change

METER_BUCKETS = (1, 64, 127, 191, 255)


def motion(frames: np.ndarray, fps: float = 7.0) -> float:
    """Optical-flow motion: mean flow, pixels per frame at a 256-pixel short side."""
    return measure_flow(frames, fps).motion


def mean_change(frames: np.ndarray) -> float:
    """Mean absolute change between consecutive frames, in 8-bit levels (the meter's former motion)."""
    return float(temporal_change(frames).mean())


@dataclasses.dataclass(frozen=True)
class MotionReading:
    buckets: tuple[int, ...]
    motions: tuple[float, ...]  # the baseline's motion at each bucket
    bucket: int  # the settings' own motion bucket
    baseline_motion: float
    patched_motion: float
    estimate: float  # the bucket whose baseline moves like the patched video
    baseline_estimate: float  # the same reading for the baseline itself (a self-check)
    inside: bool  # the patched motion lies within the measured curve (else: beyond its nearest end)
    baseline_change: float = float("nan")  # mean change between frames, 8-bit levels (the former measure)
    patched_change: float = float("nan")

    def sentence(self) -> str:
        if self.inside:
            reading = f"moves like **motion bucket ≈ {self.estimate:.0f}**"
        elif self.estimate == self.buckets[-1]:
            reading = f"moves **more than the baseline at any measured bucket** (up to {self.buckets[-1]})"
        else:
            reading = f"moves **less than the baseline at any measured bucket** (down to {self.estimate:.0f})"
        return (f"This setting {reading}; the baseline, rendered at "
                f"bucket {self.bucket}, reads as ≈ {self.baseline_estimate:.0f}. Motion (optical flow, pixels per "
                f"frame at a 256-px short side): baseline {self.baseline_motion:.2f}, patched "
                f"{self.patched_motion:.2f}. Mean change between frames: baseline {self.baseline_change:.2f}, "
                f"patched {self.patched_change:.2f} levels.")

    def rows(self) -> list[dict]:
        """Long rows for a line plot: the baseline's curve, and the patched motion across it."""
        curve = [{"motion bucket": b, "motion": m, "series": "baseline at bucket"}
                 for b, m in zip(self.buckets, self.motions)]
        level = [{"motion bucket": b, "motion": self.patched_motion, "series": "this setting"}
                 for b in (self.buckets[0], self.buckets[-1])]
        return curve + level


def bucket_for(value: float, buckets: tuple[int, ...], motions: tuple[float, ...]) -> tuple[float, bool]:
    """The bucket at which the (made monotone) curve reaches ``value``, and whether it does: outside
    the measured range the nearest end's bucket comes back with False (no extrapolation: the curve
    flattens at high buckets, so a straight line beyond it would claim far too much). The curve starts
    at its lowest motion: buckets below that one, which move more (the demo model's bucket 1 wobbles
    more than its bucket 64 moves), are left out."""
    lowest = int(np.argmin(motions))
    b = np.asarray(buckets, dtype=np.float64)[lowest:]
    m = np.maximum.accumulate(np.asarray(motions, dtype=np.float64)[lowest:])
    if value < m[0]:
        return float(b[0]), False
    if value > m[-1]:
        return float(b[-1]), False
    rising = np.concatenate([[True], np.diff(m) > 0])  # np.interp needs strictly increasing x
    return float(np.interp(value, m[rising], b[rising])), True


def read_motion(previewer: Previewer, image: Image.Image | np.ndarray | str, settings: RenderSettings,
                multipliers: Multipliers, progress: ProgressFn | None = None, cancel=None,
                buckets: tuple[int, ...] = METER_BUCKETS) -> MotionReading:
    """Render (or reuse) the baseline at each bucket and the patched video at the settings' own."""
    width, height = settings.resolved_size(previewer.model)
    prepared = prepare_image(image, width, height)
    motions = []
    for i, bucket in enumerate(buckets):
        share = scaled_progress(progress, i / (len(buckets) + 1), (i + 1) / (len(buckets) + 1), f"bucket {bucket}")
        frames, _ = previewer.baseline(prepared, settings.replace(motion_bucket_id=bucket), share, cancel)
        motions.append(motion(frames, settings.fps))
    share = scaled_progress(progress, len(buckets) / (len(buckets) + 1), 1.0, "this setting")
    comparison = previewer.render(prepared, settings, multipliers, share, cancel)
    patched, baseline = motion(comparison.patched, settings.fps), motion(comparison.baseline, settings.fps)
    estimate, inside = bucket_for(patched, tuple(buckets), tuple(motions))
    baseline_estimate, _ = bucket_for(baseline, tuple(buckets), tuple(motions))
    return MotionReading(tuple(buckets), tuple(motions), settings.motion_bucket_id, baseline, patched,
                         estimate, baseline_estimate, inside, mean_change(comparison.baseline),
                         mean_change(comparison.patched))
