"""The GPU boundary: the one function that runs on the GPU's clock, and how long it may take.

``render_frames`` takes a small, picklable ``RenderJob`` (a prepared image, the settings, the
multipliers of each video to render) and returns frames as uint8 arrays. Nothing else runs inside
it: image preparation, the baseline cache, composition, encoding and metrics stay in the calling
process.

On ZeroGPU (Hugging Face Spaces) ``gpu_render_frames`` is ``render_frames`` under ``spaces.GPU``:
each call runs in a worker process forked from the app, which gets a GPU slice for the call. The
worker sees the models loaded before it was forked (load them at start-up), receives the job
pickled, and only the return value comes back: nothing it changes in memory does. Progress and
Stop cannot reach into it, so a ZeroGPU render always runs to its end (or its deadline). Elsewhere
``spaces.GPU`` is a pass-through and ``gpu_render_frames`` is ``render_frames`` itself.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Callable

import numpy as np
import torch
from PIL import Image

from controls import Multipliers, patched_steps

from ._aot import AotPackage, build_package, install
from ._budget import CostModel
from ._errors import PreviewError, RenderCancelled
from ._images import prepare_image
from ._live import LiveFn, live_strip
from ._loading import LoadedModel, zerogpu_host

try:  # Hugging Face's ZeroGPU package; a pass-through off ZeroGPU, absent where not installed
    import spaces
except ImportError:
    spaces = None

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
    step's denoised estimate (``preview._live``), captioned like the progress ("patched · step 3 of 10").

    The multipliers act only in the steps of the settings' ``start``..``end`` window, switched in
    place at step boundaries. A patched video whose window opens after step 0 resumes from the
    baseline's latents there (``job.resume``, or a baseline rendered earlier in the same job)
    instead of denoising the unpatched steps again: the same frames, bitwise, for ``1 - start`` of
    the UNet calls.
    """
    model = _MODELS.get(job.model_id)
    if model is None:
        raise PreviewError("the model was not loaded before the GPU call; load it at start-up (--preload)")
    prepared = Image.fromarray(job.image)
    videos, resume = [], job.resume
    for i, multipliers in enumerate(job.videos):
        label = "baseline" if multipliers.is_identity else "patched"
        step_progress = scaled_progress(progress, i / len(job.videos), (i + 1) / len(job.videos), label)
        step_live = labelled(live, label)
        with model.patch.applied(Multipliers()):  # held (one render at a time) and restored, even on error
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
    window = range(0) if multipliers.is_identity else patched_steps(settings.start, settings.end, steps)
    unet = model.pipe.unet
    compiled = getattr(unet, "_compiled_call_impl", None) is not None  # a torch.compiled UNet is never swapped
    own_forward = unet.__dict__.get("forward")  # an ahead-of-time compiled forward (preview._aot) stays
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
    # A CPU generator gives the same noise on every device, so a seed means the same video everywhere.
    generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    patch_for(0)
    if first:
        unet.forward = _SkippedUnet(unet)
    hooks = [unet.register_forward_pre_hook(count)]
    scheduler, scheduler_step = model.pipe.scheduler, model.pipe.scheduler.step
    if live:
        scheduler.step = step_keeping_estimate  # on the instance, removed below
    if cancel is not None and not compiled:  # a compiled UNet would recompile around hooks: steps only there
        hooks += _cancel_points(model, cancel, lambda: finished[0], steps)
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
            generator=generator,
            output_type="np",
            callback_on_step_end=on_step_end,
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


# --- how long a call may take --------------------------------------------------------------------

SAFETY_FACTOR = 1.5
STARTUP_SECONDS = 10  # worker fork, moving the weights to the GPU slice
# ZeroGPU refuses longer requests; the limit is not documented (Hugging Face staff: "5 minutes is
# the maximum time that can be requested at once").
ZEROGPU_MAX_SECONDS = 300


def estimate_gpu_seconds(job: RenderJob, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                         live: LiveFn | None = None, device_name: str | None = None) -> int:
    """The GPU time to request for ``render_frames(job)``: same arguments, measured costs, a safety
    factor, never above ZeroGPU's maximum."""
    cost = CostModel("cuda", 0, device_name)  # the page's cost model, for this GPU class
    seconds = STARTUP_SECONDS + SAFETY_FACTOR * cost.work_seconds(job.size, job.settings.frames,
                                                                 job.settings.steps, len(job.videos))
    return int(min(ZEROGPU_MAX_SECONDS, max(1, round(seconds))))


def on_zerogpu() -> bool:
    return spaces is not None and zerogpu_host()


def aot_package(model_id: int, image: np.ndarray, settings) -> AotPackage:
    """The UNet of a registered model compiled ahead of time for renders of ``image`` (prepared) with
    ``settings``: on the GPU's clock, so on ZeroGPU it runs in a worker, as Hugging Face documents."""
    return build_package(_MODELS[model_id], image, settings, zerogpu=on_zerogpu())


# Hugging Face's ZeroGPU ahead-of-time guide (the "zerogpu-aoti" blog post) gives its start-up compile 1500 s.
AOT_COMPILE_SECONDS = 1500

if spaces is not None:
    # Decorated at import, as ZeroGPU requires (it checks for a GPU function at start-up).
    gpu_render_frames = spaces.GPU(duration=estimate_gpu_seconds)(render_frames)
    gpu_aot_package = spaces.GPU(duration=AOT_COMPILE_SECONDS)(aot_package)
else:
    gpu_render_frames = render_frames
    gpu_aot_package = aot_package


def compile_ahead_of_time(model: LoadedModel, image: Image.Image, settings, runner: Callable | None = None):
    """Compile ``model``'s UNet ahead of time for renders with ``settings`` (their size and frames) and
    install it; slider changes reach it without recompiling (``preview._aot``). ``image`` only gives the
    captured call its values. Returns the installed ``CompiledForward``."""
    width, height = settings.resolved_size(model)
    prepared = np.asarray(prepare_image(image, width, height).convert("RGB"))
    package = (runner or gpu_aot_package)(register_model(model), prepared, settings)
    return install(model, package)


def runs_isolated(runner: Callable) -> bool:
    """Whether ``runner`` runs in another process (ZeroGPU, or a test double of it): no callbacks then."""
    return getattr(runner, "isolated", False) or (runner is gpu_render_frames and on_zerogpu())
