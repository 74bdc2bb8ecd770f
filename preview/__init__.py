"""Preview engine: load an SVD pipeline, render baseline and patched videos, compare them.

No Gradio here; the app and the ``python -m preview`` command both call this package.
"""

from ._compose import contact_sheet, difference, grid, side_by_side
from ._encode import OutputDir, write_mp4, write_png, write_webp
from ._errors import ModelLoadError, PreviewError, RenderCancelled
from ._families import PIPELINE_FAMILIES, VideoFamily
from ._loading import (
    DEMO_FRAMES,
    DEMO_MODEL_DIR,
    MODEL_ENV,
    LoadedModel,
    ModelHolder,
    ModelSource,
    default_device,
    add_model_options,
    default_dtype,
    load_model,
    model_options,
    resolve_numerics,
    resolve_source,
    weights_key,
)
from ._images import MAX_IMAGE_PIXELS, load_image, prepare_image
from ._metrics import Metrics, flicker, jitter, mean_abs_diff, temporal_change
from ._motion import METER_BUCKETS, MotionReading, bucket_for, read_motion
from ._outputs import Artifacts, export_comparison
from ._render import (
    Comparison,
    Previewer,
    RenderSettings,
    full_settings,
    preview_settings,
)
from ._gpu import Rendered, RenderJob, estimate_gpu_seconds, gpu_render_frames, on_zerogpu, render_frames
from ._studio import PreviewOutcome, Studio, SweepOutcome, comparison_summary
from ._sweep import MAX_SWEEP_SEEDS, MAX_SWEEP_VALUES, SWEEPABLE, SweepResult, parse_sweep, sweep

__all__ = [
    "DEMO_FRAMES",
    "DEMO_MODEL_DIR",
    "MAX_IMAGE_PIXELS",
    "MAX_SWEEP_SEEDS",
    "MAX_SWEEP_VALUES",
    "METER_BUCKETS",
    "MODEL_ENV",
    "PIPELINE_FAMILIES",
    "SWEEPABLE",
    "Artifacts",
    "Comparison",
    "LoadedModel",
    "Metrics",
    "ModelHolder",
    "ModelLoadError",
    "ModelSource",
    "MotionReading",
    "OutputDir",
    "PreviewError",
    "PreviewOutcome",
    "Previewer",
    "RenderCancelled",
    "RenderJob",
    "RenderSettings",
    "Rendered",
    "Studio",
    "SweepOutcome",
    "SweepResult",
    "VideoFamily",
    "add_model_options",
    "bucket_for",
    "comparison_summary",
    "contact_sheet",
    "default_device",
    "default_dtype",
    "difference",
    "estimate_gpu_seconds",
    "export_comparison",
    "flicker",
    "full_settings",
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
    "resolve_numerics",
    "resolve_source",
    "side_by_side",
    "sweep",
    "temporal_change",
    "weights_key",
    "write_mp4",
    "write_png",
    "write_webp",
]
