"""SVD Temporal Attention Lab: move the four attention multipliers, compare baseline and patched videos.

Run with ``python app.py [--model PATH_OR_HUB_ID]``; on Hugging Face Spaces this file is the app.
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import logging
import os
import string
from pathlib import Path

import gradio as gr
import pandas as pd

import presets
import preview
from controls import FIELD_HELP, FIELDS, MULTIPLIER_DEFAULT, MULTIPLIER_MAX, MULTIPLIER_MIN, MULTIPLIER_STEP, SETTINGS
from controls import REGION_PARAMS, REGIONS, Multipliers, check_number, setting_names, with_named_parameters
from patcher import PatchError

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
MAX_UPLOAD = "10mb"
TITLE = "SVD Temporal Attention Lab"
LINK_SETTINGS = setting_names(presets.PRESET_SETTINGS)  # what presets and share links carry
MULTIPLIER_VALUES = len(FIELDS) + len(REGION_PARAMS)  # the four sliders and the twelve region factors
LINK_VALUES = MULTIPLIER_VALUES + len(LINK_SETTINGS)  # the inputs a preset or share link sets
FIRST_VISIT_PRESET = "Damped temporal attention"  # shown on the first example when the page opens


def user_errors(fn):
    """Library errors become a gr.Error carrying the library's message; the app stays up."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except preview.RenderCancelled as exc:
            raise gr.Error(_toast(str(exc)), title="Cancelled") from None
        except (preview.PreviewError, presets.PresetError, PatchError, ValueError) as exc:
            raise gr.Error(_toast(str(exc))) from None

    return wrapper


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def _toast(text: str) -> str:
    """Toasts render HTML: show visitors' text (link values, file contents) as text."""
    return html.escape(text, quote=False)


def _markdown_text(text: str) -> str:
    """Text as itself inside Markdown: no links, images, HTML or formatting from a visitor's file or link."""
    entities = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
    return "".join(entities.get(c) or ("\\" + c if c in string.punctuation else c) for c in text)


def _multiplier_values(multipliers: Multipliers) -> tuple:
    """The four sliders' values, then the twelve region factors', in the inputs' order."""
    return (*multipliers.node_values().values(), *(multipliers.regions.factor(r, f) for r in REGIONS for f in FIELDS))


def _preset_outputs(preset: presets.Preset) -> tuple:
    """Slider and region values from a preset, plus its settings where it has them (others untouched)."""
    return (*_multiplier_values(preset.multipliers), *(preset.settings.get(n, gr.skip()) for n in LINK_SETTINGS))


def _preview_outputs(outcome: preview.PreviewOutcome) -> tuple:
    files = outcome.files
    return (str(files.side_by_side), str(files.baseline), str(files.patched), str(files.difference),
            str(files.contact_sheet), pd.DataFrame(files.metrics.records()), outcome.summary,
            outcome.comparison.settings.seed,
            [str(files.metrics_json), str(files.metrics_csv), str(files.side_by_side_webp)])


def _preset_choices(user_presets) -> list[str]:
    builtin = presets.builtin_presets()
    return list(builtin) + [n for n in (user_presets or {}) if n not in builtin]


