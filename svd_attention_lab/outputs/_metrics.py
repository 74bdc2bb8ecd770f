"""How much the patched video differs from the baseline, and how each one moves over time.

Motion is optical-flow motion (``_flow``): pixels per frame at a 256-pixel short side, with the
warping error, VBench's dynamic-degree rule (OpenCV flow instead of RAFT) and VBench's temporal-
flickering score beside it. The pixel differences (change vs baseline, temporal change, jitter,
flicker) are in 8-bit levels (0-255), averaged over pixels and channels; the temporal change (mean
absolute difference between consecutive frames) is kept under its own name.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np

from ._flow import FlowMotion, measure_flow


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
    baseline_motion: FlowMotion  # optical flow: per pair, and the video's VBench-style verdicts
    patched_motion: FlowMotion

    @classmethod
    def compare(cls, baseline: np.ndarray, patched: np.ndarray, fps: float = 7.0) -> Metrics:
        """The two videos' numbers; ``fps`` (the render's) sets VBench's frame step and threshold."""
        if baseline.shape != patched.shape:
            raise ValueError(f"baseline {baseline.shape} and patched {patched.shape} differ in shape")
        base_motion = measure_flow(baseline, fps)
        return cls(
            change_vs_baseline=mean_abs_diff(patched, baseline, (1, 2, 3)),
            baseline_temporal=temporal_change(baseline),
            patched_temporal=temporal_change(patched),
            baseline_jitter=jitter(baseline),
            patched_jitter=jitter(patched),
            baseline_flicker=flicker(baseline),
            patched_flicker=flicker(patched),
            baseline_motion=base_motion,
            patched_motion=base_motion if patched is baseline else measure_flow(patched, fps),  # identity: one video
        )

    def per_frame(self) -> dict[str, np.ndarray]:
        """Every per-frame (or per-pair) series by name; flow series per pair of frames."""
        series = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if isinstance(getattr(self, f.name), np.ndarray)}
        for side, motion in (("baseline", self.baseline_motion), ("patched", self.patched_motion)):
            series[f"{side}_flow"] = motion.flow
            series[f"{side}_flow_top5_px"] = motion.top5_px
            series[f"{side}_warp_error"] = motion.warp_error
        return series

    def summary(self) -> dict[str, float]:
        def mean(a: np.ndarray) -> float:
            return float(a.mean()) if a.size else 0.0

        base_motion, patched_motion = mean(self.baseline_temporal), mean(self.patched_temporal)
        base_flow, patched_flow = self.baseline_motion.motion, self.patched_motion.motion
        return {
            "baseline_flow_motion": base_flow,
            "patched_flow_motion": patched_flow,
            "flow_motion_ratio": patched_flow / base_flow if base_flow else float("nan"),
            "baseline_warp_error": self.baseline_motion.mean_warp_error,
            "patched_warp_error": self.patched_motion.mean_warp_error,
            "baseline_dynamic": float(self.baseline_motion.dynamic),
            "patched_dynamic": float(self.patched_motion.dynamic),
            "baseline_vbench_flickering": self.baseline_motion.flickering,
            "patched_vbench_flickering": self.patched_motion.flickering,
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
        for name, values in (("baseline motion (flow)", self.baseline_motion.flow),
                             ("patched motion (flow)", self.patched_motion.flow),
                             ("baseline temporal change", self.baseline_temporal),
                             ("patched temporal change", self.patched_temporal)):
            rows += [{"frame": i + 1, "series": name, "value": float(v)} for i, v in enumerate(values)]
        return rows

    def to_dict(self) -> dict:
        return {
            "units": {"flow": "optical-flow motion (OpenCV DIS), pixels per frame at a 256-pixel short side",
                      "flow_top5_px": "mean of the largest 5 % of flow magnitudes, pixels at the render's size",
                      "dynamic": "VBench-style dynamic degree (OpenCV flow instead of RAFT): 1 dynamic, 0 static",
                      "vbench_flickering": "VBench's temporal-flickering score, 1 = still",
                      "other": "mean absolute difference in 8-bit levels (0-255)"},
            "summary": self.summary(),
            "per_frame": {name: [float(v) for v in values] for name, values in self.per_frame().items()},
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
                         "baseline_flicker", "patched_flicker", "baseline_flow", "patched_flow",
                         "baseline_warp_error", "patched_warp_error"])
        for i, change in enumerate(self.change_vs_baseline):
            def at(a: np.ndarray, offset: int) -> str:
                j = i - offset
                return f"{a[j]:.4f}" if 0 <= j < len(a) else ""

            writer.writerow([i, f"{change:.4f}", at(self.baseline_temporal, 1), at(self.patched_temporal, 1),
                             at(self.baseline_jitter, 1), at(self.patched_jitter, 1),
                             at(self.baseline_flicker, 1), at(self.patched_flicker, 1),
                             at(self.baseline_motion.flow, 1), at(self.patched_motion.flow, 1),
                             at(self.baseline_motion.warp_error, 1), at(self.patched_motion.warp_error, 1)])
        return out.getvalue()
