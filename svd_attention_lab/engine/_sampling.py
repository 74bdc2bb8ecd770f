"""How a render samples: its starting noise and the steps its schedule patches, as ComfyUI does them.

Noise. With reference numerics (the default) a seed draws what ComfyUI's SVD graph draws, so the API
prompt the app exports, run in ComfyUI, gives the app's frames:

- the initial latents first, as ComfyUI's ``KSampler`` does (``comfy.sample.prepare_noise``): one
  ``torch.randn`` of the latent's shape, float32, from a CPU generator seeded with the seed;
- then, where the augmentation strength is above 0, the conditioning image's augmentation noise as
  ``SVD_img2vid_Conditioning`` adds it: one ``randn`` of the image's (1, H, W, 3) shape (channels last),
  times the strength, added to the image in 0..1 pixel units, which is twice the strength in the VAE's
  -1..1 units. ComfyUI draws this one from its process-wide generator, which the seed does not set, so
  above 0 it cannot be reproduced there; the app draws it from the seed's generator, after the latents.

With ``--numerics diffusers`` the pipeline draws both itself, in its own order (augmentation noise
first, then the latents) and at its own scale (the strength in -1..1 units), as the stock pipeline does.

Schedule. ``start`` / ``end`` are ComfyUI's ``start_percent`` / ``end_percent``: fractions of the
model's sampling range in sigma space (``percent_to_sigma``), and step i is patched when the sigma it
is evaluated at lies between them (``comfyui_svd_attention_lab.setting.scheduled_steps``), using the
sigmas of the scheduler in use and the model's own sampling range.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch
from PIL import Image

from svd_attention_lab.controls import scheduled_steps

from ._loading import LoadedModel

# ComfyUI adds the augmentation noise to pixels in 0..1; the VAE reads 2 * pixel - 1.
COMFYUI_AUGMENTATION_SCALE = 2.0


@dataclasses.dataclass(frozen=True)
class Noise:
    """What a render starts from: the pipeline's generator and, with reference numerics, the initial
    latents and the augmented image the VAE encodes (None: the pipeline draws its own)."""

    generator: torch.Generator
    latents: torch.Tensor | None = None  # (1, frames, 4, h, w) float32, unscaled (the scheduler scales it)
    encoded_image: torch.Tensor | None = None  # (1, 3, H, W) in -1..1, augmentation noise added

    def pipeline_kwargs(self, dtype: torch.dtype) -> dict:
        """The ``generator`` and, where drawn here, ``latents`` for the pipeline call."""
        kwargs: dict = {"generator": self.generator}
        if self.latents is not None:
            kwargs["latents"] = self.latents.to(dtype)
        return kwargs


def draw_noise(model: LoadedModel, prepared: Image.Image, frames: int, seed: int, strength: float) -> Noise:
    """The starting noise of a render of ``prepared`` (already at the render size) for ``model``'s numerics."""
    # A CPU generator gives the same noise on every device, so a seed means the same video everywhere.
    generator = torch.Generator(device="cpu").manual_seed(seed)
    if model.numerics == "diffusers":
        return Noise(generator)
    width, height = prepared.size
    pipe = model.pipe
    shape = (1, frames, pipe.unet.config.in_channels // 2, height // pipe.vae_scale_factor,
             width // pipe.vae_scale_factor)
    latents = torch.randn(shape, generator=generator, dtype=torch.float32)
    if strength <= 0:  # ComfyUI draws nothing more; the pipeline adds 0 times its own draw: the image itself
        return Noise(generator, latents)
    pixels = torch.randn((1, height, width, 3), generator=generator, dtype=torch.float32).permute(0, 3, 1, 2)
    image = pipe.video_processor.preprocess(prepared, height=height, width=width)
    return Noise(generator, latents, image + (COMFYUI_AUGMENTATION_SCALE * strength) * pixels)


def encoding(model: LoadedModel, noise: Noise) -> Callable[[], None]:
    """Make the pipeline's VAE encode ``noise.encoded_image`` instead of the image it augmented itself
    (an attribute on the instance); returns what removes it. Nothing where the pipeline's own is used."""
    pipe = model.pipe
    if noise.encoded_image is None:
        return lambda: None
    own = pipe._encode_vae_image

    def encode(image: torch.Tensor, *args, **kwargs):
        return own(noise.encoded_image.to(device=image.device, dtype=image.dtype), *args, **kwargs)

    pipe._encode_vae_image = encode
    return lambda: pipe.__dict__.pop("_encode_vae_image", None)


def step_sigmas(model: LoadedModel, steps: int) -> list[float]:
    """The sigma each of a ``steps``-step render's steps is evaluated at, from a copy of the model's
    scheduler (the pipeline's own is left as it is)."""
    scheduler = type(model.pipe.scheduler).from_config(model.pipe.scheduler.config)
    scheduler.set_timesteps(steps, device="cpu")
    return [float(s) for s in scheduler.sigmas[:steps]]


def patched_window(model: LoadedModel, start: float, end: float, steps: int) -> range:
    """The steps (0-based) a schedule from ``start`` to ``end`` patches in ``model``'s sampling: ComfyUI's
    rule, on the sigmas of the scheduler in use and the model's sampling range."""
    if (start, end) == (0.0, 1.0):
        return range(steps)
    return scheduled_steps(start, end, step_sigmas(model, steps), *model.sigma_range)
