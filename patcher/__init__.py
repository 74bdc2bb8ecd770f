"""Exact, reversible attention multipliers for Stable Video Diffusion UNets.

The operation of ComfyUI's ``UNetTemporalAttentionMultiply`` node: scale the output projections
of self-attention (``attn1``) and cross-attention (``attn2``), separately for the spatial
("structural") and temporal transformer blocks.
"""

from controls import (
    FIELDS,
    MULTIPLIER_DEFAULT,
    MULTIPLIER_MAX,
    MULTIPLIER_MIN,
    MULTIPLIER_STEP,
    Multipliers,
    check_multiplier,
)

from ._checkpoint import METADATA_KEY, BakeReport, bake, inspect_checkpoint, read_header, read_tensor
from ._configs import frames_from_name, release_name, svd_xt_config
from ._convert import FP16_WEIGHTS, ConvertReport, TensorFiles, convert
from ._errors import PatchError
from ._families import FAMILIES, SVD, ModelFamily, detect_family
from ._keys import REGIONS, KeyMatch, classify_key, family_warnings, match_key
from ._naming import SVD_LAYOUT, NamingError, UnetLayout, diffusers_to_sgm, sgm_to_diffusers
from ._svd_file import COMPONENTS, LABELS, ReadPlan, plan_parts, plan_read, plan_write
from ._patch import AttentionPatch, patch_state_dict, scale_tensor

__all__ = [
    "COMPONENTS",
    "FAMILIES",
    "FIELDS",
    "FP16_WEIGHTS",
    "LABELS",
    "METADATA_KEY",
    "MULTIPLIER_DEFAULT",
    "MULTIPLIER_MAX",
    "MULTIPLIER_MIN",
    "MULTIPLIER_STEP",
    "REGIONS",
    "SVD",
    "SVD_LAYOUT",
    "AttentionPatch",
    "BakeReport",
    "ConvertReport",
    "KeyMatch",
    "ModelFamily",
    "Multipliers",
    "NamingError",
    "PatchError",
    "ReadPlan",
    "TensorFiles",
    "UnetLayout",
    "bake",
    "check_multiplier",
    "classify_key",
    "convert",
    "detect_family",
    "diffusers_to_sgm",
    "family_warnings",
    "frames_from_name",
    "inspect_checkpoint",
    "match_key",
    "patch_state_dict",
    "plan_parts",
    "plan_read",
    "plan_write",
    "read_header",
    "read_tensor",
    "release_name",
    "scale_tensor",
    "sgm_to_diffusers",
    "svd_xt_config",
]
