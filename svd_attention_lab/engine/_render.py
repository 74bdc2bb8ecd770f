"""Render baseline and patched videos from the same seed and conditioning; cache the baseline."""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from typing import Callable

import numpy as np
from PIL import Image

from svd_attention_lab.controls import SETTINGS, Multipliers, check_settings, default_settings

from ._errors import PreviewError
from patcher import SVD
from ._frames import ProgressFn, Rendered, RenderJob, register_model, render_frames, runs_isolated, scaled_progress
from ._images import image_hash, prepare_image
from ._live import LiveFn
from ._loading import DEMO_FRAMES, LoadedModel, ModelSource

logger = logging.getLogger(__name__)

SIZE_MULTIPLE = 64


_DEFAULT = default_settings()


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """Everything besides the image and the multipliers that determines a render: one field per entry of
    ``controls.SETTINGS``, which gives its bounds, default and help (tests/test_settings_table.py keeps the
    two equal), validated on construction."""

    seed: int = _DEFAULT["seed"]
    frames: int = _DEFAULT["frames"]
    steps: int = _DEFAULT["steps"]
    width: int = _DEFAULT["width"]  # 0: the model's native width
    height: int = _DEFAULT["height"]
    fps: int = _DEFAULT["fps"]
    motion_bucket_id: int = _DEFAULT["motion_bucket_id"]
    noise_aug_strength: float = _DEFAULT["noise_aug_strength"]
    min_guidance: float = _DEFAULT["min_guidance"]
    max_guidance: float = _DEFAULT["max_guidance"]
    start: float = _DEFAULT["start"]  # the multipliers act from this fraction of the schedule
    end: float = _DEFAULT["end"]
    decode_chunk_size: int = _DEFAULT["decode_chunk_size"]

    def __post_init__(self) -> None:
        for key, value in check_settings(dataclasses.asdict(self), SETTINGS, PreviewError).items():
            object.__setattr__(self, key, value)

    def replace(self, **changes) -> RenderSettings:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, int | float]:
        return dataclasses.asdict(self)

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
    if is_small(model):
        frames = model.native_frames if isinstance(model, LoadedModel) else DEMO_FRAMES
        base = RenderSettings(frames=frames, steps=10, decode_chunk_size=frames)
    else:
        base = RenderSettings(**_pipeline(model).preview)
    return base.replace(**overrides)


def full_settings(model: LoadedModel | ModelSource, **overrides) -> RenderSettings:
    """The family's own defaults: native size and frame count, its number of steps."""
    family = _pipeline(model)
    if isinstance(model, LoadedModel):
        frames = model.native_frames
    else:
        frames = DEMO_FRAMES if model.is_demo else family.native_frames
    return RenderSettings(frames=frames, steps=family.full_steps,
                          decode_chunk_size=min(frames, family.max_decode_chunk)).replace(**overrides)


def _pipeline(model: LoadedModel | ModelSource):
    return (model.family if isinstance(model, LoadedModel) else SVD).pipeline


def is_small(model: LoadedModel | ModelSource) -> bool:
    """A model whose renders are quick (the demo model): below 512 px natively."""
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
    model: str = ""  # the weights and numerics it was rendered with (LoadedModel.key)
    numerics: str = "reference"
    rendered: int = 0  # videos rendered for it (the baseline unless cached, the patched video unless identity)
    unet_calls: int = 0  # UNet calls those renders made

    @property
    def complete(self) -> bool:
        """Every rendered video computed every step (none resumed from the baseline's latents)."""
        return self.rendered > 0 and self.unet_calls == self.rendered * self.settings.steps


class Previewer:
    """Renders comparisons on one loaded model, one at a time, with a bounded baseline cache.

    Only ``gpu`` (``render_frames``, or the same under ZeroGPU's ``spaces.GPU``) touches the model;
    image preparation and the cache stay here, in the calling process.
    """

    def __init__(self, model: LoadedModel, cache_size: int = 8, gpu: Callable | None = None) -> None:
        self.model = model
        self.model_id = register_model(model)
        self._gpu = gpu or render_frames
        self._cache: collections.OrderedDict[tuple, Rendered] = collections.OrderedDict()  # baselines
        self.resume = True  # patched renders whose schedule starts later resume from the baseline's latents
        self.unet_calls = 0  # in the last render
        self._cache_size = cache_size
        self._lock = threading.RLock()

    def render(
        self,
        image: Image.Image | np.ndarray | str,
        settings: RenderSettings,
        multipliers: Multipliers,
        progress: ProgressFn | None = None,
        cancel: Callable[[], bool] | None = None,
        live: LiveFn | None = None,
    ) -> Comparison:
        started = time.perf_counter()
        width, height = settings.resolved_size(self.model)
        prepared = prepare_image(image, width, height)
        key = self._cache_key(prepared, settings)
        with self._lock:
            cached = key in self._cache
            videos = () if cached else (Multipliers(),)
            if not multipliers.is_identity:  # identity: patched is the baseline by construction
                videos += (multipliers,)
            resume = self._cache[key].latents if cached else None
            if runs_isolated(self._gpu):  # one GPU call (one ZeroGPU slot) for both videos
                rendered = self._run(prepared, settings, videos, None, None, resume)
                if not cached:
                    self._remember(key, rendered[0])
            else:  # in-process: the baseline is cached as soon as it exists, even if the patched render stops
                rendered = []
                for i, video in enumerate(videos):
                    share = scaled_progress(progress, i / len(videos), (i + 1) / len(videos))
                    rendered += self._run(prepared, settings, (video,), share, cancel, resume, live)
                    if i == 0 and not cached:
                        self._remember(key, rendered[0])
                        resume = rendered[0].latents
            baseline = self._cache[key].frames
            self._cache.move_to_end(key)
            patched = baseline if multipliers.is_identity else rendered[-1].frames
            self.unet_calls = sum(r.unet_calls for r in rendered)
        if progress:
            progress(1.0, "done")
        return Comparison(baseline, patched, multipliers, settings, (width, height), cached,
                          time.perf_counter() - started, self.model.key, self.model.numerics, len(videos),
                          self.unet_calls)

    def baseline(
        self,
        prepared: Image.Image,
        settings: RenderSettings,
        progress: ProgressFn | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> tuple[np.ndarray, bool]:
        """The unpatched render of an already prepared image, from the cache when possible."""
        key = self._cache_key(prepared, settings)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key].frames, True
            rendered = self._run(prepared, settings, (Multipliers(),), progress, cancel)[0]
            self._remember(key, rendered)
            return rendered.frames, False

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def _cache_key(self, prepared: Image.Image, settings: RenderSettings) -> tuple:
        """The baseline's identity: the schedule changes only patched renders."""
        return (self.model.key, image_hash(prepared), prepared.size, settings.replace(start=0.0, end=1.0))

    def _remember(self, key: tuple, rendered: Rendered) -> None:
        self._cache[key] = rendered
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _run(self, prepared: Image.Image, settings: RenderSettings, videos: tuple[Multipliers, ...],
             progress: ProgressFn | None, cancel: Callable[[], bool] | None, resume=None,
             live: LiveFn | None = None) -> list[Rendered]:
        if not videos:
            return []
        job = RenderJob(self.model_id, np.asarray(prepared), settings, videos, resume if self.resume else None)
        if runs_isolated(self._gpu):  # another process: callbacks cannot follow it there
            return self._gpu(job)
        return self._gpu(job, progress, cancel, live)

