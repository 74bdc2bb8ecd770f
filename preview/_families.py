"""The video pipelines the preview renders, one table entry each.

Adding a family is one entry here plus what its loader needs; the patcher's own family table
(``patcher.FAMILIES``) says which checkpoints the operation recognises.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class VideoFamily:
    name: str
    pipeline_class: str  # ``_class_name`` in a diffusers folder's model_index.json
    native_size: tuple[int, int]  # (width, height) full-size checkpoints were trained at
    native_frames: int  # frames when the model's config does not say
    full_steps: int  # the family's own default number of denoising steps
    max_decode_chunk: int  # frames its VAE decodes at once by default
    preview: dict[str, Any]  # fast preview settings for full-size checkpoints
    hub_ids: tuple[str, ...] = ()  # its releases on the Hugging Face Hub, the first the one to suggest

    def native_size_of(self, latent_size: int | None, vae_scale: int) -> tuple[int, int]:
        """Full-size configs state a square latent size (or none) but were trained at ``native_size``; toy
        models are square."""
        if not latent_size:
            return self.native_size
        size = int(latent_size) * vae_scale
        return self.native_size if size >= 512 else (size, size)


SVD = VideoFamily(
    name="SVD",
    pipeline_class="StableVideoDiffusionPipeline",
    native_size=(1024, 576),  # the config says 96 latents square; SVD was trained at 1024x576
    native_frames=14,
    full_steps=25,
    max_decode_chunk=14,
    preview={"frames": 8, "steps": 10, "width": 512, "height": 320, "decode_chunk_size": 8},
    hub_ids=("stabilityai/stable-video-diffusion-img2vid-xt", "stabilityai/stable-video-diffusion-img2vid",
             "stabilityai/stable-video-diffusion-img2vid-xt-1-1"),
)

PIPELINE_FAMILIES: dict[str, VideoFamily] = {family.pipeline_class: family for family in (SVD,)}
