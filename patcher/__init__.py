"""Exact, reversible attention multipliers for Stable Video Diffusion UNets.

The operation of ComfyUI's ``UNetTemporalAttentionMultiply`` node: scale the output projections
of self-attention (``attn1``) and cross-attention (``attn2``), separately for the spatial
("structural") and temporal transformer blocks. Reading and writing checkpoint files is the
``svd_attention_lab.checkpoints`` package's job; this one holds the operation only.
"""

from svd_attention_lab.controls import Multipliers

from ._errors import PatchError
from ._families import FAMILIES, SVD, ModelFamily, Pipeline, pipeline_family
from ._keys import classify_key, family_warnings, match_key
from ._patch import AttentionPatch, check_scalable, patch_state_dict, scale_tensor

__all__ = [
    "FAMILIES",
    "SVD",
    "AttentionPatch",
    "ModelFamily",
    "Multipliers",
    "Pipeline",
    "PatchError",
    "check_scalable",
    "classify_key",
    "family_warnings",
    "match_key",
    "patch_state_dict",
    "pipeline_family",
    "scale_tensor",
]
