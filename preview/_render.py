"""Render baseline and patched videos from the same seed and conditioning; cache the baseline."""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from typing import Callable

import numpy as np
import torch
from PIL import Image

from controls import SETTINGS, Multipliers, settings_dataclass

from ._errors import PreviewError, RenderCancelled
from ._families import SVD
from ._images import image_hash, prepare_image
from ._loading import DEMO_FRAMES, LoadedModel, ModelSource

logger = logging.getLogger(__name__)

# progress(fraction in [0, 1], description)
ProgressFn = Callable[[float, str], None]

SIZE_MULTIPLE = 64


class RenderSettings(settings_dataclass(SETTINGS, "RenderSettings", PreviewError)):
    """Everything besides the image and the multipliers that determines a render: one field per
    entry of ``controls.SETTINGS``, validated on construction."""

    def resolved_size(self, model: LoadedModel) -> tuple[int, int]:
        """(width, height): the model's native size for 0, otherwise snapped to multiples of 64."""
        native_w, native_h = model.native_size
        return _snap(self.width or native_w), _snap(self.height or native_h)


def _snap(value: int) -> int:
    return max(SIZE_MULTIPLE, int(round(value / SIZE_MULTIPLE)) * SIZE_MULTIPLE)


def preview_settings(model: LoadedModel | ModelSource, **overrides) -> RenderSettings:
    """Fast defaults: a few seconds on a GPU (fewer frames and steps, lower resolution).

    Takes a loaded model, or just its source, so a UI can show the defaults before loading.
    """
    if _is_small(model):
        frames = model.native_frames if isinstance(model, LoadedModel) else DEMO_FRAMES
        base = RenderSettings(frames=frames, steps=10, decode_chunk_size=frames)
    else:
        base = RenderSettings(**_family(model).preview)
    return base.replace(**overrides)


def full_settings(model: LoadedModel | ModelSource, **overrides) -> RenderSettings:
    """The family's own defaults: native size and frame count, its number of steps."""
    family = _family(model)
    if isinstance(model, LoadedModel):
        frames = model.native_frames
    else:
        frames = DEMO_FRAMES if model.is_demo else family.native_frames
    return RenderSettings(frames=frames, steps=family.full_steps,
                          decode_chunk_size=min(frames, family.max_decode_chunk)).replace(**overrides)


def _family(model: LoadedModel | ModelSource):
    return model.family if isinstance(model, LoadedModel) else SVD


def _is_small(model: LoadedModel | ModelSource) -> bool:
    if isinstance(model, LoadedModel):
        return model.native_size[0] < 512
    return model.is_demo


@dataclasses.dataclass(frozen=True)
class Comparison:
    baseline: np.ndarray  # (F, H, W, 3) uint8
    patched: np.ndarray  # (F, H, W, 3) uint8
    multipliers: Multipliers
    settings: RenderSettings
    size: tuple[int, int]  # (width, height) rendered
    baseline_cached: bool
    seconds: float


class Previewer:
    """Renders comparisons on one loaded model, one at a time, with a bounded baseline cache."""

    def __init__(self, model: LoadedModel, cache_size: int = 8) -> None:
        self.model = model
        self._cache: collections.OrderedDict[tuple, np.ndarray] = collections.OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.RLock()

    def render(
        self,
        image: Image.Image | np.ndarray | str,
        settings: RenderSettings,
        multipliers: Multipliers,
        progress: ProgressFn | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Comparison:
        started = time.perf_counter()
        width, height = settings.resolved_size(self.model)
        prepared = prepare_image(image, width, height)
        with self._lock:
            baseline, cached = self.baseline(prepared, settings, progress, cancel, share=0.5)
            if multipliers.is_identity:
                patched = baseline  # identical by construction; no second render
            else:
                start = 0.0 if cached else 0.5
                with self.model.patch.applied(multipliers):
                    patched = self._generate(prepared, settings, _scaled(progress, start, 1.0, "patched"), cancel)
        if progress:
            progress(1.0, "done")
        return Comparison(baseline, patched, multipliers, settings, (width, height), cached, time.perf_counter() - started)

    def baseline(
        self,
        prepared: Image.Image,
        settings: RenderSettings,
        progress: ProgressFn | None = None,
        cancel: Callable[[], bool] | None = None,
        share: float = 1.0,
    ) -> tuple[np.ndarray, bool]:
        """The unpatched render of an already prepared image, from the cache when possible."""
        key = (self.model.key, image_hash(prepared), prepared.size, settings)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key], True
            # A patch left applied by a caller would poison the cache: baselines are always unpatched.
            self.model.patch.restore()
            frames = self._generate(prepared, settings, _scaled(progress, 0.0, share, "baseline"), cancel)
            self._cache[key] = frames
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return frames, False

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _generate(
        self,
        prepared: Image.Image,
        settings: RenderSettings,
        progress: ProgressFn | None,
        cancel: Callable[[], bool] | None,
    ) -> np.ndarray:
        def on_step_end(pipe, step, timestep, callback_kwargs):
            if cancel is not None and cancel():
                raise RenderCancelled(f"render cancelled at step {step + 1} of {settings.steps}")
            if progress:
                progress((step + 1) / settings.steps, f"step {step + 1}/{settings.steps}")
            return callback_kwargs

        width, height = prepared.size
        # A CPU generator gives the same noise on every device, so a seed means the same video everywhere.
        generator = torch.Generator(device="cpu").manual_seed(settings.seed)
        try:
            result = self.model.pipe(
                prepared,
                height=height,
                width=width,
                num_frames=settings.frames,
                num_inference_steps=settings.steps,
                min_guidance_scale=settings.min_guidance,
                max_guidance_scale=settings.max_guidance,
                fps=settings.fps,
                motion_bucket_id=settings.motion_bucket_id,
                noise_aug_strength=settings.noise_aug_strength,
                decode_chunk_size=settings.decode_chunk_size,
                generator=generator,
                output_type="np",
                callback_on_step_end=on_step_end,
            )
        except torch.OutOfMemoryError:
            _free_memory()
            raise PreviewError(
                f"out of memory rendering {settings.frames} frames at {width}x{height}; lower the size, the "
                "frame count or the decode chunk size"
            ) from None
        frames = result.frames[0]  # (F, H, W, 3) float in [0, 1]
        return (np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _scaled(progress: ProgressFn | None, start: float, end: float, label: str) -> ProgressFn | None:
    if progress is None:
        return None
    return lambda fraction, text: progress(start + (end - start) * fraction, f"{label}: {text}")


def _free_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
