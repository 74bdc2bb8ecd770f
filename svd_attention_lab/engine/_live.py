"""A live look at a render while it samples, for nothing: each step's denoised estimate, mapped to RGB
by a linear fit to the model's own VAE instead of a decode (the way ComfyUI previews SD-family
latents, with factors fitted to whichever VAE is loaded, the demo model's included)."""

from __future__ import annotations

import threading
import weakref
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

# live(strip of frames as (H, W, 3) uint8, "patched · step 3 of 10")
LiveFn = Callable[[np.ndarray, str], None]

MAX_LIVE_FRAMES = 8  # frames in the live strip, evenly spaced
_FIT_SIZE = 128  # the fitting image's side in pixels
_fits: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # VAE -> (weights, bias)
_fits_lock = threading.Lock()


def _fitting_image(size: int = _FIT_SIZE) -> torch.Tensor:
    """Smooth ramps of every hue and brightness, then saturated tiles: (1, 3, size, size) in [-1, 1]."""
    ramp = torch.linspace(0.0, 1.0, size)
    y, x = torch.meshgrid(ramp, ramp, indexing="ij")
    image = torch.stack([x, y, 1.0 - (x + y) / 2])
    tile = size // 4
    primaries = ((1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1), (0, 0, 0), (1, 1, 0), (0, 1, 1), (1, 0, 1))
    for i, colour in enumerate(primaries):
        row, col = divmod(i, 4)
        image[:, row * tile:(row + 1) * tile, col * tile:(col + 1) * tile] = torch.tensor(colour).view(3, 1, 1)
    return (image * 2 - 1).unsqueeze(0)


def latent_rgb_fit(vae: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares weights (C, 3) and bias (3,) from the pipeline's latents (VAE latents times the
    scaling factor) to RGB in [0, 1]; fitted once per VAE on one small encode."""
    with _fits_lock:
        if vae in _fits:
            return _fits[vae]
        pixels = _fitting_image()
        with torch.no_grad():
            latents = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mode().float().cpu()
        latents = latents * vae.config.scaling_factor
        factor = pixels.shape[-1] // latents.shape[-1]
        target = (F.avg_pool2d(pixels, factor)[0] + 1) / 2  # (3, h, w): the colour each latent covers
        inputs = torch.cat([latents[0].flatten(1), torch.ones(1, latents[0, 0].numel())]).T.double()
        solution = torch.linalg.lstsq(inputs, target.flatten(1).T.double()).solution.float()
        _fits[vae] = solution[:-1], solution[-1]
        return _fits[vae]


def live_strip(vae: torch.nn.Module, latents: torch.Tensor) -> np.ndarray:
    """Up to ``MAX_LIVE_FRAMES`` frames of (1, F, C, h, w) latents side by side, as (h, n*w, 3) uint8."""
    weights, bias = latent_rgb_fit(vae)
    frames = latents[0].detach().float().cpu()
    picked = frames[np.linspace(0, len(frames) - 1, min(MAX_LIVE_FRAMES, len(frames))).round().astype(int)]
    rgb = torch.einsum("fchw,cd->fhwd", picked, weights) + bias
    strip = torch.cat(list(rgb), dim=1)  # (h, n*w, 3)
    return (strip.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
