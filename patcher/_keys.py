"""Which state-dict keys the operation touches, for the SGM/ComfyUI and the diffusers naming."""

from __future__ import annotations

import re
from typing import NamedTuple

# Temporal blocks: ``time_stack`` in SGM checkpoints and ComfyUI, ``temporal_transformer_blocks`` in diffusers.
TEMPORAL_MARKERS = (".time_stack.", ".temporal_transformer_blocks.")

# Full single-file checkpoints also hold the VAE and the image encoder; only the UNet is patched.
NON_UNET_PREFIXES = ("first_stage_model.", "conditioner.", "cond_stage_model.", "vae.", "image_encoder.")

_SUFFIXES = {
    "attn1.to_out.0.weight": "self",
    "attn1.to_out.0.bias": "self",
    "attn2.to_out.0.weight": "cross",
    "attn2.to_out.0.bias": "cross",
}

_REGIONS = (
    (re.compile(r"(^|\.)(input_blocks|down_blocks)\."), "down"),
    (re.compile(r"(^|\.)(middle_block|mid_block)\."), "mid"),
    (re.compile(r"(^|\.)(output_blocks|up_blocks)\."), "up"),
)

REGIONS = ("down", "mid", "up", "other")


class KeyMatch(NamedTuple):
    field: str  # one of Multipliers' fields
    region: str  # "down", "mid", "up" or "other"


def match_key(name: str) -> KeyMatch | None:
    """Classify one state-dict key: the multiplier and UNet region that apply, or None."""
    attention = next((kind for suffix, kind in _SUFFIXES.items() if name.endswith(suffix)), None)
    if attention is None or name.startswith(NON_UNET_PREFIXES):
        return None
    # A leading dot lets a key that starts with the marker (no prefix) match too.
    temporal = any(marker in "." + name for marker in TEMPORAL_MARKERS)
    field = f"{attention}_{'temporal' if temporal else 'structural'}"
    region = next((region for pattern, region in _REGIONS if pattern.search(name)), "other")
    return KeyMatch(field, region)


def classify_key(name: str) -> str | None:
    """The multiplier field that scales the tensor ``name``, or None when it is not touched."""
    match = match_key(name)
    return match.field if match else None
