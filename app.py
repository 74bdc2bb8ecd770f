"""SVD Temporal Attention Lab: move the four attention multipliers, compare baseline and patched videos.

Run with ``python app.py [--model PATH_OR_HUB_ID]``; on Hugging Face Spaces this file is the app. The
Compare tab's layout is here, then the wiring; the other tabs and every handler are in
``svd_attention_lab.ui``, grouped by tab.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import gradio as gr

from svd_attention_lab import engine, hosting, ui
from svd_attention_lab.controls import (FIELD_HELP, FIELDS, MULTIPLIER_DEFAULT, MULTIPLIER_MAX, MULTIPLIER_MIN,
                                        MULTIPLIER_STEP, REGIONS, SETTINGS)

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
MAX_UPLOAD = "10mb"
TITLE = "SVD Temporal Attention Lab"
MAX_FRAMES = int(next(s.high for s in SETTINGS if s.name == "frames"))
FRAME_ORDER = [str(i) for i in range(MAX_FRAMES)]  # the per-frame plot's axis: whole frames, in order
MODEL_HANDLERS = 16  # requests at the model's gate at once: waiting (at most 2 per visitor) or rendering
FINE_MAX = 2.0  # the sliders' range in fine mode: a pixel is 0.005 there, not 0.024
QUIET = {"show_progress": "hidden"}  # the page says what happens in its own lines, never with Gradio's overlays
MODEL = {"concurrency_id": "model", "concurrency_limit": MODEL_HANDLERS}  # the Studio's gate orders the renders


def setting_input(s, value) -> gr.components.Component:
    """One render setting's input, from the settings table: a slider, or a number field (the seed)."""
    if s.widget == "number":  # precision=None: 1.5 reaches the page's reader and is set to a whole number
        return gr.Number(value, label=s.label, info=s.help, precision=None, step=1, minimum=s.low, maximum=s.high,
                         elem_id=s.name)
    return gr.Slider(s.low, s.high, value, step=s.step, label=s.label, info=s.help, elem_id=s.name)


