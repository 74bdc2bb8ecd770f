"""What a render leaves behind: composed videos, browser-playable files, and the numbers comparing them."""

from ._compose import contact_sheet, difference, grid, side_by_side
from ._encode import OutputDir, write_mp4, write_png, write_webp
from ._metrics import Metrics, flicker, jitter, mean_abs_diff, temporal_change
from ._outputs import Artifacts, export_comparison

__all__ = [
    "Artifacts",
    "Metrics",
    "OutputDir",
    "contact_sheet",
    "difference",
    "export_comparison",
    "flicker",
    "grid",
    "jitter",
    "mean_abs_diff",
    "side_by_side",
    "temporal_change",
    "write_mp4",
    "write_png",
    "write_webp",
]
