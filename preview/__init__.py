"""Preview engine: load an SVD pipeline, render baseline and patched videos, compare them.

No Gradio here; the app and the ``python -m preview`` command both call this package.
"""

from ._compose import contact_sheet, difference, grid, side_by_side
from ._demo import DEMO_MODEL_DIR
from ._encode import OutputDir, write_mp4, write_png, write_webp
from ._errors import ModelLoadError, PreviewError, RenderCancelled
from ._loading import (
    MODEL_ENV,
    LoadedModel,
    ModelHolder,
    ModelSource,
    default_device,
    default_dtype,
    load_model,
    resolve_source,
)
from ._metrics import Metrics, flicker, jitter, temporal_change
from ._outputs import Artifacts, export_comparison
from ._render import (
    MAX_IMAGE_PIXELS,
    SETTING_BOUNDS,
    Comparison,
    Previewer,
    RenderSettings,
    full_settings,
    prepare_image,
    preview_settings,
)
from ._sweep import MAX_SWEEP_VALUES, SweepResult, parse_sweep, sweep

__all__ = [
    "DEMO_MODEL_DIR",
    "MAX_IMAGE_PIXELS",
    "MAX_SWEEP_VALUES",
    "MODEL_ENV",
    "SETTING_BOUNDS",
    "Artifacts",
    "Comparison",
    "LoadedModel",
    "Metrics",
    "ModelHolder",
    "ModelLoadError",
    "ModelSource",
    "OutputDir",
    "PreviewError",
    "Previewer",
    "RenderCancelled",
    "RenderSettings",
    "SweepResult",
    "contact_sheet",
    "default_device",
    "default_dtype",
    "difference",
    "export_comparison",
    "flicker",
    "full_settings",
    "grid",
    "jitter",
    "load_model",
    "parse_sweep",
    "prepare_image",
    "preview_settings",
    "resolve_source",
    "side_by_side",
    "sweep",
    "temporal_change",
    "write_mp4",
    "write_png",
    "write_webp",
]
