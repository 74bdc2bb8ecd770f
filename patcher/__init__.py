"""Exact, reversible attention multipliers for Stable Video Diffusion UNets.

The operation of ComfyUI's ``UNetTemporalAttentionMultiply`` node: scale the output projections
of self-attention (``attn1``) and cross-attention (``attn2``), separately for the spatial
("structural") and temporal transformer blocks. Reading and writing checkpoint files is the
``checkpoints`` package's job; this one holds the operation only.
"""

from controls import FIELDS, Multipliers

from ._errors import PatchError
from ._families import FAMILIES, SVD, detect_family
from ._keys import classify_key, family_warnings, match_key
from ._patch import AttentionPatch, check_scalable, patch_state_dict, scale_tensor

__all__ = [
    "FAMILIES",
    "FIELDS",
    "SVD",
    "AttentionPatch",
    "Multipliers",
    "PatchError",
    "check_scalable",
    "classify_key",
    "detect_family",
    "family_warnings",
    "match_key",
    "patch_state_dict",
    "scale_tensor",
]
