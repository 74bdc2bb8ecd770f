"""SVD Temporal Attention Lab: move the four attention multipliers, compare baseline and patched videos.

Run with ``python app.py [--model PATH_OR_HUB_ID]``; on Hugging Face Spaces this file is the app.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import os
import random
import threading
from pathlib import Path

import gradio as gr
import pandas as pd

import presets
import preview
from patcher import FIELDS, MULTIPLIER_DEFAULT, MULTIPLIER_MAX, MULTIPLIER_MIN, MULTIPLIER_STEP, Multipliers, PatchError

try:  # ZeroGPU on Hugging Face Spaces; absent everywhere else
    import spaces
except ImportError:
    spaces = None

logger = logging.getLogger("app")

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
MAX_UPLOAD = "10mb"
TITLE = "SVD Temporal Attention Lab"

FIELD_HELP = {
    "self_structural": "Spatial self-attention output: how much each frame's own layout mixes across the image.",
    "self_temporal": "Temporal self-attention output: how much each pixel looks at the other frames (motion coherence).",
    "cross_structural": "Spatial cross-attention output: how strongly the input image's embedding steers each frame.",
    "cross_temporal": "Temporal cross-attention output: the image embedding's pull inside the temporal blocks.",
}
SETTING_NAMES = ("frames", "steps", "width", "height", "fps", "motion_bucket_id", "noise_aug_strength",
                 "min_guidance", "max_guidance", "decode_chunk_size")
LINK_SETTINGS = ("seed",) + tuple(name for name in SETTING_NAMES if name in presets.SETTINGS)

MODEL = preview.ModelHolder(os.environ.get(preview.MODEL_ENV) or None)
OUTPUTS = preview.OutputDir()
_previewer_lock = threading.Lock()
_previewer: preview.Previewer | None = None
_cancel_events: dict[str, threading.Event] = {}


def get_previewer() -> preview.Previewer:
    """The one Previewer, created with the model on first use (never at import)."""
    global _previewer
    with _previewer_lock:
        if _previewer is None:
            _previewer = preview.Previewer(MODEL.get())
        return _previewer


def user_errors(fn):
    """Library errors become a gr.Error carrying the library's message; the app stays up."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except preview.RenderCancelled as exc:
            raise gr.Error(str(exc), title="Cancelled") from None
        except (preview.PreviewError, presets.PresetError, PatchError, ValueError) as exc:
            raise gr.Error(str(exc)) from None

    return wrapper


# --- turning UI values into library objects ----------------------------------------------------


def make_settings(seed, frames, steps, width, height, fps, motion_bucket_id, noise_aug_strength,
                  min_guidance, max_guidance, decode_chunk_size) -> preview.RenderSettings:
    """UI values (sliders send whole numbers as floats) to validated render settings."""
    return preview.RenderSettings(
        seed=seed, frames=frames, steps=steps, width=width, height=height, fps=fps,
        motion_bucket_id=motion_bucket_id, noise_aug_strength=noise_aug_strength,
        min_guidance=min_guidance, max_guidance=max_guidance, decode_chunk_size=decode_chunk_size,
    )


def _image_path(image) -> str:
    if not image:
        raise preview.PreviewError("upload an image first (or pick one of the examples)")
    return image


def _estimate_seconds(settings: preview.RenderSettings, renders: int) -> int:
    """ZeroGPU time to ask for: generous for SVD on an H200-class GPU, bounded."""
    width, height = (settings.width or 1024), (settings.height or 576)
    per_step = 0.15 * settings.frames / 14 * (width * height) / (1024 * 576)
    return int(min(300, 20 + renders * settings.steps * per_step * 2))


def on_gpu(duration):
    """``spaces.GPU`` on ZeroGPU Spaces, a no-op everywhere else."""
    if spaces is None:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


def _preview_duration(image, ss, st, cs, ct, seed, *rest, **kwargs) -> int:
    try:
        return _estimate_seconds(make_settings(seed, *rest[1:11]), renders=2)
    except Exception:  # a bad value is reported by the handler itself
        return 60


