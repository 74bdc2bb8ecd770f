"""What a running app holds: one model, its previewer, the output folder and the Stop switches.

One ``Studio`` per app instance (created by ``app.build_demo``); nothing lives at module level, so
tests and embedders can run several side by side.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import random
import threading
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
from PIL import Image

from svd_attention_lab.files import atomic_write_bytes
from svd_attention_lab.controls import Multipliers, patched_steps

from patcher import SVD
from svd_attention_lab.engine import (
    Comparison,
    LiveFn,
    ModelHolder,
    ModelSource,
    PreviewError,
    Previewer,
    ProgressFn,
    RenderSettings,
    crop_note,
    full_settings,
    is_small,
    load_image,
    preview_settings,
)
from svd_attention_lab.outputs import Artifacts, Metrics, OutputDir, export_comparison, write_mp4
from svd_attention_lab.studies import METER_BUCKETS, MotionReading, SweepResult, read_motion, sweep

from ._budget import CostModel, Estimate, check_budget, gpu_class
from ._gate import Gate
from ._zerogpu import compile_ahead_of_time, gpu_runner


@dataclasses.dataclass(frozen=True)
class PreviewOutcome:
    comparison: Comparison
    files: Artifacts
    summary: str  # Markdown: what was scaled, how long it took, the headline numbers


@dataclasses.dataclass(frozen=True)
class SweepOutcome:
    result: SweepResult
    video: str  # path of the labelled grid video
    rows: list[dict]  # one row per value: the value and its summary metrics (their spread as ``<metric>_sd``)
    verdicts: list[str] = dataclasses.field(default_factory=list)  # per value, against seed noise


SHOWCASES_KEPT = 8  # comparisons the page and share links open with, kept rendered (least recently used out)


class Studio:
    """Renders for an app: loads the model on first use, caches baselines, writes files, stops on request."""

    def __init__(self, model: ModelHolder | None = None, outputs: OutputDir | None = None,
                 gpu: Callable | None = None, budget_s: float | None = None) -> None:
        self.model = model or ModelHolder()
        self.outputs = outputs or OutputDir()
        self.gpu = gpu  # what renders a job (default: gpu_runner(), ZeroGPU's on a Space); tests pass a double
        self.budget_s = budget_s  # the longest a request may hold the model (a public host's limit); None: any
        self._cost: CostModel | None = None
        self._previewer: Previewer | None = None
        self._lock = threading.Lock()
        self._cancel_events: dict[str, set[threading.Event]] = {}  # per session: its waiting and running renders
        self.gate = Gate()
        self._showcase: collections.OrderedDict[tuple, PreviewOutcome] = collections.OrderedDict()  # LRU

    @property
    def source(self) -> ModelSource:
        return self.model.source

    def previewer(self) -> Previewer:
        """The one Previewer, created with the model on first use (never at start-up unless asked)."""
        with self._lock:
            if self._previewer is None:
                model = self.model.get()
                self._previewer = Previewer(model, gpu=self.gpu or gpu_runner())
                self._cost = CostModel(model.device, sum(p.numel() for p in model.pipe.unet.parameters()),
                                       gpu_class() if model.device == "cuda" else None)
            return self._previewer

    def estimate(self, settings: RenderSettings | Mapping, videos: int = 2) -> Estimate | None:
        """What ``videos`` renders at these settings will take here; None until the model is loaded."""
        settings = _settings(settings)
        model = self.model.loaded
        if model is None or self._cost is None:
            return None
        return self._cost.predict(settings.resolved_size(model), settings.frames, settings.steps, videos)

    def _within_budget(self, settings: RenderSettings, videos: int) -> Estimate:
        self.previewer()  # the estimate needs the loaded model
        estimate = self.estimate(settings, videos)
        check_budget(estimate, self.budget_s)
        return estimate

    def badge(self) -> str:
        """One Markdown line saying which model renders: the loaded model's own description, and
        "not loaded yet" before it is loaded."""
        model = self.model.loaded
        if model is None:
            what = "the embedded demo model" if self.source.is_demo else f"`{self.source.location}`"
            return f"**Model:** not loaded yet · {what} loads with the first render"
        hint = (f" Point `SVD_MODEL` (or `--model`) at a diffusers folder, a single file or "
                f"`{SVD.pipeline.hub_ids[0]}` for real SVD." if model.source.is_demo else "")
        return f"**Model:** {model.describe()}.{hint}"

    def default_settings(self, full: bool = False) -> RenderSettings:
        return (full_settings if full else preview_settings)(self.model.loaded or self.source)

    def compile_ahead_of_time(self, image: str) -> None:
        """Load the model and compile its UNet ahead of time for the page's default renders (ZeroGPU's
        start-up; ``engine._aot``), on the GPU function's clock."""
        self.previewer()  # loads the model
        compile_ahead_of_time(self.model.get(), image, self.default_settings())

    def fit_import(self, settings: Mapping) -> tuple[dict, list[str]]:
        """Settings from another tool (a ComfyUI workflow) made what this model renders: on a small model
        (the demo), a size, frame or step count beyond its full-quality settings comes down to them; each
        change is named ("width 1024 → the model's own"). Real SVD keeps them (a host's budget still applies)."""
        if not is_small(self.model.loaded or self.source):
            return dict(settings), []
        full, fitted, notes = self.default_settings(full=True), dict(settings), []
        for name in ("width", "height"):
            if fitted.get(name):
                notes.append(f"{name} {fitted[name]} → the model's own")
                fitted[name] = 0
        for name in ("frames", "steps", "decode_chunk_size"):
            if fitted.get(name, 0) > getattr(full, name):
                notes.append(f"{name} {fitted[name]} → {getattr(full, name)}")
                fitted[name] = getattr(full, name)
        return fitted, notes

    def default_sweep_seeds(self) -> int:
        """3 seeds where renders are quick (the demo model), 1 on real SVD."""
        return 3 if is_small(self.model.loaded or self.source) else 1

    # --- Stop ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def cancellable(self, key: str, gone: Callable[[], bool] | None = None) -> Iterator[Callable[[], bool]]:
        """A cancel check for one render: true once ``cancel(key)`` was called or ``gone()`` says the
        caller has left (a closed tab, a cancelled API request)."""
        event = threading.Event()
        with self._lock:
            self._cancel_events.setdefault(key, set()).add(event)
        try:
            yield (lambda: event.is_set() or gone()) if gone is not None else event.is_set
        finally:
            with self._lock:
                events = self._cancel_events[key]
                events.discard(event)
                if not events:
                    del self._cancel_events[key]

    def cancel(self, key: str) -> bool:
        """Stop ``key``'s renders: a running one after its current layer, waiting ones before they start;
        False when it has none."""
        with self._lock:
            events = list(self._cancel_events.get(key, ()))
        for event in events:
            event.set()
        return bool(events)

    @contextlib.contextmanager
    def _turn(self, key: str, gone: Callable[[], bool] | None) -> Iterator[Callable[[], bool]]:
        """Cancellable, and ``key``'s turn at the model (``hosting._gate``)."""
        with self.cancellable(key, gone) as cancel, self.gate.turn(key, cancel):
            yield cancel

    # --- renders ------------------------------------------------------------------------------

    def preview(self, image: Image.Image | np.ndarray | str, settings: RenderSettings | Mapping,
                multipliers: Multipliers,
                key: str = "local", progress: ProgressFn | None = None, gone: Callable[[], bool] | None = None,
                randomize_seed: bool = False, live: LiveFn | None = None) -> PreviewOutcome:
        settings = _settings(settings, randomize_seed)
        _check_image(image)
        self._within_budget(settings, 1 if multipliers.is_identity else 2)
        previewer = self.previewer()
        with self._turn(key, gone) as cancel:
            comparison = previewer.render(image, settings, multipliers, progress=progress, cancel=cancel, live=live)
        if comparison.complete:  # a resumed or cached render did less work than its settings say: not learnt
            self._cost.record(comparison.size, settings.frames, settings.steps, comparison.rendered, comparison.seconds)
        files = export_comparison(comparison, self.outputs.new_batch())
        summary = comparison_summary(comparison, previewer.model.patch.summary(), files.metrics)
        note = crop_note(load_image(image).size, comparison.size)
        return PreviewOutcome(comparison, files, summary + (f"\n\n{note}" if note else ""))

    def showcase(self, image: str, multipliers: Multipliers, settings: RenderSettings | None = None) -> PreviewOutcome:
        """A comparison every first visitor (or every visitor of one share link) sees: rendered once, then
        reused (renders are deterministic) until its files are cleaned away."""
        settings = settings or self.default_settings()
        key = (image, settings, multipliers)
        with self._lock:
            outcome = self._showcase.get(key)
            if outcome is not None:
                self._showcase.move_to_end(key)
        if outcome is None or not outcome.files.side_by_side.exists():
            outcome = self.preview(image, settings, multipliers, key="showcase")
            with self._lock:
                self._showcase[key] = outcome
                while len(self._showcase) > SHOWCASES_KEPT:  # the least recently shown goes
                    self._showcase.popitem(last=False)
        return outcome

    def motion_meter(self, image: Image.Image | np.ndarray | str, settings: RenderSettings | Mapping,
                     multipliers: Multipliers, key: str = "local", progress: ProgressFn | None = None,
                     gone: Callable[[], bool] | None = None) -> MotionReading:
        """Which motion bucket the patched video moves like: a few baseline renders (cached)."""
        settings = _settings(settings)
        _check_image(image)
        self._within_budget(settings, len(METER_BUCKETS) + 1)
        with self._turn(key, gone) as cancel:
            return read_motion(self.previewer(), image, settings, multipliers, progress, cancel)

    def sweep(self, image: Image.Image | np.ndarray | str, settings: RenderSettings, field: str, values: list[float],
              base: Multipliers, key: str = "local", progress: ProgressFn | None = None,
              gone: Callable[[], bool] | None = None, seeds: int = 1) -> SweepOutcome:
        settings = _settings(settings)
        _check_image(image)
        self._within_budget(settings, seeds * (len(values) + 1))
        with self._turn(key, gone) as cancel:
            result = sweep(self.previewer(), image, settings, field, values, base=base, progress=progress,
                           cancel=cancel, seeds=seeds)
        video = write_mp4(result.grid(), self.outputs.new_batch() / "sweep.mp4", settings.fps)
        rows = result.table()
        return SweepOutcome(result, str(video), rows, result.verdicts())

    def write(self, name: str, text: str) -> Path:
        """A text file for download, in a fresh output folder, under a fixed ``name`` (never a visitor's text)."""
        path = self.outputs.new_batch() / name
        return atomic_write_bytes(path, text.encode("utf-8"))


