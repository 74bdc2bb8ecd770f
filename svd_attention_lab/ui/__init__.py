"""The app's page besides the Compare tab's layout (``app.py``): the display state, the handlers grouped
by tab (each returns a dict keyed by component), the other tabs' layouts, and the page's CSS."""

from ._compare import Compare
from ._inputs import BOUNDS, Bound
from ._motion_tab import MotionTools, build_motion_tools, wipe_for, wire_motion_tools
from ._opening import SHOWCASE, open_with_showcase
from ._page import Page, frame_plot, preset_choices
from ._sharing import API_PROMPT_NAME, Sharing, build_sharing, wire_sharing
from ._state import CUSTOM, Display, Setup
from ._studies import SWEEP_METRICS, Studies, build_meter, build_sweep, sweep_plot, wire_studies
from ._style import CSS
from ._wipe import wipe_player, wipe_value

__all__ = [
    "API_PROMPT_NAME",
    "BOUNDS",
    "CSS",
    "CUSTOM",
    "SHOWCASE",
    "SWEEP_METRICS",
    "Bound",
    "Compare",
    "Display",
    "MotionTools",
    "Page",
    "Setup",
    "Sharing",
    "Studies",
    "build_meter",
    "build_motion_tools",
    "build_sharing",
    "build_sweep",
    "frame_plot",
    "open_with_showcase",
    "preset_choices",
    "sweep_plot",
    "wire_sharing",
    "wipe_for",
    "wipe_player",
    "wipe_value",
    "wire_motion_tools",
    "wire_studies",
]
