"""Preview engine: load an SVD pipeline, render baseline and patched videos, compare them.

No Gradio here; the app and the ``python -m preview`` command both call this package.
"""

from ._budget import DEFAULT_PUBLIC_BUDGET_S, Estimate
from ._compose import contact_sheet, difference, grid, side_by_side
from ._encode import OutputDir, write_mp4
from ._errors import ModelLoadError, PreviewError, RenderCancelled
from ._loading import (
    DEMO_FRAMES,
    DEMO_MODEL_DIR,
    MODEL_ENV,
    LoadedModel,
    ModelHolder,
    ModelSource,
    add_model_options,
    load_model,
    model_options,
    resolve_placement,
    resolve_source,
    weights_key,
)
from ._images import load_image, prepare_image
from ._metrics import Metrics, flicker, jitter, mean_abs_diff, temporal_change
from ._motion import METER_BUCKETS, bucket_for, read_motion
from ._outputs import export_comparison
from ._render import (
    Previewer,
    RenderSettings,
    preview_settings,
)
from ._gpu import RenderJob, compile_ahead_of_time, estimate_gpu_seconds, gpu_render_frames, on_zerogpu, render_frames
from ._studio import PreviewOutcome, Studio
from ._sweep import MAX_SWEEP_SEEDS, MAX_SWEEP_VALUES, SWEEPABLE, parse_sweep, sweep

__all__ = [
    "DEFAULT_PUBLIC_BUDGET_S",
    "DEMO_FRAMES",
    "DEMO_MODEL_DIR",
    "MAX_SWEEP_SEEDS",
    "MAX_SWEEP_VALUES",
    "METER_BUCKETS",
    "MODEL_ENV",
    "SWEEPABLE",
    "Estimate",
    "LoadedModel",
    "Metrics",
    "ModelHolder",
    "ModelLoadError",
    "ModelSource",
    "OutputDir",
    "PreviewError",
    "PreviewOutcome",
    "Previewer",
    "RenderCancelled",
    "RenderJob",
    "RenderSettings",
    "Studio",
    "add_model_options",
    "bucket_for",
    "compile_ahead_of_time",
    "contact_sheet",
    "difference",
    "estimate_gpu_seconds",
    "export_comparison",
    "flicker",
    "gpu_render_frames",
    "grid",
    "jitter",
    "load_image",
    "load_model",
    "mean_abs_diff",
    "model_options",
    "on_zerogpu",
    "parse_sweep",
    "prepare_image",
    "preview_settings",
    "read_motion",
    "render_frames",
    "resolve_placement",
    "resolve_source",
    "side_by_side",
    "sweep",
    "temporal_change",
    "weights_key",
    "write_mp4",
]
