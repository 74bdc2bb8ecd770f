"""One multiplier over a list of values: a labelled grid video and a metrics table."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from controls import FIELDS, Multipliers, check_multiplier, check_setting

from . import _compose as compose
from ._errors import PreviewError
from ._metrics import Metrics
from ._render import Previewer, ProgressFn, RenderSettings

MAX_SWEEP_VALUES = 9


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """``"self_temporal=0,0.5,1"`` -> ("self_temporal", [0.0, 0.5, 1.0])."""
    field, sep, values = text.partition("=")
    field = field.strip().replace("-", "_")
    if not sep:
        raise PreviewError(f"sweep must look like self_temporal=0,0.5,1; got {text!r}")
    try:
        numbers = [float(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise PreviewError(f"sweep values must be numbers separated by commas, got {values!r}") from None
    return field, check_sweep(field, numbers)


SCHEDULE_FIELDS = ("end", "start")  # sweepable besides the multipliers: where in denoising they act
SWEEPABLE = (*FIELDS, *SCHEDULE_FIELDS)


def check_sweep(field: str, values: list[float]) -> list[float]:
    if field not in SWEEPABLE:
        raise PreviewError(f"cannot sweep {field!r}; choose one of {', '.join(SWEEPABLE)}")
    if not 1 <= len(values) <= MAX_SWEEP_VALUES:
        raise PreviewError(f"a sweep takes 1 to {MAX_SWEEP_VALUES} values, got {len(values)}")
    if field in SCHEDULE_FIELDS:
        return [float(check_setting(field, v, error=PreviewError)) for v in values]
    return [check_multiplier(field, v) for v in values]


@dataclasses.dataclass(frozen=True)
class SweepResult:
    field: str
    values: list[float]
    baseline: np.ndarray  # (F, H, W, 3)
    videos: list[np.ndarray]  # one per value
    metrics: list[Metrics]
    settings: RenderSettings

    def grid(self) -> np.ndarray:
        labels = [f"{self.field}={v:.2f}" for v in self.values]
        return compose.grid(self.videos, labels)

    def table(self) -> list[dict]:
        """One row per value: the value and the summary metrics of its video against the baseline."""
        return [{self.field: v, **m.summary()} for v, m in zip(self.values, self.metrics)]


def sweep(
    previewer: Previewer,
    image: Image.Image | np.ndarray | str,
    settings: RenderSettings,
    field: str,
    values: list[float],
    base: Multipliers | None = None,
    progress: ProgressFn | None = None,
    cancel=None,
) -> SweepResult:
    """Render ``base`` with ``field`` (a multiplier, or the schedule's ``start`` / ``end``) set to each
    value; the baseline is rendered (or cached) once."""
    values = check_sweep(field, list(values))
    base = base or Multipliers()
    videos, metrics = [], []
    baseline = None
    for i, value in enumerate(values):
        def step(fraction: float, text: str, i: int = i, value: float = value) -> None:
            if progress:
                progress((i + fraction) / len(values), f"{field}={value:.2f} {text}")

        if field in SCHEDULE_FIELDS:
            comparison = previewer.render(image, settings.replace(**{field: value}), base, step, cancel)
        else:
            comparison = previewer.render(image, settings, base.replace(**{field: value}), step, cancel)
        baseline = comparison.baseline
        videos.append(comparison.patched)
        metrics.append(Metrics.compare(comparison.baseline, comparison.patched))
    return SweepResult(field, values, baseline, videos, metrics, settings)
