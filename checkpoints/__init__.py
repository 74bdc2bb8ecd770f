"""SVD checkpoint files: ``.safetensors`` headers validated by the safetensors library, SGM <->
diffusers naming, whole single-file checkpoints, the converter, bake, and atomic output.

``python -m checkpoints bake | convert | inspect``.
"""

from ._bake import METADATA_KEY, bake
from ._configs import release_name, svd_xt_config
from ._convert import FP16_WEIGHTS, TensorFiles, check_folder_fits, convert
from ._errors import CheckpointError
from ._files import atomic_folder, atomic_path, atomic_write_bytes, regular_file
from ._fit import COMPONENTS, LABELS, check_fits, read_json_object
from ._naming import SVD_LAYOUT, NamingError, UnetLayout, diffusers_to_sgm, sgm_to_diffusers
from ._svd_file import plan_parts, plan_read, plan_write, scheduler_config

__all__ = [
    "COMPONENTS",
    "FP16_WEIGHTS",
    "LABELS",
    "METADATA_KEY",
    "SVD_LAYOUT",
    "CheckpointError",
    "NamingError",
    "TensorFiles",
    "UnetLayout",
    "atomic_folder",
    "atomic_path",
    "atomic_write_bytes",
    "bake",
    "check_fits",
    "check_folder_fits",
    "convert",
    "diffusers_to_sgm",
    "plan_parts",
    "plan_read",
    "plan_write",
    "read_json_object",
    "regular_file",
    "release_name",
    "scheduler_config",
    "sgm_to_diffusers",
    "svd_xt_config",
]
