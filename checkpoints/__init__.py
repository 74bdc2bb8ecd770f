"""SVD checkpoint files: ``.safetensors`` headers validated by the safetensors library, SGM <->
diffusers naming, whole single-file checkpoints, the converter, bake, and atomic output.

``python -m checkpoints bake | convert | inspect``.
"""

from ._bake import METADATA_KEY, BakeReport, bake, inspect_checkpoint
from ._configs import release_name, svd_xt_config
from ._convert import FP16_WEIGHTS, ConvertReport, TensorFiles, convert
from ._errors import CheckpointError
from ._files import atomic_folder, atomic_output, atomic_path, atomic_write_bytes, check_output, regular_file
from ._naming import SVD_LAYOUT, NamingError, UnetLayout, diffusers_to_sgm, sgm_to_diffusers
from ._safetensors import read_header
from ._svd_file import COMPONENTS, LABELS, ReadPlan, plan_parts, plan_read, plan_write

__all__ = [
    "COMPONENTS",
    "FP16_WEIGHTS",
    "LABELS",
    "METADATA_KEY",
    "SVD_LAYOUT",
    "BakeReport",
    "CheckpointError",
    "ConvertReport",
    "NamingError",
    "ReadPlan",
    "TensorFiles",
    "UnetLayout",
    "atomic_folder",
    "atomic_output",
    "atomic_path",
    "atomic_write_bytes",
    "bake",
    "check_output",
    "convert",
    "diffusers_to_sgm",
    "inspect_checkpoint",
    "plan_parts",
    "plan_read",
    "plan_write",
    "read_header",
    "regular_file",
    "release_name",
    "sgm_to_diffusers",
    "svd_xt_config",
]
