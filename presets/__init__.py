"""Presets: a strict, versioned JSON format, built-ins, share links and ComfyUI interop.

Texts are read by the ComfyUI node's own reader, ``comfyui_svd_attention_lab.setting``."""
from ._builtin import builtin_presets, get_builtin, pick
from ._comfyui import (
    from_file,
    from_image,
    from_json,
    from_workflow,
    export_notes,
    to_api_prompt,
    to_ui_workflow,
    uses_lab_node,
)
from ._errors import PresetError
from ._json import nesting_depth, read_json
from ._schema import FORMAT_VERSION, Preset
from ._schema import SETTINGS as PRESET_SETTINGS
from ._share import from_link, from_query, link_params, to_query, to_url

__all__ = [
    "FORMAT_VERSION",
    "PRESET_SETTINGS",
    "Preset",
    "PresetError",
    "builtin_presets",
    "export_notes",
    "from_file",
    "from_image",
    "from_json",
    "from_link",
    "from_query",
    "from_workflow",
    "get_builtin",
    "link_params",
    "nesting_depth",
    "pick",
    "read_json",
    "to_api_prompt",
    "to_query",
    "to_ui_workflow",
    "to_url",
    "uses_lab_node",
]
