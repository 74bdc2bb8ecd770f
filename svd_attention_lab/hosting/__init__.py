"""Serving renders to an app's visitors: the session service (``Studio``), its cost model and time
budget, a fair queue for the model, and rendering on Hugging Face's ZeroGPU."""

from ._budget import DEFAULT_PUBLIC_BUDGET_S, CostModel, Estimate, OverBudget, duration, gpu_class
from ._gate import QueueFull, RenderWithdrawn
from ._motion_tools import Cost, knob_map_plan, run_knob_map, run_motion_target, target_cost
from ._studio import PreviewOutcome, Studio
from ._zerogpu import compile_ahead_of_time, on_zerogpu

__all__ = [
    "DEFAULT_PUBLIC_BUDGET_S",
    "Cost",
    "CostModel",
    "Estimate",
    "OverBudget",
    "PreviewOutcome",
    "QueueFull",
    "RenderWithdrawn",
    "Studio",
    "compile_ahead_of_time",
    "duration",
    "gpu_class",
    "knob_map_plan",
    "on_zerogpu",
    "run_knob_map",
    "run_motion_target",
    "target_cost",
]
