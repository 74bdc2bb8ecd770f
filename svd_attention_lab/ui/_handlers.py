"""The app's event handlers: each calls the packages, turns their refusals into one clear message,
and returns what the page shows. No layout here (``app.py`` holds it)."""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import hashlib
import json
import logging
import queue
import re
import threading
from pathlib import Path

import gradio as gr
import pandas as pd

import presets
from svd_attention_lab import engine, hosting, studies
from svd_attention_lab.controls import (
    FIELDS,
    REGION_PARAMS,
    REGIONS,
    Multipliers,
    check_number,
    setting_names,
    with_named_parameters,
)
from patcher import PatchError

from ._widgets import markdown_text, open_with, page_url, toast

logger = logging.getLogger("app")
LINK_SETTINGS = setting_names(presets.PRESET_SETTINGS)  # what presets and share links carry
SHOWCASE = "Temporal self-attention off (diagnostic)"  # the first visit's comparison: a difference anyone sees
PREVIEW_OUTPUTS = 11  # the videos (4), sheet, plot, summary, seed, downloads, the rendered signature, stale note
SWEEP_METRICS = ("patched_temporal_change", "mean_change_vs_baseline", "max_change_vs_baseline",
                 "temporal_change_ratio", "patched_jitter", "patched_flicker")  # what the sweep plot can show


def user_errors(fn):
    """Library errors become one clear message (and one log line); a Stop is news, not an error."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except engine.RenderCancelled as exc:
            gr.Info(str(exc).replace("render cancelled", "Stopped", 1))
            return gr.skip()  # the last good result stays
        except (engine.PreviewError, presets.PresetError, PatchError, ValueError) as exc:
            logger.info("refused %s: %s", fn.__name__, exc)
            raise gr.Error(toast(str(exc)), print_exception=False) from None

    return wrapper


def streaming(fn):
    """``fn``, which returns an iterator, as a generator function with ``fn``'s signature: Gradio streams
    what a generator function yields, and passes its request and progress by that signature."""

    @functools.wraps(fn)
    def generator(*args, **kwargs):
        yield from fn(*args, **kwargs)

    return generator


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def _multiplier_values(multipliers: Multipliers) -> tuple:
    """The four sliders' values, then the twelve region factors', in the inputs' order."""
    return (*multipliers.node_values().values(), *(multipliers.regions.factor(r, f) for r in REGIONS for f in FIELDS))


def _is_skip(value) -> bool:
    """``value == gr.skip()``, for values that may be DataFrames (whose ``==`` compares element-wise)."""
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


def _preset_outputs(preset: presets.Preset) -> tuple:
    """Slider and region values from a preset, plus its settings where it has them (others untouched)."""
    return (*_multiplier_values(preset.multipliers), *(preset.settings.get(n, gr.skip()) for n in LINK_SETTINGS))


def _preview_outputs(outcome: hosting.PreviewOutcome, rendered: str) -> tuple:
    files = outcome.files
    return (str(files.side_by_side), str(files.baseline), str(files.patched), str(files.difference),
            str(files.contact_sheet), frame_plot(files.metrics.records()), outcome.summary,
            outcome.comparison.settings.seed,
            [str(files.metrics_json), str(files.metrics_csv), str(files.side_by_side_webp)], rendered, "")


def _shown_outputs(image, outcome: hosting.PreviewOutcome) -> tuple:
    """A comparison rendered without the page's controls (a showcase or a link's), as preview outputs
    signed with the values it was rendered from, the values the controls are then set to."""
    comparison = outcome.comparison
    values = (*_multiplier_values(comparison.multipliers), *comparison.settings.as_dict().values())
    return _preview_outputs(outcome, _signature(image, values))


def frame_plot(records: list[dict]) -> pd.DataFrame:
    """Per-frame rows for the plot, frames as labels: the axis shows whole frames, never 0.5."""
    return pd.DataFrame(records).astype({"frame": str})


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


def _signature(image, values) -> str:
    """What a render was made from: the image's bytes and every control's value."""
    return json.dumps([_file_digest(image) or "", *(float(v) if isinstance(v, (int, float)) else v for v in values)])