class Lab:
    """The app's handlers around one ``preview.Studio``; ``build_demo`` makes one per app."""

    def __init__(self, studio: preview.Studio, examples: list[str]) -> None:
        self.studio = studio
        self.examples = examples
        self.demo: gr.Blocks | None = None  # set by build_demo

    def _gone(self, request: gr.Request | None):
        """True once Gradio has dropped the request's event: its client cancelled it or went away.

        Gradio cancels the event's task but cannot stop the thread running the render; this check,
        polled at every denoising step, can. (Gradio has no public view of running events.)
        """
        session = getattr(request, "session_hash", None)
        queue = getattr(self.demo, "_queue", None)
        if session is None or queue is None:
            return None
        return lambda: not any(e.session_hash == session and e.alive for job in queue.active_jobs if job for e in job)

    @user_errors
    @with_named_parameters
    def preview(self, image, multipliers, settings, randomize_seed=False, request: gr.Request = None,
                progress=gr.Progress(track_tqdm=True)):
        """Render baseline and patched videos from the same seed; return the comparison and its numbers."""
        progress(0.0, desc="loading model")
        return _preview_outputs(self.studio.preview(image, settings, multipliers, _session(request),
                                                    lambda f, t: progress(f, desc=t), self._gone(request),
                                                    randomize_seed))

    def first_visit(self, request: gr.Request = None):
        """Page opened without a share link: the first example, a telling preset and their comparison."""
        if not self.examples or presets.link_params(request.query_params if request else {}):
            return (gr.skip(),) * (1 + MULTIPLIER_VALUES + 1 + 9)  # image, multipliers, preset, preview outputs
        preset = presets.get_builtin(FIRST_VISIT_PRESET)
        outcome = self.studio.showcase(self.examples[0], preset.multipliers)
        return (self.examples[0], *_multiplier_values(preset.multipliers), preset.name, *_preview_outputs(outcome))

    def cancel(self, request: gr.Request = None):
        self.studio.cancel(_session(request))
        gr.Info("Stopping after the current step")

    @user_errors
    @with_named_parameters
    def sweep(self, image, field, values, multipliers, settings, seeds=1, request: gr.Request = None,
              progress=gr.Progress(track_tqdm=True)):
        """Render one multiplier over a list of values, for one or more seeds: a grid video, the metrics
        against the value (mean and spread over the seeds), and whether each change exceeds seed noise."""
        field, numbers = preview.parse_sweep(f"{field}={values}")
        seeds = int(check_number("seeds", seeds, int, 1, preview.MAX_SWEEP_SEEDS))
        outcome = self.studio.sweep(image, settings, field, numbers, multipliers, _session(request),
                                    lambda f, t: progress(f, desc=t), self._gone(request), seeds=seeds)
        verdicts = "\n".join(f"- {line}" for line in outcome.verdicts) or "One seed: no seed-to-seed spread measured."
        return outcome.video, pd.DataFrame(outcome.long_rows), pd.DataFrame(outcome.rows).round(3), verdicts

    @user_errors
    @with_named_parameters
    def motion_meter(self, image, multipliers, settings, request: gr.Request = None,
                     progress=gr.Progress(track_tqdm=True)):
        """Which motion bucket the patched video moves like, and the baseline's motion at each bucket."""
        reading = self.studio.motion_meter(image, settings, multipliers, _session(request),
                                           lambda f, t: progress(f, desc=t), self._gone(request))
        return reading.sentence(), pd.DataFrame(reading.rows())

    @user_errors
    def apply_preset(self, name, user_presets):
        preset = presets.pick(name, user_presets)
        return (*_preset_outputs(preset), _markdown_text(preset.description or preset.name))

    @user_errors
    def load_preset(self, path):
        preset = presets.Preset.from_file(_chosen(path, "a preset .json file"))
        return (*_preset_outputs(preset), _markdown_text(f"Loaded preset {preset.name!r}"))

    @user_errors
    def import_comfyui(self, path):
        found = presets.from_file_bytes(Path(_chosen(path, "a ComfyUI workflow (.json, .png, .webp)")).read_bytes())
        return (*_preset_outputs(found.to_preset()), _markdown_text(found.message))

    @user_errors
    @with_named_parameters
    def save_preset(self, name, description, include_settings, multipliers, settings, user_presets=None):
        preset = presets.Preset.from_controls(name, description, multipliers, settings, include_settings)
        user_presets = {**(user_presets or {}), preset.name: preset.to_dict()}
        return (str(self.studio.write("svd-attention-preset.json", preset.to_json())), user_presets,
                gr.update(choices=_preset_choices(user_presets), value=preset.name))

    @user_errors
    @with_named_parameters
    def export_comfyui(self, multipliers, settings):
        for note in presets.export_notes(multipliers, settings["start"], settings["end"]):
            gr.Warning(note)
        workflow = json.dumps(presets.to_ui_workflow(multipliers, start=settings["start"], end=settings["end"]),
                              indent=2)
        return (json.dumps(presets.to_api_node(multipliers), indent=2),
                str(self.studio.write("unet-temporal-attention-multiply.json", workflow)))

    @user_errors
    @with_named_parameters
    def share_link(self, multipliers, settings, include_settings=False, request: gr.Request = None):
        preset = presets.Preset.from_controls("Shared link", "", multipliers, settings, include_settings)
        return presets.to_url(preset, _page_url(request))

    @staticmethod
    def restore_from_link(request: gr.Request):
        """On page load: a share link's query string sets the sliders and settings."""
        try:
            preset, warnings = presets.from_link(request.query_params if request else {})
        except ValueError as exc:
            gr.Warning(_toast(f"Share link not applied: {exc}"))
            return (gr.skip(),) * LINK_VALUES + (_markdown_text(f"Share link not applied: {exc}"),)
        if preset is None:
            return (gr.skip(),) * LINK_VALUES + ("",)
        for warning in warnings:
            gr.Warning(_toast(warning))
        return (*_preset_outputs(preset), _markdown_text(" ".join(["Settings restored from the link.", *warnings])))


def _chosen(path: str | None, what: str) -> str:
    if not path:
        raise presets.PresetError(f"choose {what}")
    return path


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


# --- layout -----------------------------------------------------------------------------------


