"""One multiplier over a list of values: a labelled grid video and a metrics table."""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from svd_attention_lab.controls import FIELDS, Multipliers, check_multiplier, check_setting

from svd_attention_lab import outputs as compose
from svd_attention_lab.engine import PreviewError, Previewer, ProgressFn, RenderSettings
from svd_attention_lab.outputs import Metrics

MAX_SWEEP_VALUES = 9
METRIC_UNITS = {"flow_motion": "px/frame (at a 256-px short side)", "warp_error": "levels",
                "temporal_change": "levels"}
MAX_SWEEP_SEEDS = 8


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
    baseline: np.ndarray  # (F, H, W, 3), the first seed's
    videos: list[np.ndarray]  # one per value, the first seed's
    metrics: list[Metrics]  # one per value, the first seed's
    settings: RenderSettings
    seed_metrics: list[list[Metrics]] = dataclasses.field(default_factory=list)  # per value, one per seed

    @property
    def seeds(self) -> list[int]:
        return [self.settings.seed + k for k in range(len(self.seed_metrics[0]) if self.seed_metrics else 1)]

    def grid(self) -> np.ndarray:
        labels = [f"{self.field}={v:.2f}" for v in self.values]
        return compose.grid(self.videos, labels)

    def table(self) -> list[dict]:
        """One row per value: the value and each summary metric's mean over the seeds (with its
        standard deviation, ``<metric>_sd``, when there are several)."""
        rows = []
        for value, per_seed in zip(self.values, self.seed_metrics or [[m] for m in self.metrics]):
            summaries = [m.summary() for m in per_seed]
            row = {self.field: value}
            for key in summaries[0]:
                numbers = np.array([s[key] for s in summaries], dtype=np.float64)
                row[key] = float(numbers.mean())
                if len(numbers) > 1:
                    row[f"{key}_sd"] = float(numbers.std(ddof=1))
            rows.append(row)
        return rows

    def verdicts(self, metric: str = "flow_motion") -> list[str]:
        """Per value, whether its change of ``metric`` (patched minus baseline, paired by seed; by default
        the optical-flow motion) stands out from the baseline's own seed-to-seed spread; empty with one seed."""
        if not self.seed_metrics or len(self.seed_metrics[0]) < 2:
            return []
        spread = float(np.std([m.summary()[f"baseline_{metric}"] for m in self.seed_metrics[0]], ddof=1))
        out = []
        for value, per_seed in zip(self.values, self.seed_metrics):
            change = float(np.mean([m.summary()[f"patched_{metric}"] - m.summary()[f"baseline_{metric}"]
                                    for m in per_seed]))
            verdict = ("not distinguishable from seed noise" if abs(change) < spread
                       else "beyond the seed-to-seed spread")
            unit = METRIC_UNITS.get(metric, "levels")
            out.append(f"{self.field}={value:g}: {metric.replace('_', ' ')} {change:+.2f} {unit}, seed-to-seed spread "
                       f"{spread:.2f} over {len(per_seed)} seeds: {verdict}")
        return out


def sweep(
    previewer: Previewer,
    image: Image.Image | np.ndarray | str,
    settings: RenderSettings,
    field: str,
    values: list[float],
    base: Multipliers | None = None,
    progress: ProgressFn | None = None,
    cancel=None,
    seeds: int = 1,
) -> SweepResult:
    """Render ``base`` with ``field`` (a multiplier, or the schedule's ``start`` / ``end``) set to each
    value, for ``seeds`` seeds from the settings' own; each seed's baseline is rendered (or cached) once."""
    values = check_sweep(field, list(values))
    if not 1 <= seeds <= MAX_SWEEP_SEEDS:
        raise PreviewError(f"a sweep takes 1 to {MAX_SWEEP_SEEDS} seeds, got {seeds}")
    base = base or Multipliers()
    videos, baseline = [], None
    seed_metrics: list[list[Metrics]] = [[] for _ in values]
    total = len(values) * seeds
    for k in range(seeds):
        seeded = settings.replace(seed=(settings.seed + k) % 2**32)
        for i, value in enumerate(values):
            def step(fraction: float, text: str, n: int = k * len(values) + i, value: float = value,
                     seed: int = seeded.seed) -> None:
                if progress:
                    progress((n + fraction) / total, f"seed {seed}: {field}={value:.2f} {text}")

            if field in SCHEDULE_FIELDS:
                comparison = previewer.render(image, seeded.replace(**{field: value}), base, step, cancel)
            else:
                comparison = previewer.render(image, seeded, base.replace(**{field: value}), step, cancel)
            if k == 0:
                baseline = comparison.baseline
                videos.append(comparison.patched)
            seed_metrics[i].append(Metrics.compare(comparison.baseline, comparison.patched, seeded.fps))
    return SweepResult(field, values, baseline, videos, [m[0] for m in seed_metrics], settings, seed_metrics)
