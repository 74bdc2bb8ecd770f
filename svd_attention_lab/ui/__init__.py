"""The app's page besides the Compare tab's layout (``app.py``): the display state, the handlers grouped
by tab (each returns a dict keyed by component), the other tabs' layouts, and the page's CSS."""
from ._compare import Compare
from ._inputs import BOUNDS, Bound
from ._motion_tab import MotionTools, build_motion_tools, wire_motion_tools
from ._opening import open_with_showcase
from ._page import Page, preset_choices
from ._sharing import Sharing, build_sharing, wire_sharing
from ._studies import Studies, build_meter, build_sweep, wire_studies
from ._style import CSS


__all__ = [
    "BOUNDS",
    "CSS",
    "Bound",
    "Compare",
    "MotionTools",
    "Page",
    "Sharing",
    "Studies",
    "build_meter",
    "build_motion_tools",
    "build_sharing",
    "build_sweep",
    "open_with_showcase",
    "preset_choices",
    "wire_sharing",
    "wire_motion_tools",
    "wire_studies",
]