def _sweep_duration(image, field, values, ss, st, cs, ct, seed, *rest, **kwargs) -> int:
    try:
        count = len(str(values).split(","))
        return _estimate_seconds(make_settings(seed, *rest[:10]), renders=count + 1)
    except Exception:
        return 120


@contextlib.contextmanager
def cancellable(request: gr.Request | None):
    """A cancel check for one render, which the Stop button of the same browser session trips."""
    key = getattr(request, "session_hash", None) or "local"
    event = _cancel_events[key] = threading.Event()
    try:
        yield event.is_set
    finally:
        if _cancel_events.get(key) is event:
            del _cancel_events[key]


# --- handlers ---------------------------------------------------------------------------------


@on_gpu(_preview_duration)
@user_errors
def run_preview(image, self_structural, self_temporal, cross_structural, cross_temporal, seed=42,
                randomize_seed=False, frames=8, steps=10, width=0, height=0, fps=7, motion_bucket_id=127,
                noise_aug_strength=0.02, min_guidance=1.0, max_guidance=3.0, decode_chunk_size=8,
                request: gr.Request = None, progress=gr.Progress(track_tqdm=True)):
    """Render baseline and patched videos from the same seed; return the comparison and its numbers."""
    multipliers = Multipliers(self_structural, self_temporal, cross_structural, cross_temporal)
    if randomize_seed:
        seed = random.randint(0, 2**32 - 1)
    settings = make_settings(seed, frames, steps, width, height, fps, motion_bucket_id, noise_aug_strength,
                             min_guidance, max_guidance, decode_chunk_size)
    image = _image_path(image)
    progress(0.0, desc="loading model")
    previewer = get_previewer()
    with cancellable(request) as cancel:
        comparison = previewer.render(image, settings, multipliers, progress=lambda f, t: progress(f, desc=t),
                                      cancel=cancel)
    files = preview.export_comparison(comparison, OUTPUTS.new_batch())
    summary = previewer.model.patch.summary()
    return (
        str(files.side_by_side),
        str(files.baseline),
        str(files.patched),
        str(files.difference),
        str(files.contact_sheet),
        pd.DataFrame(files.metrics.records()),
        _summary_markdown(summary, comparison, files.metrics.summary()),
        settings.seed,
        [str(files.metrics_json), str(files.metrics_csv), str(files.side_by_side_webp)],
    )


def _summary_markdown(summary: dict, comparison: preview.Comparison, numbers: dict) -> str:
    m = comparison.multipliers
    rows = [f"| {field} | {getattr(m, field):.2f} | {g['tensors']} | {g['parameters']:,} |"
            for field, g in summary["groups"].items()]
    width, height = comparison.size
    cached = "cached baseline" if comparison.baseline_cached else "baseline rendered"
    return "\n".join([
        "| multiplier | value | tensors scaled | parameters |",
        "| --- | ---: | ---: | ---: |",
        *rows,
        "",
        f"{summary['total']['tensors']} tensors, {summary['fraction']:.1%} of the UNet's parameters. "
        f"{comparison.settings.frames} frames at {width}x{height}, {comparison.settings.steps} steps, "
        f"{cached}, {comparison.seconds:.1f} s.",
        "",
        f"**Mean change vs baseline:** {numbers['mean_change_vs_baseline']:.2f} levels (of 255) · "
        f"**temporal change** baseline {numbers['baseline_temporal_change']:.2f} → patched "
        f"{numbers['patched_temporal_change']:.2f} · **jitter** {numbers['baseline_jitter']:.2f} → {numbers['patched_jitter']:.2f}"
        f" · **flicker** {numbers['baseline_flicker']:.2f} → {numbers['patched_flicker']:.2f}",
    ])


def preview_on_release(auto, *args, request: gr.Request = None, progress=gr.Progress(track_tqdm=True)):
    """Slider release: re-render only when auto-preview is on."""
    if not auto:
        return (gr.skip(),) * 9
    return run_preview(*args, request=request, progress=progress)


def cancel_render(request: gr.Request = None):
    key = getattr(request, "session_hash", None) or "local"
    if key in _cancel_events:
        _cancel_events[key].set()
    gr.Info("Stopping after the current step")


