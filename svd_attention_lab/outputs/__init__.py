"""What a render leaves behind: composed videos, browser-playable files, and the numbers comparing them."""
from ._compose import contact_sheet, difference, grid, side_by_side
from ._encode import OutputDir, write_mp4, write_png, write_webp
from ._flow import FlowMotion, measure_flow, pair_flows, temporal_flickering
from ._metrics import Metrics, flicker, jitter, mean_abs_diff, temporal_change
from ._outputs import Artifacts, export_comparison, write_side_by_side

__all__ = [
    "Artifacts",
    "FlowMotion",
    "Metrics",
    "OutputDir",
    "contact_sheet",
    "difference",
    "export_comparison",
    "flicker",
    "grid",
    "jitter",
    "mean_abs_diff",
    "measure_flow",
    "pair_flows",
    "side_by_side",
    "temporal_change",
    "temporal_flickering",
    "write_mp4",
    "write_png",
    "write_side_by_side",
    "write_webp",
]
