"""The Sweep and Motion meter tabs: one multiplier over several values, and which motion bucket a setting
moves like. On the page a refusal is the tab's one message (the result before it stays); the API's
endpoints raise it."""

from __future__ import annotations

import logging

import gradio as gr
import pandas as pd

from svd_attention_lab.controls import check_number, with_named_parameters
from svd_attention_lab.studies import MAX_SWEEP_SEEDS, MAX_SWEEP_VALUES, METER_BUCKETS, SWEEPABLE, parse_sweep

from ._gradio import gone, session
from ._inputs import payload_path
from ._words import api_refusals, on_page

logger = logging.getLogger("app")
SWEEP_METRICS = ("patched_flow_motion", "flow_motion_ratio", "patched_warp_error", "patched_temporal_change",
                 "mean_change_vs_baseline", "max_change_vs_baseline", "temporal_change_ratio", "patched_jitter",
                 "patched_flicker")  # what the sweep plot can show


def sweep_plot(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One metric of a sweep's table against the swept value: its mean over the seeds and, where there
    were several, one standard deviation either side. (From the table, so choosing another renders nothing.)"""
    if metric not in SWEEP_METRICS:
        raise ValueError(f"metric must be one of {', '.join(SWEEP_METRICS)}, got {metric!r}")
    if table is None or metric not in table:
        return pd.DataFrame({"swept value": [], "series": [], "value": []})
    swept, mean = table[table.columns[0]], table[metric].astype(float)
    lines = {"mean": mean}  # the same series for every metric: the chosen metric is named beside the plot
    if f"{metric}_sd" in table:
        sd = table[f"{metric}_sd"].astype(float)
        lines |= {"mean + 1 sd (seeds)": mean + sd, "mean − 1 sd (seeds)": mean - sd}
    return pd.concat([pd.DataFrame({"swept value": swept, "series": name, "value": v}) for name, v in lines.items()],
                     ignore_index=True)


class Studies:
    def __init__(self, studio, sweep_tab: dict, meter_tab: dict, demo: gr.Blocks | None = None) -> None:
        self.studio, self.s, self.m, self.demo = studio, sweep_tab, meter_tab, demo

    def _sweep(self, image, field, values, multipliers, settings, seeds, metric, request, progress):
        field, numbers = parse_sweep(f"{field}={values}")
        seeds = int(check_number("seeds", seeds, int, 1, MAX_SWEEP_SEEDS))
        outcome = self.studio.sweep(payload_path(image), settings, field, numbers, multipliers, session(request),
                                    lambda f, t: progress(f, desc=t), gone(self.demo, request), seeds=seeds)
        verdicts = "\n".join(f"- {line}" for line in outcome.verdicts) or "One seed: no seed-to-seed spread measured."
        table = pd.DataFrame(outcome.rows).round(3)
        renders = seeds * (len(numbers) + 1)
        return {self.s["video"]: outcome.video, self.s["plot"]: sweep_plot(table, metric), self.s["table"]: table,
                self.s["verdict"]: f"{renders} renders ({len(numbers)} values and the baseline, × {seeds} "
                                   f"seed{'s' if seeds != 1 else ''}).\n\n{verdicts}"}

    @with_named_parameters
    def sweep(self, image, field, values, multipliers, settings, seeds=1, metric="patched_temporal_change",
              request: gr.Request = None, progress=gr.Progress()):
        """Render one multiplier over a list of values, for one or more seeds: a grid video, one metric
        against the value (mean and spread over the seeds), every metric's table, and whether each
        change exceeds seed noise."""
        return self._sweep(image, field, values, multipliers, settings, seeds, metric, request, progress)

    def sweep_page(self, request: gr.Request, progress=gr.Progress(), *args):
        """The tab's Run sweep: ``sweep``, a refusal the tab's one message (the sweep before it stays)."""
        return on_page(self.sweep, self.s["verdict"], *args, request=request, progress=progress)

    def _meter(self, image, multipliers, settings, request, progress):
        reading = self.studio.motion_meter(payload_path(image), settings, multipliers, session(request),
                                           lambda f, t: progress(f, desc=t), gone(self.demo, request))
        return {self.m["reading"]: reading.sentence(), self.m["plot"]: pd.DataFrame(reading.rows())}

    @with_named_parameters
    def motion_meter(self, image, multipliers, settings, request: gr.Request = None, progress=gr.Progress()):
        """Which motion bucket the patched video moves like, and the baseline's motion at each bucket."""
        return self._meter(image, multipliers, settings, request, progress)

    def motion_meter_page(self, request: gr.Request, progress=gr.Progress(), *args):
        """The tab's Measure motion: ``motion_meter``, a refusal the tab's one message."""
        return on_page(self.motion_meter, self.m["reading"], *args, request=request, progress=progress)


def build_sweep(studio) -> dict:
    s: dict = {}
    gr.Markdown("One multiplier over several values, on the Compare tab's image, sliders and settings: "
                "one tile per value, captioned.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            s["field"] = gr.Dropdown(list(SWEEPABLE), value="self_temporal",
                                     label="Multiplier (or the schedule's end / start)")
            s["values"] = gr.Textbox("0, 0.5, 1, 1.5, 2", label=f"Values (up to {MAX_SWEEP_VALUES})")
            s["seeds"] = gr.Number(studio.default_sweep_seeds(), label="Seeds (from the seed setting on)",
                                   minimum=1, maximum=MAX_SWEEP_SEEDS, step=1)
            s["run"] = gr.Button("Run sweep", variant="primary", elem_id="sweep-button")
            s["verdict"] = gr.Markdown(elem_id="sweep-verdict")
        with gr.Column(scale=3, min_width=300):
            s["video"] = gr.Video(autoplay=True, loop=True, show_label=False, buttons=[], elem_id="sweep-video",
                                  elem_classes=["pixel-video"])  # no label chip over the first tile's caption
            s["metric"] = gr.Dropdown(list(SWEEP_METRICS), value="patched_temporal_change", label="Plotted metric",
                                      elem_id="sweep-metric")
            s["plot"] = gr.LinePlot(x="swept value", y="value", color="series", height=240,
                                    title="The metric against the value (8-bit levels)", elem_id="sweep-plot")
            s["table"] = gr.Dataframe(label="Summary per value (means over the seeds; _sd: spread)",
                                      elem_id="sweep-table",
                                      interactive=False, value=pd.DataFrame(columns=["value", *SWEEP_METRICS]))
    return s


def build_meter() -> dict:
    gr.Markdown("Which `motion_bucket_id` does this setting move like? Renders the baseline at buckets "
                f"{', '.join(map(str, METER_BUCKETS))} (cached like any baseline), measures each one's "
                "motion, and places the patched video's motion on that curve.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            run = gr.Button("Measure motion", variant="primary", elem_id="meter-button")
            reading = gr.Markdown(elem_id="meter-reading")
        with gr.Column(scale=3, min_width=300):
            plot = gr.LinePlot(x="motion bucket", y="motion", color="series", height=240, elem_id="meter-plot",
                               title="Motion (optical flow, px per frame at a 256-px short side)")
    return {"run": run, "reading": reading, "plot": plot}


def wire_studies(studies: Studies, c: dict, s: dict, m: dict) -> None:
    controls = [c["image"], *c["numbers"]]
    model = {"concurrency_id": "model", "concurrency_limit": 16}
    s["run"].click(studies.sweep_page, [c["image"], s["field"], s["values"], *c["numbers"], s["seeds"], s["metric"]],
                   [s["video"], s["plot"], s["table"], s["verdict"]], api_name=False, show_progress_on=s["video"],
                   preprocess=False, **model)  # the handler checks every input: a refusal is the tab's message
    api_only = gr.Button(visible=False)  # the API's twins: refusals raised
    api_only.click(api_refusals(studies.sweep),
                   [c["image"], s["field"], s["values"], *c["numbers"], s["seeds"], s["metric"]],
                   [s["video"], s["plot"], s["table"], s["verdict"]], api_name="sweep", **model)
    s["metric"].change(sweep_plot, [s["table"], s["metric"]], s["plot"], api_name=False, queue=False)
    m["run"].click(studies.motion_meter_page, controls, [m["reading"], m["plot"]], api_name=False,
                   show_progress_on=m["plot"], preprocess=False, **model)
    api_only.click(api_refusals(studies.motion_meter), controls, [m["reading"], m["plot"]], api_name="motion_meter",
                   **model)