@on_gpu(_sweep_duration)
@user_errors
def run_sweep(image, field, values, self_structural, self_temporal, cross_structural, cross_temporal, seed=42,
              frames=8, steps=10, width=0, height=0, fps=7, motion_bucket_id=127, noise_aug_strength=0.02,
              min_guidance=1.0, max_guidance=3.0, decode_chunk_size=8, request: gr.Request = None,
              progress=gr.Progress(track_tqdm=True)):
    """Render one multiplier over a list of values: a grid video and the metrics against the value."""
    field, numbers = preview.parse_sweep(f"{field}={values}")
    base = Multipliers(self_structural, self_temporal, cross_structural, cross_temporal)
    settings = make_settings(seed, frames, steps, width, height, fps, motion_bucket_id, noise_aug_strength,
                             min_guidance, max_guidance, decode_chunk_size)
    with cancellable(request) as cancel:
        result = preview.sweep(get_previewer(), _image_path(image), settings, field, numbers, base=base,
                               progress=lambda f, t: progress(f, desc=t), cancel=cancel)
    batch = OUTPUTS.new_batch()
    video = preview.write_mp4(result.grid(), batch / "sweep.mp4", settings.fps)
    table = pd.DataFrame(result.table())
    long = table.rename(columns={field: "multiplier value"}).melt(
        id_vars=["multiplier value"], value_vars=["mean_change_vs_baseline", "patched_temporal_change", "patched_jitter"],
        var_name="metric", value_name="value")
    return str(video), long, table.round(3)


def reset_multipliers():
    return (MULTIPLIER_DEFAULT,) * 4


def _preset_outputs(preset: presets.Preset):
    """Slider values from a preset, plus its settings where it has them (others untouched)."""
    updates = [preset.settings.get(name, gr.skip()) for name in LINK_SETTINGS]
    return (*preset.multipliers.as_dict().values(), *updates)


@user_errors
def apply_named_preset(name, user_presets):
    if name in (user_presets or {}):
        preset = presets.Preset.from_dict(user_presets[name])
    else:
        preset = presets.get_builtin(name)
    return (*_preset_outputs(preset), preset.description or preset.name)


@user_errors
def load_preset_file(path):
    if not path:
        raise presets.PresetError("choose a preset .json file")
    preset = presets.Preset.from_file(path)
    return (*_preset_outputs(preset), f"Loaded preset {preset.name!r}")


@user_errors
def import_comfyui(path):
    if not path:
        raise presets.PresetError("choose a ComfyUI workflow (.json) or an image saved by ComfyUI (.png, .webp)")
    found = presets.from_file_bytes(Path(path).read_bytes())
    return (*found.multipliers.as_dict().values(), found.message)


def _current_preset(name, description, include_settings, ss, st, cs, ct, seed, *settings_values) -> presets.Preset:
    settings = {}
    if include_settings:
        values = dict(zip(SETTING_NAMES, settings_values))
        settings = {"seed": seed} | {k: values[k] for k in LINK_SETTINGS[1:]}
    return presets.Preset(name=(name or "").strip() or "My preset", description=description or "",
                          multipliers=Multipliers(ss, st, cs, ct), settings=settings)


@user_errors
def save_preset(name, description, include_settings, ss, st, cs, ct, seed, *rest):
    *settings_values, user_presets = rest
    preset = _current_preset(name, description, include_settings, ss, st, cs, ct, seed, *settings_values)
    path = OUTPUTS.new_batch() / "svd-attention-preset.json"  # fixed name: never a path from typed text
    path.write_text(preset.to_json(), encoding="utf-8")
    user_presets = dict(user_presets or {})
    user_presets[preset.name] = preset.to_dict()
    return str(path), user_presets, gr.update(choices=_preset_choices(user_presets), value=preset.name)


def _preset_choices(user_presets) -> list[str]:
    return list(presets.builtin_presets()) + [n for n in (user_presets or {}) if n not in presets.builtin_presets()]


@user_errors
def export_comfyui(ss, st, cs, ct):
    m = Multipliers(ss, st, cs, ct)
    path = OUTPUTS.new_batch() / "unet-temporal-attention-multiply.json"
    path.write_text(json.dumps(presets.to_ui_workflow(m), indent=2))
    return json.dumps(presets.to_api_node(m), indent=2), str(path)


