"""A motion target: "Motion ×0.6 of the baseline", solved for one knob by renders.

The motion is the optical-flow motion (``outputs.measure_flow``): mean flow in pixels per frame at a
256-pixel short side, the patched video's over the baseline's. One knob (``self_temporal`` unless
another is named) is searched on the measured curve: a secant step from the points so far until two
of them bracket the target, then false position inside the bracket (kept a fifth of the bracket away
from its ends, so it always shrinks). Every render is a point (value → motion). The search stops
when a point is within the tolerance (5 % of the target), when the renders run out (6), or when the
knob's end of the range has been rendered and still falls short: the target is then out of reach,
and the closest point is reported as such. The baseline comes from the previewer's cache, and a
render whose schedule starts later resumes from its latents. Values are multiples of the sliders'
0.01 step: the result is an ordinary setting.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
from PIL import Image

from svd_attention_lab.controls import FIELDS, MULTIPLIER_MAX, MULTIPLIER_MIN, MULTIPLIER_STEP, Multipliers
from svd_attention_lab.engine import (
    Previewer,
    PreviewError,
    ProgressFn,
    RenderSettings,
    prepare_image,
    scaled_progress,
)
from svd_attention_lab.outputs import measure_flow

DEFAULT_KNOB = "self_temporal"
DEFAULT_BUDGET = 6
MAX_BUDGET = 12
DEFAULT_TOLERANCE = 0.05
DEFAULT_RANGE = (0.0, 3.0)  # searched values of the knob; the sliders go to 10, renders there are noise
MIN_BASELINE_MOTION = 0.05  # px per frame at a 256-px short side: below it the baseline is still
_INSIDE = 0.2  # false position keeps this fraction of the bracket away from its ends


@dataclasses.dataclass(frozen=True)
class MotionTarget:
    """What to reach: ``ratio`` × the baseline's motion, by moving ``knob`` within ``low``–``high``."""

    ratio: float
    knob: str = DEFAULT_KNOB
    tolerance: float = DEFAULT_TOLERANCE
    budget: int = DEFAULT_BUDGET
    low: float = DEFAULT_RANGE[0]
    high: float = DEFAULT_RANGE[1]

    def __post_init__(self) -> None:
        ratio = _number("motion target", self.ratio)
        if not 0.0 < ratio <= 10.0:
            raise PreviewError(f"motion target must be above 0 and at most 10 (× the baseline's motion), got {ratio:g}")
        if self.knob not in FIELDS:
            raise PreviewError(f"motion target knob must be one of {', '.join(FIELDS)}, got {self.knob!r}")
        tolerance = _number("motion target tolerance", self.tolerance)
        if not 0.005 <= tolerance <= 0.5:
            raise PreviewError(f"motion target tolerance must be 0.005 to 0.5, got {tolerance:g}")
        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or not 1 <= self.budget <= MAX_BUDGET:
            raise PreviewError(f"motion target budget must be a whole number of renders, 1 to {MAX_BUDGET}, "
                               f"got {self.budget!r}")
        low, high = _number("motion target low", self.low), _number("motion target high", self.high)
        if not MULTIPLIER_MIN <= low < high <= MULTIPLIER_MAX:
            raise PreviewError(f"motion target range must lie within {MULTIPLIER_MIN:g}–{MULTIPLIER_MAX:g}, low "
                               f"below high, got {low:g}–{high:g}")
        for name, value in (("ratio", ratio), ("tolerance", tolerance), ("low", low), ("high", high)):
            object.__setattr__(self, name, value)

    def label(self) -> str:
        return f"motion ×{self.ratio:g} of the baseline by {self.knob}"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PreviewError(f"{name} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except ValueError:
        raise PreviewError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise PreviewError(f"{name} must be a finite number, got {value!r}")
    return number


def parse_target(text: str) -> float:
    """``"0.6"``, ``"x0.6"``, ``"×0.6"`` -> 0.6 (checked by MotionTarget)."""
    cleaned = str(text).strip().lstrip("x×X").strip()
    return _number("motion target", cleaned)


@dataclasses.dataclass(frozen=True)
class TargetPoint:
    value: float  # the knob's value
    motion: float  # optical-flow motion, px per frame at a 256-px short side
    ratio: float  # motion / the baseline's motion
    warp_error: float  # mean warping error, 8-bit levels
    rendered: bool = True  # False: the baseline itself (no render spent)


def next_value(points: list[TargetPoint], target: float, low: float, high: float,
               step: float = MULTIPLIER_STEP) -> float | None:
    """The knob value to render next, on the ``step`` grid, or None when no render can help: the
    target lies beyond an end of the range already rendered, or the bracket is one step wide."""
    ordered = sorted(points, key=lambda p: p.value)
    done = {round(p.value / step) for p in ordered}

    def on_grid(x: float) -> int:
        return round(min(max(x, low), high) / step)

    brackets = [(a, b) for a, b in zip(ordered, ordered[1:]) if (a.ratio - target) * (b.ratio - target) < 0]
    if brackets:
        a, b = min(brackets, key=lambda ab: min(abs(ab[0].ratio - target), abs(ab[1].ratio - target)))
        width = b.value - a.value
        x = a.value + (target - a.ratio) * width / (b.ratio - a.ratio)
        x = min(max(x, a.value + _INSIDE * width), b.value - _INSIDE * width)
        k, ka, kb = on_grid(x), round(a.value / step), round(b.value / step)
        for candidate in (k, k + 1, k - 1):
            if ka < candidate < kb and candidate not in done:
                return round(candidate * step, 2)
        return None  # the bracket is a grid step wide
    best = sorted(ordered, key=lambda p: abs(p.ratio - target))
    first = best[0]
    second = next((p for p in best[1:] if p.ratio != first.ratio), None)
    if second is None:  # one point (or a flat curve): a first step, as if the ratio grew one-for-one
        x = first.value + (target - first.ratio)
        if len(ordered) > 1 or on_grid(x) in done:  # flat so far: try the unexplored end
            x = high if target > first.ratio else low
    else:
        slope = (first.ratio - second.ratio) / (first.value - second.value)
        x = first.value + (target - first.ratio) / slope
    k = on_grid(x)
    if k in done:
        return None  # the range's end is rendered and the target lies beyond it
    return round(k * step, 2)


@dataclasses.dataclass(frozen=True)
class TargetResult:
    target: MotionTarget
    base: Multipliers  # the other knobs, as given
    baseline_motion: float
    baseline_warp_error: float
    points: tuple[TargetPoint, ...]  # in the order rendered (the baseline's own point first when free)
    reached: bool
    out_of_reach: bool  # the range's end was rendered and the target lies beyond it
    renders: int  # patched videos rendered for the search
    baseline_cached: bool
    unet_calls: int

    @property
    def best(self) -> TargetPoint:
        return min(self.points, key=lambda p: (abs(p.ratio - self.target.ratio), not p.rendered))

    @property
    def multipliers(self) -> Multipliers:
        """The setting found (the closest point): an ordinary setting, for the preview, presets and exports."""
        return self.base.replace(**{self.target.knob: self.best.value})

    def sentence(self) -> str:
        t, best = self.target, self.best
        found = f"{t.knob} = {best.value:.2f} gives motion ×{best.ratio:.2f} of the baseline"
        spent = f"{self.renders} render{'s' if self.renders != 1 else ''}"
        if self.reached:
            return f"Motion ×{t.ratio:g}: {found} (within {t.tolerance:.0%}, {spent})."
        if self.out_of_reach:
            extreme = "most" if t.ratio > best.ratio else "least"
            return (f"Motion ×{t.ratio:g} is out of reach with {t.knob} between {t.low:g} and {t.high:g}: the "
                    f"{extreme} this knob gives on this image is ×{best.ratio:.2f} at {best.value:.2f} "
                    f"({spent}). That closest setting is kept.")
        return (f"Motion ×{t.ratio:g} not reached in {spent}; the closest: {found}. Raise the budget, or keep "
                f"this one.")

    def rows(self) -> list[dict]:
        """Points for a scatter plot (value → motion ratio) and the target line across the range."""
        points = [{"value": p.value, "motion ×": p.ratio, "series": "rendered" if p.rendered else "baseline"}
                  for p in self.points]
        values = [p.value for p in self.points]
        line = [{"value": v, "motion ×": self.target.ratio, "series": "target"}
                for v in (min(values + [self.target.low]), max(values + [self.target.high]))]
        return points + line

    def as_dict(self) -> dict:
        return {"target": self.target.as_dict(), "base": self.base.as_dict(), "reached": self.reached,
                "out_of_reach": self.out_of_reach, "found": self.multipliers.as_dict(),
                "found_ratio": self.best.ratio, "baseline_motion": self.baseline_motion,
                "renders": self.renders, "unet_calls": self.unet_calls,
                "points": [dataclasses.asdict(p) for p in self.points], "sentence": self.sentence()}


def search(measure: Callable[[float], TargetPoint], first: TargetPoint, target: MotionTarget
           ) -> tuple[list[TargetPoint], bool]:
    """Points from ``first`` on, each new one ``measure(value)`` (one render), until one is within the
    tolerance, the budget is spent, or no render can help; and whether the target is out of reach (no
    two points bracket it and the range's end towards it has been rendered)."""
    points = [first]
    renders = int(first.rendered)
    while not _within(points, target) and renders < target.budget:
        value = next_value(points, target.ratio, target.low, target.high)
        if value is None:
            ordered = sorted(points, key=lambda p: p.value)
            bracketed = any((a.ratio - target.ratio) * (b.ratio - target.ratio) < 0
                            for a, b in zip(ordered, ordered[1:]))
            return points, not bracketed
        points.append(measure(value))
        renders += 1
    return points, False


def find_motion_target(previewer: Previewer, image: Image.Image | np.ndarray | str, settings: RenderSettings,
                       target: MotionTarget, base: Multipliers | None = None, progress: ProgressFn | None = None,
                       cancel: Callable[[], bool] | None = None) -> TargetResult:
    """Search ``target.knob`` (the other knobs as in ``base``) for the motion ``target.ratio`` × the baseline's."""
    base = base or Multipliers()
    width, height = settings.resolved_size(previewer.model)
    prepared = prepare_image(image, width, height)
    frames, cached = previewer.baseline(prepared, settings, scaled_progress(progress, 0.0, 0.1, "baseline"), cancel)
    baseline = measure_flow(frames, settings.fps)
    if baseline.motion < MIN_BASELINE_MOTION:
        raise PreviewError(f"the baseline barely moves ({baseline.motion:.3f} px per frame): a motion target is a "
                           "multiple of its motion; raise the motion bucket or pick another image")
    counts = {"renders": 0, "unet_calls": 0}

    def measure(value: float) -> TargetPoint:
        done = counts["renders"]
        share = scaled_progress(progress, 0.1 + 0.9 * done / target.budget, 0.1 + 0.9 * (done + 1) / target.budget,
                                f"{target.knob}={value:.2f}")
        comparison = previewer.render(prepared, settings, base.replace(**{target.knob: value}), share, cancel)
        counts["renders"] += 1
        counts["unet_calls"] += previewer.unet_calls
        motion = measure_flow(comparison.patched, settings.fps)
        return TargetPoint(value, motion.motion, motion.motion / baseline.motion, motion.mean_warp_error)

    start = round(getattr(base, target.knob), 2)  # the sliders' grid
    if base.replace(**{target.knob: start}).is_identity:  # the baseline itself: no render spent
        first = TargetPoint(start, baseline.motion, 1.0, baseline.mean_warp_error, rendered=False)
    else:
        first = measure(start)
    points, out_of_reach = search(measure, first, target)
    if progress:
        progress(1.0, "done")
    return TargetResult(target, base, baseline.motion, baseline.mean_warp_error, tuple(points),
                        _within(points, target), out_of_reach, counts["renders"], cached, counts["unet_calls"])


def _within(points: list[TargetPoint], target: MotionTarget) -> bool:
    return any(abs(p.ratio / target.ratio - 1.0) <= target.tolerance for p in points)
