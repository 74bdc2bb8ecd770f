"""The app's Gradio pieces besides its layout: event handlers and self-explaining inputs."""

from ._handlers import (LINK_SETTINGS, PREVIEW_OUTPUTS, SHOWCASE, SWEEP_METRICS, Lab, preset_choices, restored_slots,
                        sweep_plot)
from ._widgets import COPY_TO_CLIPBOARD, CSS, input_image, named_number, named_slider, setting_inputs

__all__ = [
    "COPY_TO_CLIPBOARD",
    "CSS",
    "LINK_SETTINGS",
    "PREVIEW_OUTPUTS",
    "SHOWCASE",
    "SWEEP_METRICS",
    "Lab",
    "input_image",
    "named_number",
    "named_slider",
    "preset_choices",
    "restored_slots",
    "setting_inputs",
    "sweep_plot",
]