@user_errors
def share_link(ss, st, cs, ct, seed, include_settings, *settings_values, request: gr.Request = None):
    preset = _current_preset("Shared link", "", include_settings, ss, st, cs, ct, seed, *settings_values)
    return presets.to_url(preset, _page_url(request))


def _page_url(request: gr.Request | None) -> str:
    space = os.environ.get("SPACE_ID")
    if space:  # the Space page forwards its query string to the app
        return f"https://huggingface.co/spaces/{space}"
    referer = request.headers.get("referer") if request is not None else None
    if referer:  # the page the visitor is on
        return referer.split("?", 1)[0]
    if request is not None:
        return f"{request.url.scheme}://{request.url.netloc}/"
    return "/"


def restore_from_link(request: gr.Request):
    """On page load: a share link's query string sets the sliders and settings."""
    params = dict(request.query_params) if request is not None else {}
    params = {k: v for k, v in params.items() if not k.startswith("__")}  # gradio's own (e.g. __theme)
    if not params:
        return (gr.skip(),) * (4 + len(LINK_SETTINGS)) + ("",)
    try:
        preset, warnings = presets.from_query(params)
    except ValueError as exc:
        gr.Warning(f"Share link not applied: {exc}")
        return (gr.skip(),) * (4 + len(LINK_SETTINGS)) + (f"Share link not applied: {exc}",)
    for warning in warnings:
        gr.Warning(warning)
    return (*_preset_outputs(preset), "Settings restored from the link.")


def model_badge() -> str:
    source = preview.resolve_source(MODEL.source_spec)
    device = preview.default_device()
    dtype = preview.default_dtype(device)
    if source.is_demo:
        return (f"**Model:** embedded demo model — a tiny SVD-architecture model trained on generated shapes, "
                f"not SVD · {device} · {str(dtype).removeprefix('torch.')}. Point `SVD_MODEL` (or `--model`) at a "
                "diffusers folder or `stabilityai/stable-video-diffusion-img2vid-xt` for real SVD.")
    return f"**Model:** `{source.location}` · {device} · {str(dtype).removeprefix('torch.')}"


# --- layout -----------------------------------------------------------------------------------