def build_compare(page: ui.Page, examples: list[str], defaults) -> dict:
    c: dict = {}
    with gr.Row(equal_height=False, elem_id="compare-row"):
        with gr.Column(scale=2, min_width=300, elem_id="controls-col"):
            c["image"] = gr.Image(label="Input image", type="filepath", image_mode=None, height=150,
                                  sources=["upload", "clipboard"], elem_id="input-image")
            with gr.Column(elem_id="sliders"):
                c["sliders"] = [gr.Slider(MULTIPLIER_MIN, MULTIPLIER_MAX, MULTIPLIER_DEFAULT, step=MULTIPLIER_STEP,
                                          label=field.replace("_", " "), elem_id=f"slider-{field}") for field in FIELDS]
            with gr.Row(elem_id="run-row"):
                c["run"] = gr.Button("Preview", variant="primary", elem_id="preview-button", scale=3, min_width=90)
                c["stop"] = gr.Button("Stop", variant="stop", scale=1, min_width=60, elem_id="stop-button")
            c["cost"] = gr.Markdown(elem_id="cost")
            c["message"] = gr.Markdown(elem_id="message")  # the one line for refusals and news
        with gr.Column(scale=3, min_width=300, elem_id="results-col"):
            c["showing"] = gr.Markdown(elem_id="showing")
            c["stale"] = gr.Markdown(elem_id="stale-note")
            c["live"] = gr.HTML(visible=False, elem_id="live-preview")  # while a Preview waits or samples
            with gr.Tabs(overflow_behavior="wrap", elem_id="result-tabs"):
                c["videos"] = []
                for tab, elem_id in (("Side by side", "side-by-side"), ("Baseline", "baseline-video"),
                                     ("Patched", "patched-video"), ("Difference ×4", "difference-video")):
                    with gr.Tab(tab):  # no label chip or buttons over the frames' own label bar on top
                        c["videos"].append(gr.Video(autoplay=True, loop=True, elem_id=elem_id, show_label=False,
                                                    buttons=[], elem_classes=["pixel-video"]))
                with gr.Tab("Contact sheet"):
                    c["sheet"] = gr.Image(type="filepath", format="png", show_label=False, elem_id="contact-sheet")
                with gr.Tab("Per-frame plot"):  # in a tab: the plotting library loads when it is opened
                    c["plot"] = gr.LinePlot(x="frame", y="value", color="series", height=240, sort=FRAME_ORDER,
                                            title="Per-frame metrics (8-bit levels)", elem_id="frame-plot")
            c["summary"] = gr.Markdown(elem_id="patch-summary")
            with gr.Column(elem_id="result-files"):
                c["seed_used"] = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="seed-used")
                c["downloads"] = gr.File(label="Metrics (JSON, CSV) and animated WebP", file_count="multiple",
                                         elem_id="downloads")
    with gr.Row(elem_id="preset-row"):
        c["picker"] = gr.Dropdown(ui.preset_choices({}), value="Identity", label="Preset", scale=3,
                                  elem_id="preset-picker")
        c["reset"] = gr.Button("Reset", scale=1, elem_id="reset-button")
        c["fine"] = gr.Checkbox(False, label=f"Fine sliders (0–{FINE_MAX:g})", elem_id="fine-sliders", scale=1)
        c["auto"] = gr.Checkbox(False, label="Auto-preview on slider release", elem_id="auto-preview", scale=1)
    with gr.Accordion("What the sliders scale", open=False):
        gr.Markdown("\n".join(f"- **{f.replace('_', ' ')}**: {FIELD_HELP[f]}" for f in FIELDS))
    with gr.Accordion("Per-region factors (advanced)", open=False, elem_id="region-factors"):
        gr.Markdown("Each factor multiplies its slider, in the UNet's down, mid or up blocks only; all 1 is the "
                    "plain patch. ComfyUI's node has only the four sliders.")
        c["regions"] = []
        for region in REGIONS:
            with gr.Row():
                c["regions"] += [gr.Number(MULTIPLIER_DEFAULT, label=f"{region} · {field.replace('_', ' ')}",
                                           minimum=MULTIPLIER_MIN, maximum=MULTIPLIER_MAX, step=0.05, precision=None,
                                           elem_id=f"region-{region}-{field}", min_width=80) for field in FIELDS]
    with gr.Accordion("Generation settings", open=False):
        c["quality"] = gr.Radio(["Preview", "Full quality"], value="Preview", label="Quality")
        c["settings"] = {s.name: setting_input(s, getattr(defaults, s.name, s.default)) for s in SETTINGS}
        c["randomize"] = gr.Checkbox(False, label="Randomize seed")
    if examples:
        gr.Examples(examples, inputs=c["image"], label="Examples")
    c["numbers"] = [*c["sliders"], *c["regions"], *c["settings"].values()]  # ui.BOUNDS's order
    return c


def wire_compare(page: ui.Page, compare: ui.Compare, c: dict, full, defaults) -> None:
    view, user = page.view_outputs, c["user_presets"]
    state = [c["state"], user]
    page_preview = {"api_name": False, "preprocess": False, **QUIET, **MODEL}
    c["run"].click(compare.preview_page, [*state, c["image"], *c["numbers"], c["randomize"]], compare.page_outputs,
                   **page_preview)
    for slider in c["sliders"]:  # a drag's release or a typed value, with auto-preview on; only the latest waits
        slider.input(compare.preview_auto, [*state, c["image"], *c["numbers"], c["randomize"], c["auto"]],
                       compare.page_outputs, trigger_mode="always_last", **page_preview)
    api_only = gr.Button(visible=False)  # the API's plain twin: named parameters, refusals raised
    api_only.click(compare.api(), [c["image"], *c["numbers"], c["randomize"]], page.result_outputs,
                   api_name="preview", preprocess=False, **MODEL)  # the handler reads and checks every input
    c["stop"].click(page.stop, None, [c["message"]], api_name="cancel", queue=False)
    c["reset"].click(page.reset, state, [*c["numbers"], *view, c["message"]], api_name="reset", queue=False)
    c["fine"].change(lambda fine, *v: [gr.update(maximum=max(FINE_MAX, x) if fine else MULTIPLIER_MAX) for x in v],
                     [c["fine"], *c["sliders"]], c["sliders"], api_name=False, queue=False)
    changed = [n for n in c["settings"] if getattr(full, n) != getattr(defaults, n)]  # what quality switches
    c["quality"].change(lambda q: [getattr(full if q == "Full quality" else defaults, n) for n in changed],
                        c["quality"], [c["settings"][n] for n in changed], api_name=False, queue=False)
    gr.on([control.change for control in [c["image"], *c["numbers"]]], page.sync, [*state, c["image"], *c["numbers"]],
          [c["image"], *c["numbers"], *view, c["message"]], api_name=False, queue=False, preprocess=False,
          trigger_mode="always_last", **QUIET)  # one event for every control (an upload too): the latest values
    c["picker"].input(page.apply_preset, [*state, c["picker"]], [*c["numbers"], *view, c["message"]],
                      api_name="apply_preset", queue=False, **QUIET)


