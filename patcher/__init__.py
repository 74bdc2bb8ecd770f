"""Exact, reversible attention multipliers for Stable Video Diffusion UNets.

The operation of ComfyUI's ``UNetTemporalAttentionMultiply`` node: scale the output projections
of self-attention (``attn1``) and cross-attention (``attn2``), separately for the spatial
("structural") and temporal transformer blocks.
"""

from ._checkpoint import METADATA_KEY, BakeReport, bake, inspect_checkpoint, read_header
from ._errors import PatchError
from ._keys import REGIONS, KeyMatch, classify_key, match_key
from ._multipliers import (
    FIELDS,
    MULTIPLIER_DEFAULT,
    MULTIPLIER_MAX,
    MULTIPLIER_MIN,
    MULTIPLIER_STEP,
    Multipliers,
    check_multiplier,
)
from ._patch import AttentionPatch, patch_state_dict, scale_tensor

__all__ = [
    "FIELDS",
    "METADATA_KEY",
    "MULTIPLIER_DEFAULT",
    "MULTIPLIER_MAX",
    "MULTIPLIER_MIN",
    "MULTIPLIER_STEP",
    "REGIONS",
    "AttentionPatch",
    "BakeReport",
    "KeyMatch",
    "Multipliers",
    "PatchError",
    "bake",
    "check_multiplier",
    "classify_key",
    "inspect_checkpoint",
    "match_key",
    "patch_state_dict",
    "read_header",
    "scale_tensor",
]
