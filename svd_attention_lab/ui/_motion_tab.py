"""Motion tools beside the Compare tab: a motion target ("Motion ×0.6 of the baseline", solved for one
knob by renders, each shown as a point), the knob map (which knob moves what on this image, its cost
said before it starts), and the wipe comparison of the last comparison. On the page a refusal is the
tool's one message; the API's endpoints raise it.

``build_motion_tools(studio)`` adds the components to the current ``gr.Blocks`` / ``gr.Tab`` and returns
them; ``wire_motion_tools(tools, c, sliders)`` wires them to the Compare tab's inputs (``c["image"]``,
``c["numbers"]``: the inputs ``with_named_parameters`` reads) and to its four multiplier sliders, which
"Use this setting" sets to the setting found.
"""

from __future__ import annotations

import logging

import gradio as gr
import pandas as pd

from svd_attention_lab.controls import FIELDS, with_named_parameters
from svd_attention_lab.hosting import knob_map_plan, run_knob_map, run_motion_target, target_cost
from svd_attention_lab.studies import DEFAULT_BUDGET, DEFAULT_KNOB, MAX_BUDGET, MotionTarget

from ._gradio import gone, session
from ._inputs import payload_path
from ._wipe import wipe_player, wipe_value
from ._words import api_refusals, on_page

logger = logging.getLogger("app")

__all__ = ["MotionTools", "build_motion_tools", "wipe_for", "wire_motion_tools"]


class MotionTools:
    def __init__(self, studio, tab: dict, demo: gr.Blocks | None = None) -> None:
        self.studio, self.t, self.demo = studio, tab, demo

    @with_named_parameters
    def motion_target(self, image, target_ratio, knob, budget, multipliers, settings, request: gr.Request = None,
                      progress=gr.Progress()):
        """Find the value of ``knob`` (the other multipliers as given) whose optical-flow motion is
        ``target_ratio`` × the baseline's: every render a point, the closest setting kept."""
        target = MotionTarget(float(target_ratio), knob or DEFAULT_KNOB, budget=int(budget))
        result = run_motion_target(self.studio, payload_path(image), settings, multipliers, target, session(request),
                                   lambda f, t: progress(f, desc=t), gone(self.demo, request))
        found = result.multipliers
        return {self.t["target_result"]: result.sentence(), self.t["target_plot"]: pd.DataFrame(result.rows()),
                self.t["found"]: [getattr(found, f) for f in FIELDS]}

    def motion_target_page(self, request: gr.Request, progress=gr.Progress(), *args):
        return on_page(self.motion_target, self.t["target_result"], *args, request=request, progress=progress)

    @with_named_parameters
    def knob_map(self, image, multipliers, settings, request: gr.Request = None, progress=gr.Progress()):
        """Sweep each of the four multipliers over a few values (the others at 1, whatever the sliders say)
        on this image: motion and warping error per knob, as multiples of the baseline's."""
        result = run_knob_map(self.studio, payload_path(image), settings, session(request),
                              lambda f, t: progress(f, desc=t), gone(self.demo, request))
        return {self.t["map_note"]: result.sentence(), self.t["map_plot"]: pd.DataFrame(result.rows())}

    def knob_map_page(self, request: gr.Request, progress=gr.Progress(), *args):
        return on_page(self.knob_map, self.t["map_note"], *args, request=request, progress=progress)

    @with_named_parameters
    def costs(self, budget, multipliers, settings):
        """What the target and the knob map will cost, before either starts (known once the model is loaded)."""
        values, cost = knob_map_plan(self.studio, settings)
        target = target_cost(self.studio, settings, MotionTarget(1.0, budget=int(budget)))
        over = "" if cost.fits else " It does not fit this host's budget: lower the size, frames or steps."
        return {self.t["target_cost"]: target.note("The search"),
                self.t["map_cost"]: cost.note(f"The knob map sweeps the four knobs over "
                                              f"{', '.join(f'{v:g}' for v in values)}") + over}

    def costs_page(self, *args) -> dict:
        return on_page(self.costs, self.t["target_cost"], *args)