def build_demo(studio: hosting.Studio | None = None) -> gr.Blocks:
    studio = studio or hosting.Studio(engine.ModelHolder(os.environ.get(engine.MODEL_ENV) or None))
    examples = sorted(str(p) for p in EXAMPLES_DIR.glob("*.png"))
    page = ui.Page(studio, examples)
    defaults, full = studio.default_settings(), studio.default_settings(full=True)

    with gr.Blocks(title=TITLE, delete_cache=(3600, 6 * 3600)) as demo:
        demo.lab_page, page.demo = page, demo
        gr.Markdown(f"**{TITLE}** · scale SVD's attention, spatial and temporal (ComfyUI's "
                    "`UNetTemporalAttentionMultiply`): baseline and patched video from one seed.", elem_id="title")
        badge = gr.Markdown(studio.badge(), elem_id="model-badge")
        user_presets = gr.BrowserState({}, storage_key="svd-attention-lab-presets")
        state = gr.State(page.initial())
        state_json = gr.Textbox(visible="hidden", elem_id="display-state")  # the display state, for tests and tools
        with gr.Tabs(overflow_behavior="wrap", elem_id="page-tabs"):
            with gr.Tab("Compare", id="compare"):
                c = build_compare(page, examples, defaults)
            with gr.Tab("Sweep", id="sweep"):
                s = ui.build_sweep(studio)
            with gr.Tab("Meter", id="meter"):
                m = ui.build_meter()
            with gr.Tab("Motion", id="motion") as motion_tab:
                t = ui.build_motion_tools(studio)
            with gr.Tab("Presets", id="presets"):
                p = ui.build_sharing()
        c |= {"state": state, "state_json": state_json, "badge": badge, "user_presets": user_presets, "wipe": t["wipe"]}
        page.bind(c)
        compare = ui.Compare(page, demo)
        wire_compare(page, compare, c, full, defaults)
        ui.wire_studies(ui.Studies(studio, s, m, demo), c, s, m)
        ui.wire_sharing(ui.Sharing(page, p), c, p)
        motion = ui.MotionTools(studio, t, demo)
        ui.wire_motion_tools(motion, c, c["sliders"])
        motion_tab.select(motion.costs_page, [t["budget"], *c["numbers"]], [t["target_cost"], t["map_cost"]],
                          api_name=False, queue=False, preprocess=False)
        demo.load(page.open_page, [state, user_presets], [c["image"], *c["numbers"], *page.result_outputs,
                                                           c["message"], *page.view_outputs],
                  api_name=False, **QUIET, **MODEL)
    demo.compare = compare
    return demo


def preload(demo: gr.Blocks) -> None:
    """Load the model now, in this process, so ZeroGPU's workers inherit it and no visitor's GPU time goes
    to loading it, and render the first visit's comparison into the page, so every first visitor sees it
    at once, without a request to the server. Call it before ``launch``. On ZeroGPU the UNet is first
    compiled ahead of time for the page's default renders (ZeroGPU does not run ``torch.compile``)."""
    page = demo.lab_page
    if hosting.on_zerogpu():
        page.studio.compile_ahead_of_time(next(iter(page.examples.values())))
    ui.open_with_showcase(page)


def launch_options(studio: hosting.Studio) -> dict:
    """What ``launch`` needs besides the address: the upload cap, the look, and the output folder served
    wherever it is (Gradio serves files only from the working and temporary folders and the ones allowed)."""
    return {"max_file_size": MAX_UPLOAD, "show_error": True, "allowed_paths": [str(studio.outputs.root)],
            "theme": gr.themes.Soft(), "css": ui.CSS}


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
    demo.launch(server_name=args.host, server_port=args.port, **launch_options(studio))


if __name__ == "__main__":
    main()
