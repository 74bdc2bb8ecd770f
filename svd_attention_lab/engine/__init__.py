"""The engine: load an SVD pipeline and render baseline and patched videos from it.

No Gradio here. ``render_frames`` is the one function that runs on the GPU's clock; ``Previewer``
prepares its jobs and caches baselines around it.
"""

from ._aot import AotPackage, build_package, install
from ._errors import ModelLoadError, PreviewError, RenderCancelled
from ._frames import ProgressFn, RenderJob, register_model, registered_model, render_frames, scaled_progress
from ._images import crop_note, load_image, prepare_image
from ._live import MAX_LIVE_FRAMES, LiveFn
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
    zerogpu_host,
)
from ._render import Comparison, Previewer, RenderSettings, full_settings, is_small, preview_settings

__all__ = [
    "DEMO_FRAMES",
    "DEMO_MODEL_DIR",
    "MAX_LIVE_FRAMES",
    "MODEL_ENV",
    "AotPackage",
    "Comparison",
    "LiveFn",
    "LoadedModel",
    "ModelHolder",
    "ModelLoadError",
    "ModelSource",
    "PreviewError",
    "Previewer",
    "ProgressFn",
    "RenderCancelled",
    "RenderJob",
    "RenderSettings",
    "add_model_options",
    "build_package",
    "crop_note",
    "full_settings",
    "install",
    "is_small",
    "load_image",
    "load_model",
    "model_options",
    "prepare_image",
    "preview_settings",
    "register_model",
    "registered_model",
    "render_frames",
    "resolve_placement",
    "resolve_source",
    "scaled_progress",
    "weights_key",
    "zerogpu_host",
]
