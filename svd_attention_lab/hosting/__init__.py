"""Serving renders to an app's visitors: the session service (``Studio``), its cost model and time
budget, a fair queue for the model, and rendering on Hugging Face's ZeroGPU."""

from ._budget import DEFAULT_PUBLIC_BUDGET_S, CostModel, Estimate, gpu_class
from ._gate import QueueFull
from ._studio import PreviewOutcome, Studio
from ._zerogpu import compile_ahead_of_time, on_zerogpu

__all__ = [
    "DEFAULT_PUBLIC_BUDGET_S",
    "CostModel",
    "Estimate",
    "PreviewOutcome",
    "QueueFull",
    "Studio",
    "compile_ahead_of_time",
    "gpu_class",
    "on_zerogpu",
]
