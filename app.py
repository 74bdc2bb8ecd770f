"""SVD Temporal Attention Lab: move the four attention multipliers, compare baseline and patched videos.

Run with ``python app.py [--model PATH_OR_HUB_ID]``; on Hugging Face Spaces this file is the app. The
layout is here, one builder per tab, then the wiring; the handlers and inputs are in ``ui``.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import gradio as gr
import pandas as pd

from svd_attention_lab import engine, hosting, studies
from svd_attention_lab.controls import (
    FIELD_HELP,
    FIELDS,
    MULTIPLIER_DEFAULT,
    MULTIPLIER_MAX,
    MULTIPLIER_MIN,
    MULTIPLIER_STEP,
    REGIONS,
    SETTINGS,
)
from svd_attention_lab.ui import (
    COPY_TO_CLIPBOARD,
    CSS,
    LINK_SETTINGS,
    SWEEP_METRICS,
    input_image,
    Lab,
    named_number,
    named_slider,
    preset_choices,
    restored_slots,
    setting_inputs,
    sweep_plot,
)

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
MAX_UPLOAD = "10mb"
TITLE = "SVD Temporal Attention Lab"
MAX_FRAMES = int(next(s.high for s in SETTINGS if s.name == "frames"))
FRAME_ORDER = [str(i) for i in range(MAX_FRAMES)]  # the per-frame plot's axis: whole frames, in order
MODEL_HANDLERS = 16  # requests at the model's gate at once: waiting (at most 2 per visitor) or rendering
FINE_MAX = 2.0  # the sliders' range in fine mode: a pixel is 0.005 there, not 0.024


# --- layout: one builder per tab, then the wiring ------------------------------------------------


def build_compare(studio: hosting.Studio, examples: list[str], defaults) -> dict:
    ui: dict = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            ui["image"] = input_image(label="Input image", type="filepath", image_mode=None, height=170,
                                     sources=["upload", "clipboard"], elem_id="input-image")
            ui["sliders"] = [named_slider(MULTIPLIER_MIN, MULTIPLIER_MAX, value=MULTIPLIER_DEFAULT,
                                          step=MULTIPLIER_STEP, label=field.replace("_", " "), info=FIELD_HELP[field],
                                          elem_id=f"slider-{field}") for field in FIELDS]
            with gr.Row():
                ui["run"] = gr.Button("Preview", variant="primary", elem_id="preview-button", scale=3, min_width=90)
                ui["stop"] = gr.Button("Stop", variant="stop", scale=1, min_width=60, elem_id="stop-button")
            ui["cost"] = gr.Markdown(elem_id="cost")
        with gr.Column(scale=3, min_width=300):
            ui["notice"] = gr.Markdown(elem_id="notice")  # what a link or preset set, where the eyes are
            ui["stale"] = gr.Markdown(elem_id="stale-note")
            ui["live"] = gr.Image(visible=False, type="numpy", format="png", interactive=False, buttons=[],
                                  elem_id="live-preview", elem_classes=["pixel-video"])  # while a Preview samples
            with gr.Tabs():
                ui["videos"] = []
                for tab, elem_id in (("Side by side", "side-by-side"), ("Baseline", "baseline-video"),
                                     ("Patched", "patched-video"), ("Difference ×4", "difference-video")):
                    with gr.Tab(tab):  # no label chip or buttons over the frames' own label bar on top
                        ui["videos"].append(gr.Video(autoplay=True, loop=True, elem_id=elem_id, show_label=False,
                                                     buttons=[], elem_classes=["pixel-video"]))
                with gr.Tab("Contact sheet"):
                    ui["sheet"] = gr.Image(type="filepath", format="png", show_label=False, elem_id="contact-sheet")
                with gr.Tab("Per-frame plot"):  # in a tab: the plotting library loads when it is opened
                    ui["plot"] = gr.LinePlot(x="frame", y="value", color="series", height=240, sort=FRAME_ORDER,
                                             title="Per-frame metrics (8-bit levels)", elem_id="frame-plot")
            ui["summary"] = gr.Markdown(elem_id="patch-summary")
            with gr.Row():
                ui["seed_used"] = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="seed-used")
                ui["downloads"] = gr.File(label="Metrics (JSON, CSV) and animated WebP", file_count="multiple")
    with gr.Row():
        ui["preset_picker"] = gr.Dropdown(preset_choices({}), value="Identity", label="Preset", scale=3,
                                          elem_id="preset-picker")
        ui["reset"] = gr.Button("Reset", scale=1)
        ui["fine"] = gr.Checkbox(False, label=f"Fine sliders (0–{FINE_MAX:g})", elem_id="fine-sliders", scale=1)
        ui["auto"] = gr.Checkbox(False, label="Auto-preview on slider release", elem_id="auto-preview", scale=1)
    with gr.Accordion("Per-region factors (advanced)", open=False, elem_id="region-factors"):
        gr.Markdown("Each factor multiplies its slider, in the UNet's down, mid or up blocks only; all 1 is the "
                    "plain patch. ComfyUI's node has only the four sliders.")
        ui["regions"] = []
        for region in REGIONS:
            with gr.Row():
                ui["regions"] += [named_number(MULTIPLIER_DEFAULT, label=f"{region} · {field.replace('_', ' ')}",
                                              minimum=MULTIPLIER_MIN, maximum=MULTIPLIER_MAX, step=0.05,
                                              precision=None, elem_id=f"region-{region}-{field}", min_width=80)
                                  for field in FIELDS]
    with gr.Accordion("Generation settings", open=False):
        ui["quality"] = gr.Radio(["Preview", "Full quality"], value="Preview", label="Quality")
        ui["settings"] = setting_inputs(defaults)
        ui["randomize"] = gr.Checkbox(False, label="Randomize seed")
    if examples:
        gr.Examples(examples, inputs=ui["image"], label="Examples")
    return ui


def build_sweep(studio: hosting.Studio) -> dict:
    ui: dict = {}
    gr.Markdown("One multiplier over several values, on the Compare tab's image, sliders and settings: "
                "one tile per value, captioned.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            ui["field"] = gr.Dropdown(list(studies.SWEEPABLE), value="self_temporal",
                                      label="Multiplier (or the schedule's end / start)")
            ui["values"] = gr.Textbox("0, 0.5, 1, 1.5, 2", label=f"Values (up to {studies.MAX_SWEEP_VALUES})")
            ui["seeds"] = gr.Number(studio.default_sweep_seeds(), label="Seeds (from the seed setting on)",
                                    minimum=1, maximum=studies.MAX_SWEEP_SEEDS, step=1)
            ui["run"] = gr.Button("Run sweep", variant="primary", elem_id="sweep-button")
            ui["verdict"] = gr.Markdown(elem_id="sweep-verdict")
        with gr.Column(scale=3, min_width=300):
            ui["video"] = gr.Video(autoplay=True, loop=True, show_label=False, buttons=[], elem_id="sweep-video",
                                   elem_classes=["pixel-video"])  # no label chip over the first tile's caption
            ui["metric"] = gr.Dropdown(list(SWEEP_METRICS), value="patched_temporal_change", label="Plotted metric",
                                       elem_id="sweep-metric")
            ui["plot"] = gr.LinePlot(x="swept value", y="value", color="series", height=240,
                                     title="The metric against the value (8-bit levels)", elem_id="sweep-plot")
            ui["table"] = gr.Dataframe(label="Summary per value (means over the seeds; _sd: spread)",
                                       interactive=False, value=pd.DataFrame(columns=["value", *SWEEP_METRICS]))
    return ui


def build_meter() -> dict:
    gr.Markdown("Which `motion_bucket_id` does this setting move like? Renders the baseline at buckets "
                f"{', '.join(map(str, studies.METER_BUCKETS))} (cached like any baseline), measures each one's "
                "motion, and places the patched video's motion on that curve.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            run = gr.Button("Measure motion", variant="primary", elem_id="meter-button")
            reading = gr.Markdown(elem_id="meter-reading")
        with gr.Column(scale=3, min_width=300):
            plot = gr.LinePlot(x="motion bucket", y="motion", color="series", height=240,
                               title="Motion (mean change between frames, 8-bit levels)")
    return {"run": run, "reading": reading, "plot": plot}


def build_presets() -> dict:
    ui: dict = {}
    with gr.Row(equal_height=False):
        with gr.Column():
            with gr.Row():
                ui["name"] = gr.Textbox(label="Name", max_length=80)
                ui["include_settings"] = gr.Checkbox(True, label="Include seed and generation settings")
            ui["description"] = gr.Textbox(label="Description", lines=2, max_length=1000)
            ui["save"] = gr.Button("Save preset")
            ui["saved_file"] = gr.File(label="Preset file")
            ui["upload"] = gr.File(label="Load a preset (.json)", file_types=[".json"], elem_id="upload-preset")
        with gr.Column():
            ui["link"] = gr.Button("Copy share link", elem_id="share-button")
            ui["share_url"] = gr.Textbox(label="Share link", buttons=["copy"], elem_id="share-url")
            ui["upload_comfy"] = gr.File(label="Import a ComfyUI workflow (.json, .png, .webp)",
                                         file_types=[".json", ".png", ".webp"], elem_id="upload-comfy")
            ui["export"] = gr.Button("Export ComfyUI node")
            ui["snippet"] = gr.Code(label="ComfyUI API prompt (SVD image to video, with the node)", language="json")
            ui["comfy_file"] = gr.File(label="ComfyUI workflow with the node")
    return ui


def build_demo(studio: hosting.Studio | None = None) -> gr.Blocks:
    studio = studio or hosting.Studio(engine.ModelHolder(os.environ.get(engine.MODEL_ENV) or None))
    examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.png"))
    lab = Lab(studio, examples)
    defaults, full = studio.default_settings(), studio.default_settings(full=True)

    with gr.Blocks(title=TITLE, delete_cache=(3600, 6 * 3600)) as demo:
        demo.lab, lab.demo = lab, demo
        gr.Markdown(f"**{TITLE}** · scale SVD's self- and cross-attention, spatial and temporal (ComfyUI's "
                    "`UNetTemporalAttentionMultiply`); baseline and patched video from the same seed.",
                    elem_id="title")
        gr.Markdown(studio.badge(), elem_id="model-badge")
        user_presets = gr.BrowserState({}, storage_key="svd-attention-lab-presets")
        rendered = gr.State("")  # the signature of what the results show
        with gr.Tabs():
            with gr.Tab("Compare", id="compare"):
                c = build_compare(studio, examples, defaults)
            with gr.Tab("Sweep", id="sweep"):
                s = build_sweep(studio)
            with gr.Tab("Motion meter", id="meter"):
                m = build_meter()
            with gr.Tab("Presets & sharing", id="presets"):
                p = build_presets()

        multipliers = [*c["sliders"], *c["regions"]]  # the sliders, then the region factors
        settings = list(c["settings"].values())
        restored = [*multipliers, *(c["settings"][n] for n in LINK_SETTINGS), c["notice"]]
        if len(restored) != len(restored_slots()):
            raise RuntimeError("the restored inputs and ui.restored_slots() disagree")
        preview_inputs = [c["image"], *multipliers, *settings, c["randomize"]]
        preview_outputs = [*c["videos"], c["sheet"], c["plot"], c["summary"], c["seed_used"], c["downloads"],
                           rendered, c["stale"]]
        # the model's events go straight to the Studio's gate, which renders one at a time in arrival order and
        # gives each visitor a fair share of the line (hosting/_gate.py); Gradio's queue only bounds the threads
        model_events = {"concurrency_id": "model", "concurrency_limit": MODEL_HANDLERS}
        quiet = {"show_progress": "hidden"}  # no spinner or error badge on the inputs a preset sets

        api_only = gr.Button(visible=False)  # the API's plain twins of what the page streams or does quietly
        # the page's Preview streams a live strip; the progress bar sits on the video it replaces
        page_preview = {"show_progress_on": c["videos"][0], **model_events}
        c["run"].click(lab.preview_live, preview_inputs, [*preview_outputs, c["live"]], api_name=False,
                       **page_preview)
        api_only.click(lab.preview, preview_inputs, preview_outputs, api_name="preview", **model_events)
        for slider in c["sliders"]:  # a drag or a typed value; while one renders, only the latest waits
            slider.input(lab.preview_live, [*preview_inputs, c["auto"]], [*preview_outputs, c["live"]],
                         api_name=False, trigger_mode="always_last", **page_preview)
        c["stop"].click(lab.cancel, None, None, api_name="cancel", queue=False)
        c["reset"].click(lambda: (MULTIPLIER_DEFAULT,) * len(multipliers), None, multipliers, api_name="reset")
        c["fine"].change(lambda fine, *v: [gr.update(maximum=max(FINE_MAX, x) if fine else MULTIPLIER_MAX) for x in v],
                         [c["fine"], *c["sliders"]], c["sliders"], api_name=False, queue=False)
        changed = [n for n in c["settings"] if getattr(full, n) != getattr(defaults, n)]  # what quality switches
        c["quality"].change(lambda q: [getattr(full if q == "Full quality" else defaults, n) for n in changed],
                            c["quality"], [c["settings"][n] for n in changed], api_name=False)
        for control in [c["image"], *multipliers, *settings]:
            control.change(lab.stale, [rendered, c["image"], *multipliers, *settings], c["stale"], api_name=False,
                           queue=False, trigger_mode="always_last", **quiet)
        for control in settings:
            control.change(lab.estimate, settings, c["cost"], api_name=False, queue=False, **quiet)
        c["preset_picker"].input(lab.apply_preset, [c["preset_picker"], user_presets], restored,
                                 api_name="apply_preset", **quiet)
        m["run"].click(lab.motion_meter, [c["image"], *multipliers, *settings], [m["reading"], m["plot"]],
                       api_name="motion_meter", show_progress_on=m["plot"], **model_events)
        s["run"].click(lab.sweep, [c["image"], s["field"], s["values"], *multipliers, *settings, s["seeds"],
                                   s["metric"]], [s["video"], s["plot"], s["table"], s["verdict"]], api_name="sweep",
                       show_progress_on=s["video"], **model_events)
        s["metric"].change(sweep_plot, [s["table"], s["metric"]], s["plot"], api_name=False, queue=False)
        p["save"].click(lab.save_preset, [p["name"], p["description"], p["include_settings"], *multipliers,
                                          *settings, user_presets], [p["saved_file"], user_presets, c["preset_picker"]],
                        api_name="save_preset")
        p["upload"].upload(lab.quietly(lab.load_preset), p["upload"], restored, api_name=False, **quiet)
        p["upload_comfy"].upload(lab.quietly(lab.import_comfyui), p["upload_comfy"], restored, api_name=False, **quiet)
        api_only.click(lab.load_preset, p["upload"], restored, api_name="load_preset")
        api_only.click(lab.import_comfyui, p["upload_comfy"], restored, api_name="import_comfyui")
        p["export"].click(lab.export_comfyui, [*multipliers, *settings], [p["snippet"], p["comfy_file"]],
                          api_name="export_comfyui")
        p["link"].click(lab.share_link, [c["image"], *multipliers, *settings, p["include_settings"]], p["share_url"],
                        api_name="share_link").success(None, p["share_url"], None, js=COPY_TO_CLIPBOARD)
        lab.opening = [c["image"], *restored, *preview_outputs]  # what open_page sets
        demo.load(lab.open_page, None, lab.opening, api_name=False, **page_preview)  # progress on the video only
        demo.load(lab.estimate, settings, c["cost"], api_name=False, queue=False)
        demo.load(lambda names: gr.update(choices=preset_choices(names)), user_presets, c["preset_picker"],
                  api_name=False)
    return demo


def preload(demo: gr.Blocks) -> None:
    """Load the model now, in this process, so ZeroGPU's workers inherit it and no visitor's GPU time goes
    to loading it, and render the first visit's comparison into the page, so every first visitor sees it
    at once, without a request to the server. Call it before ``launch``. On ZeroGPU the UNet is first
    compiled ahead of time for the page's default renders (ZeroGPU does not run ``torch.compile``)."""
    if hosting.on_zerogpu():
        demo.lab.studio.compile_ahead_of_time(next(iter(demo.lab.examples.values())))
    demo.lab.open_with_showcase(demo.lab.opening)