def _settings(settings: RenderSettings | Mapping, randomize_seed: bool = False) -> RenderSettings:
    settings = settings if isinstance(settings, RenderSettings) else RenderSettings(**settings)
    return settings.replace(seed=random.randint(0, 2**32 - 1)) if randomize_seed else settings


def _check_image(image) -> None:
    if image is None or (isinstance(image, str) and not image):
        raise PreviewError("upload an image first (or pick one of the examples)")


def comparison_summary(comparison: Comparison, patch_summary: dict, metrics: Metrics) -> str:
    """A Markdown table of what each multiplier scaled, then the render's facts and headline numbers."""
    m = comparison.multipliers
    numbers = metrics.summary()
    rows = [f"| {field} | {getattr(m, field):.2f} | {g['tensors']} | {g['parameters']:,} |"
            for field, g in patch_summary["groups"].items()]
    width, height = comparison.size
    cached = "cached baseline" if comparison.baseline_cached else "baseline rendered"
    factors = m.regions.flat()
    regions = (" Per-region factors: " + ", ".join(f"{name} ×{value:.2f}" for name, value in factors.items()) + "."
               if factors else "")
    settings = comparison.settings
    window = patched_steps(settings.start, settings.end, settings.steps)
    if (settings.start, settings.end) == (0.0, 1.0):
        schedule = ""
    elif window:
        schedule = (f" The multipliers act in steps {window.start + 1}–{window.stop} of {settings.steps} "
                    f"(start {settings.start:.2f}, end {settings.end:.2f}).")
    else:
        schedule = (f" The schedule ({settings.start:.2f} to {settings.end:.2f}) holds none of the "
                    f"{settings.steps} steps.")
    return "\n".join([
        "| multiplier | value | tensors scaled | parameters |",
        "| --- | ---: | ---: | ---: |",
        *rows,
        "",
        f"{patch_summary['total']['tensors']} tensors, {patch_summary['fraction']:.1%} of the UNet's parameters. "
        f"{comparison.settings.frames} frames at {width}x{height}, {comparison.settings.steps} steps, "
        f"{cached}, {comparison.seconds:.1f} s.{schedule}{regions}",
        "",
        f"**Mean change vs baseline:** {numbers['mean_change_vs_baseline']:.2f} levels (of 255) · "
        f"**temporal change** baseline {numbers['baseline_temporal_change']:.2f} → patched "
        f"{numbers['patched_temporal_change']:.2f} · **jitter** {numbers['baseline_jitter']:.2f} → "
        f"{numbers['patched_jitter']:.2f} · **flicker** {numbers['baseline_flicker']:.2f} → "
        f"{numbers['patched_flicker']:.2f}",
    ])
