"""Video-model families whose checkpoints the patcher recognises, one table entry each.

The operation itself is ComfyUI's rule for SVD (``_keys.match_key``). Other video models name their
temporal blocks differently; ComfyUI's rule does not know them, so it scales their temporal
attention as *structural* (when the projections are called ``attn1``/``attn2``) or not at all.
The table lets ``inspect`` and ``bake`` say so instead of staying silent. Adding a family is one
entry here (and, for the preview, a loader in ``preview``).
"""

from __future__ import annotations

import dataclasses
from typing import Iterable


@dataclasses.dataclass(frozen=True)
class ModelFamily:
    name: str
    markers: tuple[str, ...]  # a key containing any of these identifies the family
    temporal_markers: tuple[str, ...]  # a key containing any of these sits in a temporal block
    attention_suffixes: tuple[str, ...]  # attention output projections, as this family names them
    previewable: bool  # the app renders this family
    note: str = ""


SVD = ModelFamily(
    name="SVD",
    # SGM/ComfyUI (``time_stack``) and diffusers (``temporal_transformer_blocks``) naming.
    markers=(".time_stack.", ".temporal_transformer_blocks."),
    temporal_markers=(".time_stack.", ".temporal_transformer_blocks."),
    attention_suffixes=("attn1.to_out.0.weight", "attn1.to_out.0.bias", "attn2.to_out.0.weight", "attn2.to_out.0.bias"),
    previewable=True,
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
        previewable=False,
        note="AnimateDiff's temporal attention lives in motion_modules.",
    ),
    ModelFamily(
        name="ModelScope / I2VGen-XL",
        markers=(".temp_attentions.", "transformer_in."),
        temporal_markers=(".temp_attentions.", "transformer_in."),
        attention_suffixes=("attn1.to_out.0.weight", "attn1.to_out.0.bias", "attn2.to_out.0.weight",
                            "attn2.to_out.0.bias"),
        previewable=False,
        note="temporal attention lives in temp_attentions and transformer_in.",
    ),
    ModelFamily(
        name="Wan",
        markers=(".self_attn.o.", ".cross_attn.o."),
        temporal_markers=(),  # Wan's attention is joint over space and time; there are no temporal blocks
        attention_suffixes=("self_attn.o.weight", "self_attn.o.bias", "cross_attn.o.weight", "cross_attn.o.bias"),
        previewable=False,
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