def launch_options(studio: hosting.Studio) -> dict:
    """What ``launch`` needs besides the address: the upload cap, and the output folder served wherever it
    is (Gradio serves files only from the working and temporary folders and the ones allowed here)."""
    return {"max_file_size": MAX_UPLOAD, "show_error": True, "allowed_paths": [str(studio.outputs.root)]}


def hosting_budget(public: bool, budget: float | None, env=os.environ) -> float | None:
    """The longest a request may hold the model: ``--budget``, else 60 s on a public host, else no limit."""
    if budget is not None:
        return budget
    return hosting.DEFAULT_PUBLIC_BUDGET_S if public or env.get("SPACE_ID") else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    engine.add_model_options(parser)
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--preload", action="store_true", help="load the model and render the first visit's "
                        "comparison at start-up (always on Spaces)")
    parser.add_argument("--public", action="store_true", help="a page anyone can open: every request is "
                        f"estimated first and refused over the budget (default {hosting.DEFAULT_PUBLIC_BUDGET_S:g} s)")
    parser.add_argument("--budget", type=float, help="seconds a request may take (default: none locally, "
                        f"{hosting.DEFAULT_PUBLIC_BUDGET_S:g} with --public or on Spaces)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    model = engine.ModelHolder(args.model or os.environ.get(engine.MODEL_ENV) or None, **engine.model_options(args))
    studio = hosting.Studio(model, budget_s=hosting_budget(args.public, args.budget))
    demo = build_demo(studio)
    if args.preload or os.environ.get("SPACE_ID"):
        preload(demo)
    demo.queue(max_size=16)
    demo.launch(server_name=args.host, server_port=args.port, theme=gr.themes.Soft(), css=CSS,
                **launch_options(studio))


if __name__ == "__main__":
    main()
