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
    region_input,
    region_param,
)
from ._numbers import check_number
from ._settings import (
    SETTINGS,
    Setting,
    check_setting,
    check_settings,
    setting_names,
    default_settings,
)
from ._schedule import (
    SVD_SIGMA_MAX,
    SVD_SIGMA_MIN,
    karras_sigmas,
    patched_steps,
    percent_to_sigma,
    scheduled_steps,
    sigma_to_percent,
    step_fraction_to_percent,
)
from ._signature import with_named_parameters

__all__ = [
    "FIELDS",
    "FIELD_HELP",
    "MULTIPLIER_DEFAULT",
    "MULTIPLIER_MAX",
    "MULTIPLIER_MIN",
    "MULTIPLIER_STEP",
    "REGIONS",
    "SETTINGS",
    "SVD_SIGMA_MAX",
    "SVD_SIGMA_MIN",
    "Multipliers",
    "Regions",
    "Setting",
    "add_multiplier_options",
    "add_setting_options",
    "check_multiplier",
    "check_number",
    "check_setting",
    "check_settings",
    "default_settings",
    "karras_sigmas",
    "multipliers_from_args",
    "patched_steps",
    "percent_to_sigma",
    "region_input",
    "region_param",
    "scheduled_steps",
    "setting_names",
    "settings_from_args",
    "sigma_to_percent",
    "step_fraction_to_percent",
    "with_named_parameters",
]