def _file_digest(path) -> str | None:
    """The SHA-256 of an uploaded file, or None where there is none."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path and Path(path).is_file() else None


def preset_choices(user_presets) -> list[str]:
    builtin = presets.builtin_presets()
    return list(builtin) + [n for n in (user_presets or {}) if n not in builtin]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "svd-attention-preset"


class Lab:
    """The app's handlers around one ``hosting.Studio``; ``build_demo`` makes one per app."""

    def __init__(self, studio: hosting.Studio, examples: list[str]) -> None:
        self.studio = studio
        self.examples = {Path(p).stem: p for p in examples}  # share links name an example, never a path
        self._example_hashes = {_file_digest(p): Path(p).stem for p in examples}
        self.demo: gr.Blocks | None = None  # set by build_demo
        self.opens_with_showcase = False  # set by open_with_showcase

    def _gone(self, request: gr.Request | None):
        """True once Gradio has dropped the request's event: its client cancelled it or went away.

        Gradio cancels the event's task but cannot stop the thread running the render; this check,
        polled between the UNet's blocks and at every step, can. (Gradio has no public view of running events.)
        """
        session = getattr(request, "session_hash", None)
        events = getattr(self.demo, "_queue", None)
        if session is None or events is None:
            return None
        return lambda: not any(e.session_hash == session and e.alive for job in events.active_jobs if job for e in job)

    @user_errors
    def _preview(self, image, multipliers, settings, randomize_seed, request, progress, live=None):
        progress(0.0, desc="loading model")
        outcome = self.studio.preview(image, settings, multipliers, _session(request),
                                      lambda f, t: progress(f, desc=t), self._gone(request), randomize_seed, live)
        values = (*_multiplier_values(multipliers), *settings.values())
        return _preview_outputs(outcome, _signature(image, values))

    @user_errors
    @with_named_parameters
    def preview(self, image, multipliers, settings, randomize_seed=False, request: gr.Request = None,
                progress=gr.Progress(track_tqdm=True)):
        """Render baseline and patched videos from the same seed; return the comparison and its numbers."""
        return self._preview(image, multipliers, settings, randomize_seed, request, progress)

    @streaming
    @user_errors
    @with_named_parameters
    def preview_live(self, image, multipliers, settings, randomize_seed=False, auto=True, request: gr.Request = None,
                     progress=gr.Progress(track_tqdm=True)):
        """The page's Preview, and a slider's release where ``auto``-preview is on: ``preview``, also
        showing a strip of the sampling video's denoised estimate after each step (the newest; none queue
        up), captioned "baseline · …" or "patched · …", then the results with the strip hidden."""
        if not auto:
            yield gr.skip()
            return
        strips: queue.SimpleQueue = queue.SimpleQueue()
        ended: dict = {}
        context = contextvars.copy_context()  # the event's progress bar and messages, in the worker

        def render():
            try:
                ended["outputs"] = context.run(self._preview, image, multipliers, settings, randomize_seed, request,
                                               progress, lambda strip, caption: strips.put((strip, caption)))
            except BaseException as exc:  # noqa: BLE001 - raised again in the event below
                ended["error"] = exc
            finally:
                strips.put(None)

        threading.Thread(target=render, name="preview", daemon=True).start()
        waiting = (gr.skip(),) * PREVIEW_OUTPUTS
        while True:
            items = [strips.get()]  # wait for one, then take whatever else came meanwhile
            while not strips.empty():
                items.append(strips.get())
            shown = [item for item in items if item is not None]
            if shown:
                strip, caption = shown[-1]
                yield (*waiting, gr.update(value=strip, label=caption, visible=True))
            if len(shown) < len(items):  # the render ended
                break
        if "error" in ended:
            raise ended["error"]
        outputs = ended["outputs"]
        yield (*(outputs if isinstance(outputs, tuple) else waiting), gr.update(visible=False))

    def estimate(self, *settings_values) -> str:
        """The cost of a Preview at these settings, shown beside the button."""
        try:
            estimate = self.studio.estimate(dict(zip(setting_names(), settings_values)))
        except ValueError:
            return ""
        if estimate is None:
            return ""
        over = self.studio.budget_s is not None and estimate.seconds > self.studio.budget_s
        return f"{estimate.short()} here" + (" · over this Space's limit" if over else "")

    def showcase_outputs(self) -> tuple:
        """The showcase comparison on the first example, for a page without a link (rendered once)."""
        showcase = presets.get_builtin(SHOWCASE)
        image = next(iter(self.examples.values()))
        outcome = self.studio.showcase(image, showcase.multipliers)
        restored = (*_preset_outputs(showcase), markdown_text(f"Showing: {SHOWCASE}, on the first example."))
        return (image, *restored, *_shown_outputs(image, outcome))

    def open_with_showcase(self, components) -> None:
        """Render the showcase now and make it what every page without a link opens with, in the page
        itself: a first visitor sees it without a request, even while the model renders for another."""
        for component, value in zip(components, self.showcase_outputs(), strict=True):
            if not _is_skip(value):
                open_with(component, value)
        self.opens_with_showcase = True

    def open_page(self, request: gr.Request = None):
        """Page load: a share link's values (and its example, rendered), or the showcase comparison
        (already in the page where ``open_with_showcase`` put it there)."""
        params = dict(request.query_params) if request else {}
        example = self.examples.get(params.pop("image", None) or "")
        linked = presets.link_params(params)
        skips = (gr.skip(),) * (1 + len(restored_slots()) + PREVIEW_OUTPUTS)
        if not linked:
            return skips if self.opens_with_showcase else self._refusing_to_fail(self.showcase_outputs, skips)
        restored = self.restore_from_link(params)
        if not example:
            if restored[-1].startswith("Settings restored"):
                restored = (*restored[:-1], restored[-1] + markdown_text(
                    " The image is not part of a link: upload one (or pick an example) and press Preview."))
            return (gr.skip(), *restored, *(gr.skip(),) * PREVIEW_OUTPUTS)

        def linked_outputs():
            preset, _ = presets.from_link(params)
            outcome = self.studio.showcase(example, preset.multipliers,
                                           self.studio.default_settings().replace(**preset.settings))
            return (example, *restored, *_shown_outputs(example, outcome))

        return self._refusing_to_fail(linked_outputs, (gr.skip(), *restored, *(gr.skip(),) * PREVIEW_OUTPUTS))

    @staticmethod
    def _refusing_to_fail(render, restored: tuple) -> tuple:
        """A page load's comparison, or, where it cannot be rendered, what the link set and why not."""
        try:
            return render()
        except (engine.PreviewError, presets.PresetError, ValueError) as exc:
            return (*restored[:len(restored_slots())], markdown_text(f"Could not render the comparison: {exc}"),
                    *(gr.skip(),) * PREVIEW_OUTPUTS)

    @staticmethod
    def restore_from_link(request_or_params):
        """A share link's query string as values for the sliders and settings, and a line saying what it set."""
        params = getattr(request_or_params, "query_params", request_or_params) or {}
        try:
            preset, warnings = presets.from_link({k: v for k, v in params.items() if k != "image"})
        except ValueError as exc:
            gr.Warning(toast(f"Share link not applied: {exc}"))
            return (gr.skip(),) * (len(restored_slots()) - 1) + (markdown_text(f"Share link not applied: {exc}"),)
        if preset is None:
            return (gr.skip(),) * (len(restored_slots()) - 1) + ("",)
        for warning in warnings:
            gr.Warning(toast(warning))
        return (*_preset_outputs(preset), markdown_text(" ".join(["Settings restored from the link.", *warnings])))

    def cancel(self, request: gr.Request = None):
        if not self.studio.cancel(_session(request)):
            gr.Info("Nothing is rendering")

    @staticmethod
    def stale(rendered: str, image, *values) -> str:
        if not rendered or _signature(image, values) == rendered:
            return ""
        return "⚠ The controls differ from what is shown: press **Preview** to render them."

    @user_errors
    @with_named_parameters
    def sweep(self, image, field, values, multipliers, settings, seeds=1, metric="patched_temporal_change",
              request: gr.Request = None, progress=gr.Progress(track_tqdm=True)):
        """Render one multiplier over a list of values, for one or more seeds: a grid video, one metric
        against the value (mean and spread over the seeds), every metric's table, and whether each
        change exceeds seed noise."""
        field, numbers = studies.parse_sweep(f"{field}={values}")
        seeds = int(check_number("seeds", seeds, int, 1, studies.MAX_SWEEP_SEEDS))
        outcome = self.studio.sweep(image, settings, field, numbers, multipliers, _session(request),
                                    lambda f, t: progress(f, desc=t), self._gone(request), seeds=seeds)
        verdicts = "\n".join(f"- {line}" for line in outcome.verdicts) or "One seed: no seed-to-seed spread measured."
        table = pd.DataFrame(outcome.rows).round(3)
        return outcome.video, sweep_plot(table, metric), table, verdicts

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
        return (*_preset_outputs(preset), markdown_text(preset.description or preset.name))

    def quietly(self, handler):
        """``handler`` for a page upload: a refusal becomes one warning and a line in the notice, leaving no
        error badge on the inputs it would have set. (The API endpoint keeps the plain error.)"""

        def run(path):
            try:
                return handler(path)
            except gr.Error as exc:
                gr.Warning(exc.message)
                return (gr.skip(),) * (len(restored_slots()) - 1) + (exc.message,)

        return run

    @user_errors
    def load_preset(self, path):
        preset = presets.Preset.from_file(_chosen(path, "a preset .json file"))
        gr.Info(toast(f"Loaded preset {preset.name!r}"))
        return (*_preset_outputs(preset), markdown_text(f"Loaded preset {preset.name!r}"))

    @user_errors
    def import_comfyui(self, path):
        found = presets.from_file(_chosen(path, "a ComfyUI workflow (.json, .png, .webp)"))
        settings, scaled = self.studio.fit_import(found.settings)
        message = found.message + (f". Scaled to what this model renders: {', '.join(scaled)}" if scaled else "")
        gr.Info(toast(message))
        preset = dataclasses.replace(found.to_preset(), settings=settings)
        return (*_preset_outputs(preset), markdown_text(message))

    @user_errors
    @with_named_parameters
    def save_preset(self, name, description, include_settings, multipliers, settings, user_presets=None):
        preset = presets.Preset.from_controls(name, description, multipliers, settings, include_settings)
        user_presets = {**(user_presets or {}), preset.name: preset.to_dict()}
        return (str(self.studio.write(f"{_slug(preset.name)}.json", preset.to_json())), user_presets,
                gr.update(choices=preset_choices(user_presets), value=preset.name))

    @user_errors
    @with_named_parameters
    def export_comfyui(self, multipliers, settings):
        for note in presets.export_notes(multipliers, settings["start"], settings["end"]):
            gr.Info(toast(note))
        workflow = presets.to_ui_workflow(multipliers, start=settings["start"], end=settings["end"])
        name = ("svd-attention-lab.json" if presets.uses_lab_node(multipliers, settings["start"], settings["end"])
                else "unet-temporal-attention-multiply.json")
        return (json.dumps(presets.to_api_prompt(multipliers, settings), indent=2),
                str(self.studio.write(name, json.dumps(workflow, indent=2))))

    @user_errors
    @with_named_parameters
    def share_link(self, image=None, multipliers=None, settings=None, include_settings=False,
                   request: gr.Request = None):
        preset = presets.Preset.from_controls("Shared link", "", multipliers, settings, include_settings)
        url = presets.to_url(preset, page_url(request))
        example = self._example_hashes.get(_file_digest(image))
        if example:  # an example travels by name; an uploaded image never travels
            return url + ("&" if "?" in url else "?") + f"image={example}"
        gr.Info("The link holds the settings, not your uploaded image: whoever opens it uploads their own.")
        return url


def _chosen(path: str | None, what: str) -> str:
    if not path:
        raise presets.PresetError(f"choose {what}")
    return path


def restored_slots() -> list[str]:
    """The values a preset or share link sets, then the line that says what happened."""
    return [*FIELDS, *REGION_PARAMS, *LINK_SETTINGS, "notice"]
