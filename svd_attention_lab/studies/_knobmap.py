"""The knob map: which knob moves what on this image.

Each of the four multipliers is swept over a few values (the others at 1), reusing the sweep and the
cached baseline; per knob and value, the optical-flow motion and the warping error, both as
multiples of the baseline's, go on one chart. The value 1 is the baseline itself and costs nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
from PIL import Image

from svd_attention_lab.controls import FIELDS, MULTIPLIER_DEFAULT, check_multiplier
from svd_attention_lab.engine import PreviewError, Previewer, ProgressFn, RenderSettings, scaled_progress

from ._sweep import MAX_SWEEP_VALUES, sweep

KNOB_MAP_VALUES = (0.0, 0.5, 1.5, 2.0)
SMALL_KNOB_MAP_VALUES = (0.5, 1.5)  # where the full map does not fit a host's time budget


def knob_map_values(values) -> tuple[float, ...]:
    """The swept values, checked, sorted, without repeats and without 1 (the baseline, always on the map)."""
    checked = sorted({check_multiplier("knob map value", v) for v in values} - {MULTIPLIER_DEFAULT})
    if not 1 <= len(checked) <= MAX_SWEEP_VALUES:
        raise PreviewError(f"a knob map takes 1 to {MAX_SWEEP_VALUES} values besides 1, got {len(checked)}")
    return tuple(checked)


def knob_map_renders(values) -> int:
    """Patched videos a knob map renders (the baseline besides, unless cached)."""
    return len(FIELDS) * len(knob_map_values(values))


@dataclasses.dataclass(frozen=True)
class KnobMap:
    values: tuple[float, ...]  # swept, besides 1
    baseline_motion: float  # px per frame at a 256-px short side
    baseline_warp_error: float  # 8-bit levels
    motion: dict[str, tuple[float, ...]]  # knob -> motion ratio at each value
    warp_error: dict[str, tuple[float, ...]]  # knob -> warping-error ratio at each value

    def rows(self) -> list[dict]:
        """Long rows for one line chart: x the knob's value, y × the baseline, a series per knob and measure."""
        rows = []
        for knob in FIELDS:
            for measure, table in (("motion", self.motion), ("warping error", self.warp_error)):
                points = sorted([(MULTIPLIER_DEFAULT, 1.0), *zip(self.values, table[knob])])
                rows += [{"value": v, "× baseline": float(r), "series": f"{knob} · {measure}"} for v, r in points]
        return rows

    def sentence(self) -> str:
        spans = {k: (min(m), max(m)) for k, m in self.motion.items()}
        widest = max(spans, key=lambda k: max(spans[k][1], 1.0) - min(spans[k][0], 1.0))
        low, high = min(spans[widest][0], 1.0), max(spans[widest][1], 1.0)
        return (f"On this image **{widest}** moves the motion most: ×{low:.2f} to ×{high:.2f} of the baseline "
                f"over {', '.join(f'{v:g}' for v in (*self.values, 1.0))}. Baseline: "
                f"{self.baseline_motion:.2f} px per frame (optical flow, at a 256-px short side), warping "
                f"error {self.baseline_warp_error:.2f} levels.")


def knob_map(previewer: Previewer, image: Image.Image | np.ndarray | str, settings: RenderSettings,
             values=KNOB_MAP_VALUES, progress: ProgressFn | None = None,
             cancel: Callable[[], bool] | None = None) -> KnobMap:
    """Sweep every knob over ``values`` (the others at 1) on one cached baseline."""
    values = knob_map_values(values)
    motion, warp, base_motion, base_warp = {}, {}, 0.0, 0.0
    for i, knob in enumerate(FIELDS):
        share = scaled_progress(progress, i / len(FIELDS), (i + 1) / len(FIELDS), knob)
        result = sweep(previewer, image, settings, knob, list(values), progress=share, cancel=cancel)
        summaries = [m.summary() for m in result.metrics]
        base_motion, base_warp = summaries[0]["baseline_flow_motion"], summaries[0]["baseline_warp_error"]
        motion[knob] = tuple(s["flow_motion_ratio"] for s in summaries)
        warp[knob] = tuple(s["patched_warp_error"] / base_warp if base_warp else float("nan") for s in summaries)
    return KnobMap(values, base_motion, base_warp, motion, warp)
