"""How much the patched video differs from the baseline, and how each one moves over time.

All values are in 8-bit levels (0-255), averaged over pixels and channels.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np


def mean_abs_diff(a: np.ndarray, b: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
    return np.abs(a.astype(np.float32) - b.astype(np.float32)).mean(axis=axes)


def temporal_change(frames: np.ndarray) -> np.ndarray:
    """(F-1,): mean |frame[t+1] - frame[t]|, a motion / flicker proxy."""
    return mean_abs_diff(frames[1:], frames[:-1], (1, 2, 3))


def jitter(frames: np.ndarray) -> np.ndarray:
    """(F-2,): mean |f[t+1] - 2 f[t] + f[t-1]|; smooth motion scores low, flicker high."""
    f = frames.astype(np.float32)
    return np.abs(f[2:] - 2.0 * f[1:-1] + f[:-2]).mean(axis=(1, 2, 3))


def flicker(frames: np.ndarray) -> np.ndarray:
    """(F-2,): mean over channels of |m[t+1] - 2 m[t] + m[t-1]|, where m[t] is frame t's mean colour.

    Brightness and colour that wobble from frame to frame score high; objects moving over a
    background barely change a frame's mean colour, so unlike jitter this stays low for real
    motion, however fast.
    """
    m = frames.astype(np.float64).mean(axis=(1, 2))  # (F, 3)
    return np.abs(m[2:] - 2.0 * m[1:-1] + m[:-2]).mean(axis=1).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Metrics:
    change_vs_baseline: np.ndarray  # (F,)
    baseline_temporal: np.ndarray  # (F-1,)
    patched_temporal: np.ndarray  # (F-1,)
    baseline_jitter: np.ndarray  # (F-2,)
    patched_jitter: np.ndarray  # (F-2,)
    baseline_flicker: np.ndarray  # (F-2,)
    patched_flicker: np.ndarray  # (F-2,)

    @classmethod
    def compare(cls, baseline: np.ndarray, patched: np.ndarray) -> Metrics:
        if baseline.shape != patched.shape:
            raise ValueError(f"baseline {baseline.shape} and patched {patched.shape} differ in shape")
        return cls(
            change_vs_baseline=mean_abs_diff(patched, baseline, (1, 2, 3)),
            baseline_temporal=temporal_change(baseline),
            patched_temporal=temporal_change(patched),
            baseline_jitter=jitter(baseline),
            patched_jitter=jitter(patched),
            baseline_flicker=flicker(baseline),
            patched_flicker=flicker(patched),
        )

    def summary(self) -> dict[str, float]:
        def mean(a: np.ndarray) -> float:
            return float(a.mean()) if a.size else 0.0

        base_motion, patched_motion = mean(self.baseline_temporal), mean(self.patched_temporal)
        return {
            "mean_change_vs_baseline": mean(self.change_vs_baseline),
            "max_change_vs_baseline": float(self.change_vs_baseline.max()),
            "baseline_temporal_change": base_motion,
            "patched_temporal_change": patched_motion,
            "temporal_change_ratio": patched_motion / base_motion if base_motion else float("nan"),
            "baseline_jitter": mean(self.baseline_jitter),
            "patched_jitter": mean(self.patched_jitter),
            "baseline_flicker": mean(self.baseline_flicker),
            "patched_flicker": mean(self.patched_flicker),
        }

    def records(self) -> list[dict]:
        """Long-format rows (frame, series, value) for a line plot."""
        rows = [{"frame": i, "series": "change vs baseline", "value": float(v)}
                for i, v in enumerate(self.change_vs_baseline)]
        for name, values in (("baseline temporal change", self.baseline_temporal),
                             ("patched temporal change", self.patched_temporal)):
            rows += [{"frame": i + 1, "series": name, "value": float(v)} for i, v in enumerate(values)]
        return rows

    def to_dict(self) -> dict:
        return {
            "units": "mean absolute difference in 8-bit levels (0-255)",
            "summary": self.summary(),
            "per_frame": {f.name: [float(v) for v in getattr(self, f.name)] for f in dataclasses.fields(self)},
        }

    def to_json(self, **context) -> str:
        """The metrics as JSON; ``context`` (the model, its numerics) goes first."""
        return json.dumps(context | self.to_dict(), indent=2)

    def to_csv(self) -> str:
        """One row per frame; temporal columns are empty for frame 0 (jitter and flicker for the last frame too)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["frame", "change_vs_baseline", "baseline_temporal", "patched_temporal", "baseline_jitter",
                         "patched_jitter",
                         "baseline_flicker", "patched_flicker"])
        for i, change in enumerate(self.change_vs_baseline):
            def at(a: np.ndarray, offset: int) -> str:
                j = i - offset
                return f"{a[j]:.4f}" if 0 <= j < len(a) else ""

            writer.writerow([i, f"{change:.4f}", at(self.baseline_temporal, 1), at(self.patched_temporal, 1),
                             at(self.baseline_jitter, 1), at(self.patched_jitter, 1),
                             at(self.baseline_flicker, 1), at(self.patched_flicker, 1)])
        return out.getvalue()