def build_demo() -> gr.Blocks:
    source = preview.resolve_source(MODEL.source_spec)
    defaults = preview.preview_settings(source)
    full = preview.full_settings(source)
    bounds = preview.SETTING_BOUNDS  # the sliders' ranges are the engine's own
    examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.png"))

    with gr.Blocks(title=TITLE, delete_cache=(3600, 6 * 3600)) as demo:
        gr.Markdown(f"# {TITLE}\nScale Stable Video Diffusion's self- and cross-attention, separately for the "
                    "spatial and temporal blocks (ComfyUI's `UNetTemporalAttentionMultiply`), and compare "
                    "baseline and patched videos rendered from the same seed.")
        gr.Markdown(model_badge(), elem_id="model-badge")
        user_presets = gr.BrowserState({}, storage_key="svd-attention-lab-presets")

        with gr.Row():
            with gr.Column(scale=2):
                image = gr.Image(label="Input image", type="filepath", sources=["upload", "clipboard"], height=260,
                                 elem_id="input-image")
                if examples:
                    gr.Examples(examples, inputs=image, label="Examples")
                sliders = {}
                for group, fields in (("Self-attention", FIELDS[:2]), ("Cross-attention", FIELDS[2:])):
                    with gr.Group():
                        gr.Markdown(f"**{group}**")
                        for field in fields:
                            sliders[field] = gr.Slider(MULTIPLIER_MIN, MULTIPLIER_MAX, value=MULTIPLIER_DEFAULT,
                                                       step=MULTIPLIER_STEP, label=field.replace("_", " "),
                                                       info=FIELD_HELP[field], elem_id=f"slider-{field}")
                with gr.Row():
                    preset_picker = gr.Dropdown(_preset_choices({}), value="Identity", label="Preset", scale=3,
                                                elem_id="preset-picker")
                    reset = gr.Button("Reset", scale=1)
                with gr.Row():
                    run = gr.Button("Preview", variant="primary", elem_id="preview-button", scale=3)
                    stop = gr.Button("Stop", variant="stop", scale=1)
                auto = gr.Checkbox(False, label="Auto-preview on slider release", elem_id="auto-preview")
                with gr.Accordion("Generation settings", open=False):
                    quality = gr.Radio(["Preview", "Full quality"], value="Preview", label="Quality")
                    with gr.Row():
                        seed = gr.Number(defaults.seed, label="Seed", precision=0, minimum=bounds["seed"][0],
                                         maximum=bounds["seed"][1],
                                         elem_id="seed")
                        randomize = gr.Checkbox(False, label="Randomize seed")
                    frames = gr.Slider(*bounds["frames"], defaults.frames, step=1, label="Frames")
                    steps = gr.Slider(*bounds["steps"], defaults.steps, step=1, label="Steps")
                    with gr.Row():
                        width = gr.Slider(*bounds["width"], defaults.width, step=64, label="Width (0 = model's native)")
                        height = gr.Slider(*bounds["height"], defaults.height, step=64, label="Height (0 = model's native)")
                    fps = gr.Slider(*bounds["fps"], defaults.fps, step=1, label="FPS (conditioning and playback)")
                    motion = gr.Slider(*bounds["motion_bucket_id"], defaults.motion_bucket_id, step=1, label="Motion bucket id")
                    noise_aug = gr.Slider(*bounds["noise_aug_strength"], defaults.noise_aug_strength, step=0.01, label="Noise augmentation")
                    with gr.Row():
                        min_guidance = gr.Slider(*bounds["min_guidance"], defaults.min_guidance, step=0.1, label="Min guidance")
                        max_guidance = gr.Slider(*bounds["max_guidance"], defaults.max_guidance, step=0.1, label="Max guidance")
                    chunk = gr.Slider(*bounds["decode_chunk_size"], defaults.decode_chunk_size, step=1, label="Decode chunk size")

            with gr.Column(scale=3):
                with gr.Tabs():
                    with gr.Tab("Side by side"):
                        side_by_side = gr.Video(label="Baseline | patched", autoplay=True, loop=True,
                                                elem_id="side-by-side")
                    with gr.Tab("Baseline"):
                        baseline = gr.Video(label="Baseline", autoplay=True, loop=True)
                    with gr.Tab("Patched"):
                        patched = gr.Video(label="Patched", autoplay=True, loop=True)
                    with gr.Tab("Difference ×4"):
                        difference = gr.Video(label="|patched − baseline| × 4", autoplay=True, loop=True)
                    with gr.Tab("Contact sheet"):
                        sheet = gr.Image(label="Frames", type="filepath", format="png")
                plot = gr.LinePlot(x="frame", y="value", color="series", title="Per-frame metrics (8-bit levels)",
                                   height=260)
                summary = gr.Markdown(elem_id="patch-summary")
                with gr.Row():
                    seed_used = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="seed-used")
                    downloads = gr.File(label="Metrics (JSON, CSV) and animated WebP", file_count="multiple")

                with gr.Tab("Sweep"):
                    with gr.Row():
                        sweep_field = gr.Dropdown(list(FIELDS), value="self_temporal", label="Multiplier")
                        sweep_values = gr.Textbox("0, 0.5, 1, 1.5, 2", label=f"Values (up to {preview.MAX_SWEEP_VALUES})")
                    sweep_run = gr.Button("Run sweep")
                    sweep_video = gr.Video(label="One tile per value", autoplay=True, loop=True)
                    sweep_plot = gr.LinePlot(x="multiplier value", y="value", color="metric",
                                             title="Metric against the value (8-bit levels)", height=240)
                    sweep_table = gr.Dataframe(label="Summary per value", interactive=False,
                                               headers=["value", "mean_change_vs_baseline", "patched_temporal_change"])

                with gr.Tab("Presets"):
                    preset_info = gr.Markdown()
                    with gr.Row():
                        preset_name = gr.Textbox(label="Name", max_length=80)
                        include_settings = gr.Checkbox(True, label="Include seed and generation settings")
                    preset_description = gr.Textbox(label="Description", lines=2, max_length=1000)
                    with gr.Row():
                        save = gr.Button("Save preset")
                        saved_file = gr.File(label="Preset file")
                    with gr.Row():
                        upload_preset = gr.File(label="Load a preset (.json)", file_types=[".json"], elem_id="upload-preset")
                        upload_comfy = gr.File(label="Import a ComfyUI workflow (.json, .png, .webp)",
                                               file_types=[".json", ".png", ".webp"])
                    with gr.Row():
                        export = gr.Button("Export ComfyUI node")
                        link = gr.Button("Copy share link", elem_id="share-button")
                    share_url = gr.Textbox(label="Share link", buttons=["copy"], elem_id="share-url")
                    comfy_snippet = gr.Code(label="ComfyUI API-format node", language="json")
                    comfy_file = gr.File(label="ComfyUI workflow with the node")

        multipliers = [sliders[f] for f in FIELDS]
        settings_inputs = [frames, steps, width, height, fps, motion, noise_aug, min_guidance, max_guidance, chunk]
        link_outputs = [seed, frames, steps, width, height, fps, motion, noise_aug, min_guidance, max_guidance]
        preview_inputs = [image, *multipliers, seed, randomize, *settings_inputs]
        preview_outputs = [side_by_side, baseline, patched, difference, sheet, plot, summary, seed_used, downloads]
        model_events = {"concurrency_id": "model", "concurrency_limit": 1}

        run.click(run_preview, preview_inputs, preview_outputs, api_name="preview", **model_events)
        for slider in multipliers:
            slider.release(preview_on_release, [auto, *preview_inputs], preview_outputs, api_name=False,
                           trigger_mode="always_last", **model_events)
        stop.click(cancel_render, None, None, api_name="cancel", queue=False)
        reset.click(reset_multipliers, None, multipliers, api_name="reset")
        quality.change(lambda q: _settings_values(full if q == "Full quality" else defaults), quality,
                       settings_inputs, api_name=False)
        preset_picker.input(apply_named_preset, [preset_picker, user_presets], [*multipliers, *link_outputs, preset_info],
                            api_name="apply_preset")
        sweep_run.click(run_sweep, [image, sweep_field, sweep_values, *multipliers, seed, *settings_inputs],
                        [sweep_video, sweep_plot, sweep_table], api_name="sweep", **model_events)
        save.click(save_preset, [preset_name, preset_description, include_settings, *multipliers, seed,
                                 *settings_inputs, user_presets], [saved_file, user_presets, preset_picker],
                   api_name="save_preset")
        upload_preset.upload(load_preset_file, upload_preset, [*multipliers, *link_outputs, preset_info],
                             api_name="load_preset")
        upload_comfy.upload(import_comfyui, upload_comfy, [*multipliers, preset_info], api_name="import_comfyui")
        export.click(export_comfyui, multipliers, [comfy_snippet, comfy_file], api_name="export_comfyui")
        link.click(share_link, [*multipliers, seed, include_settings, *settings_inputs], share_url, api_name="share_link")
        demo.load(restore_from_link, None, [*multipliers, *link_outputs, preset_info], api_name=False)
        demo.load(lambda names: gr.update(choices=_preset_choices(names)), user_presets, preset_picker, api_name=False)
    return demo


def _settings_values(settings: preview.RenderSettings) -> tuple:
    return tuple(getattr(settings, name) for name in SETTING_NAMES)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="diffusers folder or Hub id (default: $SVD_MODEL, else the embedded demo model)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--cpu-offload", action="store_true", help="model CPU offload for small GPUs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    global MODEL
    if args.model or args.cpu_offload:
        MODEL = preview.ModelHolder(args.model or os.environ.get(preview.MODEL_ENV) or None, cpu_offload=args.cpu_offload)
    demo = build_demo()
    demo.queue(max_size=16)
    demo.launch(server_name=args.host, server_port=args.port, max_file_size=MAX_UPLOAD, show_error=True,
                theme=gr.themes.Soft())


if __name__ == "__main__":
    main()
