"""The GPU boundary: the one function that runs on the GPU's clock.

``render_frames`` takes a small, picklable ``RenderJob`` (a prepared image, the settings, the
multipliers of each video to render) and returns frames as uint8 arrays. Nothing else runs inside
it: image preparation, the baseline cache, composition, encoding and metrics stay in the calling
process. ``hosting`` runs the same function under ZeroGPU's ``spaces.GPU`` on a Space.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable

import numpy as np
import torch
from PIL import Image

from svd_attention_lab.controls import Multipliers

from ._errors import PreviewError, RenderCancelled
from ._live import LiveFn, live_strip
from ._loading import LoadedModel
from ._sampling import draw_noise, encoding, patched_window

logger = logging.getLogger(__name__)

# progress(fraction in [0, 1], description)
ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]

# Models the GPU function can reach, by id. A ZeroGPU worker is forked from the app and inherits
# this table, so models must be registered (loaded) before the first GPU call.
_MODELS: dict[int, LoadedModel] = {}


def register_model(model: LoadedModel) -> int:
    _MODELS[id(model)] = model
    return id(model)


def registered_model(model_id: int) -> LoadedModel | None:
    """The model registered as ``model_id`` in this process (a ZeroGPU worker: before it was forked)."""
    return _MODELS.get(model_id)


@dataclasses.dataclass(frozen=True)
class RenderJob:
    """What one GPU call renders: small and picklable, because ZeroGPU sends it to a worker process."""

    model_id: int  # register_model's id of the loaded model
    image: np.ndarray  # (H, W, 3) uint8, already prepared at the render size
    settings: object  # RenderSettings
    videos: tuple[Multipliers, ...]  # one video per entry, in order; Multipliers() is the baseline
    resume: tuple[np.ndarray, ...] | None = None  # the baseline's latents after each step, for patched videos

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


@dataclasses.dataclass(frozen=True)
class Rendered:
    """One video: (F, H, W, 3) uint8 frames; for a baseline also its latents after every step (small;
    float32 numpy, exact for float16 and bfloat16 too, and plain to pickle across processes), from
    which a patched render whose schedule starts later resumes; and the UNet calls it cost."""

    frames: np.ndarray
    latents: tuple[np.ndarray, ...] = ()
    unet_calls: int = 0


def render_frames(job: RenderJob, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                  live: LiveFn | None = None) -> list[Rendered]:
    """Render each of ``job.videos``; the UNet is restored after each. ``live`` gets a strip of each
    step's denoised estimate (``engine._live``), captioned like the progress ("patched · step 3 of 10").

    The multipliers act only in the steps of the settings' ``start``..``end`` window (ComfyUI's
    sigma-space percents, ``engine._sampling``), switched in place at step boundaries. A patched video
    whose window opens after step 0 resumes from the baseline's latents there (``job.resume``, or a
    baseline rendered earlier in the same job) instead of denoising the unpatched steps again: the same
    frames, bitwise, for the UNet calls of the steps from the window's first on.
    """
    model = registered_model(job.model_id)
    if model is None:
        raise PreviewError("the model was not loaded before the GPU call; load it at start-up (--preload)")
    prepared = Image.fromarray(job.image)
    videos, resume = [], job.resume
    for i, multipliers in enumerate(job.videos):
        label = "baseline" if multipliers.is_identity else "patched"
        step_progress = scaled_progress(progress, i / len(job.videos), (i + 1) / len(job.videos), label)
        step_live = labelled(live, label)
        with model.patch.held():  # one render at a time; each step applies its multipliers; restored after
            video = _generate(model, prepared, job.settings, multipliers, resume, step_progress, cancel, step_live)
        if multipliers.is_identity:
            resume = video.latents
        videos.append(video)
    return videos


class _SkippedUnet:
    """The UNet's forward in the steps a resumed render takes from the baseline: costs nothing."""

    def __init__(self, unet: torch.nn.Module) -> None:
        self.out_channels = unet.config.out_channels

    def __call__(self, sample, *args, **kwargs):
        shape = sample.shape[:2] + (self.out_channels,) + sample.shape[3:]
        return (torch.zeros(shape, dtype=sample.dtype, device=sample.device),)


