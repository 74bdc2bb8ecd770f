"""Turn a comparison into the files people look at and share."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from svd_attention_lab.files import atomic_write_bytes

from . import _compose as compose
from ._encode import write_mp4, write_png, write_webp
from ._metrics import Metrics
from svd_attention_lab.engine import Comparison


@dataclasses.dataclass(frozen=True)
class Artifacts:
    side_by_side: Path  # mp4: baseline | patched
    baseline: Path  # mp4
    patched: Path  # mp4
    difference: Path  # mp4, amplified |patched - baseline|
    contact_sheet: Path  # png
    side_by_side_webp: Path
    metrics_json: Path
    metrics_csv: Path
    metrics: Metrics


def labelled_pair(comparison: Comparison) -> np.ndarray:
    """baseline | patched side by side, each labelled."""
    return compose.side_by_side(comparison.baseline, comparison.patched, "baseline", comparison.multipliers.label())


def write_side_by_side(comparison: Comparison, path: Path) -> Path:
    """The labelled pair as a browser-playable mp4."""
    return write_mp4(labelled_pair(comparison), path, comparison.settings.fps)


def export_comparison(comparison: Comparison, folder: Path, difference_gain: float = 4.0) -> Artifacts:
    folder = Path(folder)
    fps = comparison.settings.fps
    baseline, patched = comparison.baseline, comparison.patched
    metrics = Metrics.compare(baseline, patched, fps)
    factor = compose.display_scale(*baseline.shape[1:3])
    pair = labelled_pair(comparison)
    diff = compose.difference(baseline, patched, difference_gain)
    sheet = compose.contact_sheet([("baseline", baseline), ("patched", patched), (f"diff x{difference_gain:g}", diff)])
    context = {"model": comparison.model, "numerics": comparison.numerics} if comparison.model else {}
    atomic_write_bytes(folder / "metrics.json", metrics.to_json(**context).encode())
    atomic_write_bytes(folder / "metrics.csv", metrics.to_csv().encode())
    return Artifacts(
        side_by_side=write_mp4(pair, folder / "side_by_side.mp4", fps),
        baseline=write_mp4(compose.upscale(baseline, factor), folder / "baseline.mp4", fps),
        patched=write_mp4(compose.upscale(patched, factor), folder / "patched.mp4", fps),
        difference=write_mp4(compose.upscale(diff, factor), folder / "difference.mp4", fps),
        contact_sheet=write_png(sheet, folder / "contact_sheet.png"),
        side_by_side_webp=write_webp(pair, folder / "side_by_side.webp", fps),
        metrics_json=folder / "metrics.json",
        metrics_csv=folder / "metrics.csv",
        metrics=metrics,
    )
