"""SVD checkpoint files: ``.safetensors`` headers validated by the safetensors library, SGM <->
diffusers naming, whole single-file checkpoints (planned and built here, end to end), the converter
and bake.

``python -m svd_attention_lab.checkpoints bake | convert | inspect``.
"""

from ._bake import bake
from ._build import build_single_file
from ._configs import constructor_kwargs, release_name, svd_xt_config
from ._convert import FP16_WEIGHTS, check_folder_fits, convert
from ._errors import CheckpointError
from ._fit import COMPONENTS, LABELS, read_json_object
from ._naming import UnetLayout, diffusers_to_sgm, sgm_to_diffusers


__all__ = [
    "COMPONENTS",
    "FP16_WEIGHTS",
    "LABELS",
    "CheckpointError",
    "UnetLayout",
    "bake",
    "build_single_file",
    "check_folder_fits",
    "constructor_kwargs",
    "convert",
    "diffusers_to_sgm",
    "read_json_object",
    "release_name",
    "sgm_to_diffusers",
    "svd_xt_config",
]