def setting_inputs(defaults: preview.RenderSettings, table=SETTINGS) -> dict[str, gr.components.Component]:
    """One input per render setting, from the settings table: a slider, or a number field."""
    inputs = {}
    for s in table:
        value = getattr(defaults, s.name, s.default)
        if s.widget == "number":
            # precision=None: 1.5 reaches the checker and is refused, not rounded to 2
            inputs[s.name] = gr.Number(value, label=s.label, info=s.help, precision=None, step=1, minimum=s.low,
                                       maximum=s.high, elem_id=s.name)
        else:
            inputs[s.name] = gr.Slider(s.low, s.high, value, step=s.step, label=s.label, info=s.help, elem_id=s.name)
    return inputs


def build_demo(studio: preview.Studio | None = None) -> gr.Blocks:
    studio = studio or preview.Studio(preview.ModelHolder(os.environ.get(preview.MODEL_ENV) or None))
    examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.png"))
    lab = Lab(studio, examples)
    defaults, full = studio.default_settings(), studio.default_settings(full=True)

    with gr.Blocks(title=TITLE, delete_cache=(3600, 6 * 3600)) as demo:
        demo.lab, lab.demo = lab, demo
        gr.Markdown(f"# {TITLE}\nScale Stable Video Diffusion's self- and cross-attention, separately for the "
                    "spatial and temporal blocks (ComfyUI's `UNetTemporalAttentionMultiply`), and compare "
                    "baseline and patched videos rendered from the same seed.")
        gr.Markdown(studio.badge(), elem_id="model-badge")
        user_presets = gr.BrowserState({}, storage_key="svd-attention-lab-presets")

        with gr.Row():
            with gr.Column(scale=2):
                # image_mode=None: the file arrives as uploaded (alpha, 16-bit, EXIF) and preview.load_image reads it
                image = gr.Image(label="Input image", type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                 height=260, elem_id="input-image")
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
                with gr.Accordion("Per-region factors (advanced)", open=False, elem_id="region-factors"):
                    gr.Markdown("Each factor multiplies its slider, in the UNet's down, mid or up blocks only; all 1 "
                                "is the plain patch. ComfyUI's node has only the four sliders.")
                    region_inputs = []
                    for region in REGIONS:
                        with gr.Row():
                            region_inputs += [gr.Number(MULTIPLIER_DEFAULT,
                                                        label=f"{region} · {field.replace('_', ' ')}",
                                                        minimum=MULTIPLIER_MIN, maximum=MULTIPLIER_MAX, step=0.05,
                                                        precision=None, elem_id=f"region-{region}-{field}",
                                                        min_width=80)
                                              for field in FIELDS]
                with gr.Accordion("Generation settings", open=False):
                    quality = gr.Radio(["Preview", "Full quality"], value="Preview", label="Quality")
                    settings = setting_inputs(defaults)
                    randomize = gr.Checkbox(False, label="Randomize seed")

            with gr.Column(scale=3):
                with gr.Tabs():
                    videos = []
                    for tab, label, elem_id in (("Side by side", "Baseline | patched", "side-by-side"),
                                                ("Baseline", "Baseline", None), ("Patched", "Patched", None),
                                                ("Difference ×4", "|patched − baseline| × 4", None)):
                        with gr.Tab(tab):  # no label chip or buttons over the frames' own label bar on top
                            videos.append(gr.Video(label=label, autoplay=True, loop=True, elem_id=elem_id,
                                                   show_label=False, buttons=[]))
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
                        sweep_field = gr.Dropdown(list(preview.SWEEPABLE), value="self_temporal",
                                                  label="Multiplier (or the schedule's end / start)")
                        sweep_values = gr.Textbox("0, 0.5, 1, 1.5, 2",
                                                  label=f"Values (up to {preview.MAX_SWEEP_VALUES})")
                        sweep_seeds = gr.Number(studio.default_sweep_seeds(), label="Seeds (from the seed setting on)",
                                                minimum=1, maximum=preview.MAX_SWEEP_SEEDS, step=1)
                    sweep_run = gr.Button("Run sweep")
                    sweep_video = gr.Video(label="One tile per value", autoplay=True, loop=True)
                    sweep_plot = gr.LinePlot(x="swept value", y="value", color="metric",
                                             title="Metric against the value (8-bit levels)", height=240)
                    sweep_table = gr.Dataframe(label="Summary per value (means over the seeds; _sd: spread)",
                                               interactive=False)
                    sweep_verdict = gr.Markdown(elem_id="sweep-verdict")

                with gr.Tab("Motion meter"):
                    gr.Markdown("Which `motion_bucket_id` does this setting move like? Renders the baseline at "
                                f"buckets {', '.join(map(str, preview.METER_BUCKETS))} (cached like any baseline), "
                                "measures "
                                "each one's motion, and places the patched video's motion on that curve.")
                    meter_run = gr.Button("Measure motion", elem_id="meter-button")
                    meter_reading = gr.Markdown(elem_id="meter-reading")
                    meter_plot = gr.LinePlot(x="motion bucket", y="motion", color="series", height=240,
                                             title="Motion (mean change between frames, 8-bit levels)")

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
                        upload_preset = gr.File(label="Load a preset (.json)", file_types=[".json"],
                                                elem_id="upload-preset")
                        upload_comfy = gr.File(label="Import a ComfyUI workflow (.json, .png, .webp)",
                                               file_types=[".json", ".png", ".webp"])
                    with gr.Row():
                        export = gr.Button("Export ComfyUI node")
                        link = gr.Button("Copy share link", elem_id="share-button")
                    share_url = gr.Textbox(label="Share link", buttons=["copy"], elem_id="share-url")
                    comfy_snippet = gr.Code(label="ComfyUI API-format node", language="json")
                    comfy_file = gr.File(label="ComfyUI workflow with the node")

        multipliers = [*(sliders[f] for f in FIELDS), *region_inputs]  # the sliders, then the region factors
        settings_inputs = list(settings.values())
        link_outputs = [*multipliers, *(settings[n] for n in LINK_SETTINGS), preset_info]
        preview_inputs = [image, *multipliers, *settings_inputs, randomize]
        preview_outputs = [*videos, sheet, plot, summary, seed_used, downloads]
        model_events = {"concurrency_id": "model", "concurrency_limit": 1}
        preview_handler = lab.preview

        def preview_on_release(auto, *args, request: gr.Request = None, progress=gr.Progress(track_tqdm=True)):
            """Slider release: re-render only when auto-preview is on."""
            return preview_handler(*args, request=request, progress=progress) if auto else (gr.skip(),) * 9

        run.click(preview_handler, preview_inputs, preview_outputs, api_name="preview", **model_events)
        for slider in sliders.values():
            slider.release(preview_on_release, [auto, *preview_inputs],
                           preview_outputs, api_name=False, trigger_mode="always_last", **model_events)
        stop.click(lab.cancel, None, None, api_name="cancel", queue=False)
        reset.click(lambda: (MULTIPLIER_DEFAULT,) * len(multipliers), None, multipliers, api_name="reset")
        quality.change(lambda q: tuple((full if q == "Full quality" else defaults).as_dict().values()), quality,
                       settings_inputs, api_name=False)
        meter_run.click(lab.motion_meter, [image, *multipliers, *settings_inputs], [meter_reading, meter_plot],
                        api_name="motion_meter", **model_events)
        preset_picker.input(lab.apply_preset, [preset_picker, user_presets], link_outputs, api_name="apply_preset")
        sweep_run.click(lab.sweep,
                        [image, sweep_field, sweep_values, *multipliers, *settings_inputs, sweep_seeds],
                        [sweep_video, sweep_plot, sweep_table, sweep_verdict], api_name="sweep", **model_events)
        save.click(lab.save_preset, [preset_name, preset_description, include_settings, *multipliers, *settings_inputs,
                                     user_presets], [saved_file, user_presets, preset_picker], api_name="save_preset")
        upload_preset.upload(lab.load_preset, upload_preset, link_outputs, api_name="load_preset")
        upload_comfy.upload(lab.import_comfyui, upload_comfy, link_outputs, api_name="import_comfyui")
        export.click(lab.export_comfyui, [*multipliers, *settings_inputs], [comfy_snippet, comfy_file],
                     api_name="export_comfyui")
        link.click(lab.share_link, [*multipliers, *settings_inputs, include_settings], share_url, api_name="share_link")
        demo.load(lab.restore_from_link, None, link_outputs, api_name=False)
        demo.load(lab.first_visit, None, [image, *multipliers, preset_picker, *preview_outputs], api_name=False,
                  **model_events)
        demo.load(lambda names: gr.update(choices=_preset_choices(names)), user_presets, preset_picker, api_name=False)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    preview.add_model_options(parser)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--preload", action="store_true", help="load the model at start-up (always on Spaces)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    model = preview.ModelHolder(args.model or os.environ.get(preview.MODEL_ENV) or None, **preview.model_options(args))
    studio = preview.Studio(model)
    if args.preload or os.environ.get("SPACE_ID"):
        # Hosted: load (and place on the device) now, in this process, so ZeroGPU's workers inherit the
        # model and no visitor's GPU time goes to loading it. Locally it loads on the first render.
        studio.previewer()
    demo = build_demo(studio)
    demo.queue(max_size=16)
    demo.launch(server_name=args.host, server_port=args.port, max_file_size=MAX_UPLOAD, show_error=True,
                theme=gr.themes.Soft())


if __name__ == "__main__":
    main()