def _generate(model: LoadedModel, prepared: Image.Image, settings, multipliers: Multipliers,
              resume: tuple[np.ndarray, ...] | None, progress: ProgressFn | None, cancel: CancelFn | None,
              live: LiveFn | None = None) -> Rendered:
    steps = settings.steps
    window = range(0) if multipliers.is_identity else patched_window(model, settings.start, settings.end, steps)
    unet = model.pipe.unet
    compiled = getattr(unet, "_compiled_call_impl", None) is not None  # a torch.compiled UNet is never swapped
    own_forward = unet.__dict__.get("forward")  # an ahead-of-time compiled forward (engine._aot) stays
    first = window.start if window and resume is not None and len(resume) == steps and not compiled else 0
    kept: list[np.ndarray] = []
    calls, finished = [0], [0]  # UNet calls made, steps finished
    estimate: list[torch.Tensor] = []  # the sampler's denoised estimate in the last step, for ``live``

    def count(module, args):
        calls[0] += 1

    def patch_for(step: int) -> None:
        model.patch.apply(multipliers if step in window else Multipliers())  # in place; nothing if unchanged

    def on_step_end(pipe, step, timestep, callback_kwargs):
        if multipliers.is_identity:  # a baseline keeps its latents for later resumes
            kept.append(callback_kwargs["latents"].detach().float().cpu().numpy().copy())
        if step + 1 == first:  # the skipped steps end here: continue from the baseline's latents, exactly
            restore_forward()
            latents = callback_kwargs["latents"]
            callback_kwargs["latents"] = torch.from_numpy(resume[step]).to(device=latents.device, dtype=latents.dtype)
        patch_for(step + 1)
        finished[0] = step + 1
        if cancel is not None and cancel():
            raise RenderCancelled(f"render cancelled after step {step + 1} of {steps}")
        if progress:
            progress((step + 1) / steps, f"step {step + 1} of {steps}")
        if live and step >= first:  # not in the steps taken from the baseline
            live(live_strip(model.pipe.vae, estimate[0] if estimate else callback_kwargs["latents"]),
                 f"step {step + 1} of {steps}")
        return callback_kwargs

    def restore_forward() -> None:
        if own_forward is None:
            unet.__dict__.pop("forward", None)
        else:
            unet.forward = own_forward

    def step_keeping_estimate(*args, **kwargs):
        out = scheduler_step(*args, **kwargs)
        estimate[:] = [e] if (e := getattr(out, "pred_original_sample", None)) is not None else []
        return out

    width, height = prepared.size
    noise = draw_noise(model, prepared, settings.frames, settings.seed, settings.noise_aug_strength)
    patch_for(0)
    if first:
        unet.forward = _SkippedUnet(unet)
    hooks = [unet.register_forward_pre_hook(count)]
    scheduler, scheduler_step = model.pipe.scheduler, model.pipe.scheduler.step
    if live:
        scheduler.step = step_keeping_estimate  # on the instance, removed below
    if cancel is not None and not compiled:  # a compiled UNet would recompile around hooks: steps only there
        hooks += _cancel_points(model, cancel, lambda: finished[0], steps)
    own_encoding = encoding(model, noise)
    try:
        result = model.pipe(
            prepared,
            height=height,
            width=width,
            num_frames=settings.frames,
            num_inference_steps=steps,
            min_guidance_scale=settings.min_guidance,
            max_guidance_scale=settings.max_guidance,
            fps=settings.fps,
            motion_bucket_id=settings.motion_bucket_id,
            noise_aug_strength=settings.noise_aug_strength,
            decode_chunk_size=settings.decode_chunk_size,
            output_type="np",
            callback_on_step_end=on_step_end,
            **noise.pipeline_kwargs(model.dtype),
        )
    except torch.OutOfMemoryError:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise PreviewError(
            f"out of memory rendering {settings.frames} frames at {width}x{height}; lower the size, the "
            "frame count or the decode chunk size"
        ) from None
    finally:
        for hook in hooks:
            hook.remove()
        restore_forward()
        scheduler.__dict__.pop("step", None)
        own_encoding()
    frames = result.frames[0]  # (F, H, W, 3) float in [0, 1]
    return Rendered((np.clip(frames, 0.0, 1.0) * 255.0).round().astype(np.uint8), tuple(kept), calls[0] - first)


_CANCEL_POINTS = (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)  # the operations a step spends its time in
_CANCEL_EVERY_S = 0.05


def _cancel_points(model: LoadedModel, cancel: CancelFn, finished: Callable[[], int], steps: int) -> list:
    """Checks of ``cancel`` inside a step: before the UNet's and the VAE decoder's convolutions and linear
    layers (at most every 50 ms), so Stop or a closed tab ends even a step that takes minutes within
    about one layer's time. The patch is restored by the caller's ``applied`` context whatever raises."""
    last = [time.monotonic()]

    def check(module, args):
        now = time.monotonic()
        if now - last[0] < _CANCEL_EVERY_S:
            return
        last[0] = now
        if cancel():
            where = f"during step {finished() + 1} of {steps}" if finished() < steps else "while decoding the frames"
            raise RenderCancelled(f"render cancelled {where}")

    layers = [m for part in (model.pipe.unet, model.pipe.vae.decoder) for m in part.modules()
              if isinstance(m, _CANCEL_POINTS)]
    return [layer.register_forward_pre_hook(check) for layer in layers]


def scaled_progress(progress: ProgressFn | None, start: float, end: float, label: str = "") -> ProgressFn | None:
    """``progress`` for a part of the work: fractions mapped into [start, end], text prefixed by ``label``."""
    if progress is None:
        return None
    return lambda fraction, text: progress(start + (end - start) * fraction, _caption(label, text))


def labelled(live: LiveFn | None, label: str) -> LiveFn | None:
    """``live`` with its captions prefixed by ``label``, as ``scaled_progress`` prefixes its text."""
    return None if live is None else (lambda image, text: live(image, _caption(label, text)))


def _caption(label: str, text: str) -> str:
    """"patched · step 3 of 10": the one format of progress texts and live captions."""
    return f"{label} · {text}" if label else text


def runs_isolated(runner: Callable) -> bool:
    """Whether ``runner`` runs in another process (ZeroGPU, or a test double of it): no callbacks then."""
    return getattr(runner, "isolated", False)
