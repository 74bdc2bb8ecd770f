"""The knobs: the four attention multipliers and the render settings, their bounds and checks.

Torch-free and dependency-free, so every layer (presets included) can share one definition.
"""

from ._cli import add_multiplier_options, add_setting_options, multipliers_from_args, settings_from_args
from ._multipliers import (
    FIELD_HELP,
    FIELDS,
    MULTIPLIER_DEFAULT,
    MULTIPLIER_MAX,
    MULTIPLIER_MIN,
    MULTIPLIER_STEP,
    REGIONS,
    Multipliers,
    Regions,
    check_multiplier,
    region_param,
)
from ._numbers import check_number
from ._settings import (
    SETTINGS,
    Setting,
    check_setting,
    check_settings,
    patched_steps,
    setting_names,
    settings_dataclass,
)
from ._signature import REGION_PARAMS, with_named_parameters

__all__ = [
    "FIELDS",
    "FIELD_HELP",
    "MULTIPLIER_DEFAULT",
    "MULTIPLIER_MAX",
    "MULTIPLIER_MIN",
    "MULTIPLIER_STEP",
    "REGIONS",
    "REGION_PARAMS",
    "SETTINGS",
    "Multipliers",
    "Regions",
    "Setting",
    "add_multiplier_options",
    "add_setting_options",
    "check_multiplier",
    "check_number",
    "check_setting",
    "check_settings",
    "multipliers_from_args",
    "patched_steps",
    "region_param",
    "setting_names",
    "settings_dataclass",
    "settings_from_args",
    "with_named_parameters",
]