def wipe_for(comparison) -> str:
    """The wipe player's value for a comparison (``PreviewOutcome.comparison``)."""
    return wipe_value(comparison.baseline, comparison.patched, comparison.settings.fps)


def build_motion_tools(studio) -> dict:
    t: dict = {}
    gr.Markdown("Motion is measured as optical flow (OpenCV's DIS flow: pixels per frame at a 256-pixel short "
                "side); see docs/motion.md for what each measure means.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            t["target_ratio"] = gr.Number(0.6, label="Motion: × of the baseline", minimum=0.01, maximum=10, step=0.05,
                                          elem_id="target-ratio")
            t["knob"] = gr.Dropdown(list(FIELDS), value=DEFAULT_KNOB, label="Knob to move", elem_id="target-knob")
            t["budget"] = gr.Number(DEFAULT_BUDGET, label="Renders at most", minimum=1, maximum=MAX_BUDGET, step=1,
                                    precision=0, elem_id="target-budget")
            t["target_cost"] = gr.Markdown(elem_id="target-cost")
            t["target_run"] = gr.Button("Find the setting", variant="primary", elem_id="target-button")
            t["target_result"] = gr.Markdown(elem_id="target-result")
            t["use"] = gr.Button("Use this setting", elem_id="target-use")
            t["found"] = gr.State([1.0] * len(FIELDS))
        with gr.Column(scale=3, min_width=300):
            t["target_plot"] = gr.ScatterPlot(x="value", y="motion ×", color="series", height=240,
                                              title="Each render: the knob's value → motion (× baseline)",
                                              elem_id="target-plot")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            t["map_cost"] = gr.Markdown(elem_id="map-cost")
            t["map_run"] = gr.Button("Map the knobs", elem_id="map-button")
            t["map_note"] = gr.Markdown(elem_id="map-note")
        with gr.Column(scale=3, min_width=300):
            t["map_plot"] = gr.LinePlot(x="value", y="× baseline", color="series", height=280, elem_id="map-plot",
                                        title="Motion and warping error per knob (× the baseline's)")
    t["wipe"] = wipe_player(elem_id="wipe-player", label="Wipe: baseline | patched")
    return t


def wire_motion_tools(tools: MotionTools, c: dict, sliders: list) -> None:
    """Wire the tools to the Compare tab's image and inputs, and "Use this setting" to its four sliders
    (``sliders``: the components of ``FIELDS``, in that order)."""
    t = tools.t
    model = {"concurrency_id": "model", "concurrency_limit": 16}
    target_inputs = [c["image"], t["target_ratio"], t["knob"], t["budget"], *c["numbers"]]
    target_outputs = [t["target_result"], t["target_plot"], t["found"]]
    t["target_run"].click(tools.motion_target_page, target_inputs, target_outputs, api_name=False,
                          show_progress_on=t["target_plot"], preprocess=False, **model)
    map_inputs, map_outputs = [c["image"], *c["numbers"]], [t["map_note"], t["map_plot"]]
    t["map_run"].click(tools.knob_map_page, map_inputs, map_outputs, api_name=False,
                       show_progress_on=t["map_plot"], preprocess=False, **model)
    cost_inputs, cost_outputs = [t["budget"], *c["numbers"]], [t["target_cost"], t["map_cost"]]
    t["budget"].change(tools.costs_page, cost_inputs, cost_outputs, api_name=False, queue=False, preprocess=False)
    t["target_run"].click(tools.costs_page, cost_inputs, cost_outputs, api_name=False, queue=False,
                          preprocess=False)  # the model is loaded by now or soon: say the cost it will take
    api_only = gr.Button(visible=False)
    api_only.click(api_refusals(tools.motion_target), target_inputs, target_outputs, api_name="motion_target", **model)
    api_only.click(api_refusals(tools.knob_map), map_inputs, map_outputs, api_name="knob_map", **model)
    t["use"].click(lambda found: list(found), t["found"], sliders, api_name=False, queue=False)
