"""Video-model families, one record each: how their keys are named and, for the families the app
renders, their diffusers pipeline and sampling defaults.

The operation itself is ComfyUI's rule for SVD (``_keys.match_key`` with ``SVD``). Other video models
name their temporal blocks differently; ComfyUI's rule does not know them, so it scales their temporal
attention as *structural* (when the projections are called ``attn1``/``attn2``) or not at all.
The table lets ``inspect`` and ``bake`` say so instead of staying silent. Adding a family is one
record here; giving it a ``pipeline`` makes the app render it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """How the app renders a family: plain data, so the patcher stays free of diffusers."""

    class_name: str  # ``_class_name`` in a diffusers folder's model_index.json
    native_size: tuple[int, int]  # (width, height) full-size checkpoints were trained at
    native_frames: int  # frames when the model's config does not say
    full_steps: int  # the family's own default number of denoising steps
    max_decode_chunk: int  # frames its VAE decodes at once by default
    preview: dict[str, Any]  # fast preview settings for full-size checkpoints
    hub_ids: tuple[str, ...] = ()  # its releases on the Hugging Face Hub, the first the one to suggest
    latent_layout: str = "batch, frames, channels, height, width"  # the pipeline's latents, as it passes them

    def native_size_of(self, latent_size: int | None, vae_scale: int) -> tuple[int, int]:
        """Full-size configs state a square latent size (or none) but were trained at ``native_size``; toy
        models are square."""
        if not latent_size:
            return self.native_size
        size = int(latent_size) * vae_scale
        return self.native_size if size >= 512 else (size, size)


@dataclasses.dataclass(frozen=True)
class ModelFamily:
    name: str
    markers: tuple[str, ...]  # a key containing any of these identifies the family
    temporal_markers: tuple[str, ...]  # a key containing any of these sits in a temporal block
    attention_suffixes: tuple[str, ...]  # attention output projections, as this family names them
    pipeline: Pipeline | None = None  # how the app renders it; None: the app does not
    note: str = ""

    @property
    def previewable(self) -> bool:
        return self.pipeline is not None


SVD = ModelFamily(
    name="SVD",
    # SGM/ComfyUI (``time_stack``) and diffusers (``temporal_transformer_blocks``) naming.
    markers=(".time_stack.", ".temporal_transformer_blocks."),
    temporal_markers=(".time_stack.", ".temporal_transformer_blocks."),
    attention_suffixes=("attn1.to_out.0.weight", "attn1.to_out.0.bias", "attn2.to_out.0.weight", "attn2.to_out.0.bias"),
    pipeline=Pipeline(
        class_name="StableVideoDiffusionPipeline",
        native_size=(1024, 576),  # the config says 96 latents square; SVD was trained at 1024x576
        native_frames=14,
        full_steps=25,
        max_decode_chunk=14,
        preview={"frames": 8, "steps": 10, "width": 512, "height": 320, "decode_chunk_size": 8},
        hub_ids=("stabilityai/stable-video-diffusion-img2vid-xt", "stabilityai/stable-video-diffusion-img2vid",
                 "stabilityai/stable-video-diffusion-img2vid-xt-1-1"),
    ),
)

FAMILIES: tuple[ModelFamily, ...] = (
    SVD,
    ModelFamily(
        name="AnimateDiff",
        markers=("motion_modules.",),
        temporal_markers=("motion_modules.",),
        attention_suffixes=("attn1.to_out.0.weight", "attn1.to_out.0.bias", "attn2.to_out.0.weight",
                            "attn2.to_out.0.bias",
                            "to_out.0.weight", "to_out.0.bias"),
        note="AnimateDiff's temporal attention lives in motion_modules.",
    ),
    ModelFamily(
        name="ModelScope / I2VGen-XL",
        markers=(".temp_attentions.", "transformer_in."),
        temporal_markers=(".temp_attentions.", "transformer_in."),
        attention_suffixes=("attn1.to_out.0.weight", "attn1.to_out.0.bias", "attn2.to_out.0.weight",
                            "attn2.to_out.0.bias"),
        note="temporal attention lives in temp_attentions and transformer_in.",
    ),
    ModelFamily(
        name="Wan",
        markers=(".self_attn.o.", ".cross_attn.o."),
        temporal_markers=(),  # Wan's attention is joint over space and time; there are no temporal blocks
        attention_suffixes=("self_attn.o.weight", "self_attn.o.bias", "cross_attn.o.weight", "cross_attn.o.bias"),
        note="Wan attends over space and time at once (self_attn.o / cross_attn.o); the node's keys do not occur.",
    ),
)


def detect_family(names: Iterable[str]) -> ModelFamily | None:
    """The first family (in table order, SVD first) any of whose markers occurs in ``names``."""
    names = list(names)
    for family in FAMILIES:
        if any(marker in "." + name for name in names for marker in family.markers):
            return family
    return None


def is_temporal(name: str, family: ModelFamily) -> bool:
    return any(marker in "." + name for marker in family.temporal_markers)


def is_attention_output(name: str, family: ModelFamily) -> bool:
    return name.endswith(family.attention_suffixes)


def pipeline_family(class_name: str) -> ModelFamily | None:
    """The family whose pipeline is ``class_name`` (a diffusers folder's ``_class_name``), or None."""
    return next((f for f in FAMILIES if f.pipeline and f.pipeline.class_name == class_name), None)
