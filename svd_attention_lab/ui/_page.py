"""The Compare tab's handlers other than Preview: the display state and the lines derived from it, the
controls read as they change, an upload checked on arrival, Reset, the preset picker, Stop and the
page's opening. Each returns a dict keyed by component (Gradio's documented form): it names what it updates."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

import presets
from svd_attention_lab.controls import FIELDS, REGIONS, SETTINGS, Multipliers

from ._gradio import markdown_text, session
from ._motion_tab import wipe_for
from ._inputs import (BOUNDS, UPLOAD_NOTE, check_upload, file_digest, payload_path, previous_values, read_numbers,
                      setup_from)
from ._opening import opening
from ._state import CUSTOM, Display, Setup, matching_preset
from ._words import cost_line

logger = logging.getLogger("app")
MULTIPLIER_CONTROLS = len(FIELDS) * (1 + len(REGIONS))  # the sliders and region factors lead the number controls


def frame_plot(records: list[dict]) -> pd.DataFrame:
    """Per-frame rows for the plot, frames as labels: the axis shows whole frames, never 0.5."""
    return pd.DataFrame(records).astype({"frame": str})


def preset_choices(user_presets) -> list[str]:
    builtin = presets.builtin_presets()
    return [CUSTOM, *builtin, *(n for n in (user_presets or {}) if n not in builtin)]


class Page:
    """The page around one Studio: its components (``bind``), its display state and the handlers that
    keep it. ``app.build_demo`` makes one per app."""

    def __init__(self, studio, examples: list[str]) -> None:
        self.studio = studio
        self.examples = {Path(p).stem: p for p in examples}  # share links name an example, never a path
        self._example_names = {file_digest(p): Path(p).stem for p in examples}
        self.c: dict[str, Any] = {}
        self.opens_with_showcase = False  # set by ui.open_with_showcase
        self.seed_index = MULTIPLIER_CONTROLS + [s.name for s in SETTINGS].index("seed")

    def bind(self, components: dict[str, Any]) -> None:
        """The Compare tab's components by name; ``numbers``: the sliders, region factors and settings, in
        ``ui.BOUNDS``'s order."""
        if len(components["numbers"]) != len(BOUNDS):
            raise RuntimeError("the page's number controls and ui.BOUNDS disagree")
        self.c = components

    def initial(self) -> Display:
        """Before anything is rendered: the default controls, no image."""
        values = [*(1.0,) * MULTIPLIER_CONTROLS, *(getattr(self.studio.default_settings(), s.name) for s in SETTINGS)]
        return Display(controls=setup_from(values, "", ""), model=self.model())

    # --- the display state and what is derived from it ------------------------------------------------

    @property
    def view_outputs(self) -> list:
        c = self.c
        return [c["state"], c["state_json"], c["showing"], c["stale"], c["picker"], c["cost"], c["badge"]]

    def presets(self, user_presets=None) -> dict:
        found = dict(presets.builtin_presets())
        for name, doc in (user_presets or {}).items():
            try:
                found.setdefault(name, presets.Preset.from_dict(doc))
            except (ValueError, TypeError):  # a saved preset this version no longer reads: not in the picker
                continue
        return found

    def model(self) -> str:
        """The loaded model's description, "" until it is loaded."""
        model = self.studio.model.loaded
        return model.describe() if model is not None else ""

    def view(self, display: Display, user_presets=None) -> dict:
        """The display state, and every line the page says about itself, derived from it."""
        display = display.replace(model=self.model())
        known, c = self.presets(user_presets), self.c
        return {c["state"]: display, c["state_json"]: json.dumps(display.to_json(known)),
                c["showing"]: markdown_text(display.showing(known)), c["stale"]: display.stale_note(),
                c["picker"]: matching_preset(display.controls, known),
                c["cost"]: cost_line(self.studio, display.controls.values), c["badge"]: self.studio.badge()}

    def image_setup(self, path: str | None) -> tuple[str, str]:
        """An image's digest and what the page calls it (an example's name, or "your image")."""
        digest = file_digest(path)
        return digest, (self._example_names.get(digest) or ("your image" if digest else ""))

    def setup(self, image_path: str | None, values) -> Setup:
        digest, name = self.image_setup(image_path)
        return setup_from(values, digest, name).replace(path=image_path or "")

    def set_numbers(self, setup: Setup, only=None) -> dict:
        """The number controls set to a setup's values (all, or the positions in ``only``)."""
        return {self.c["numbers"][i]: v for i, v in enumerate(previous_values(setup)) if only is None or i in only}

    # --- handlers --------------------------------------------------------------------------------------

    def sync(self, display: Display, user_presets, image, *numbers) -> dict:
        """A control changed: read them all, numbers brought into range and a new image checked (a refused
        one replaced by the one before it), each correction said once. The one handler of every control's
        change, so no second event can read the state before this one has written it."""
        values, corrected, notes = read_numbers(numbers, display.controls)
        if corrected:
            logger.info("corrected: %s", "; ".join(notes))
        path, out = payload_path(image), {}
        reason = check_upload(path) if path and path != display.controls.path else None
        if reason is not None:
            logger.info("refused upload: %s", reason)
            # the controls' image, else the shown result's (Gradio empties the box as an upload starts)
            path = display.controls.path or (display.shown.path if display.shown else "") or None
            out[self.c["image"]] = path
            notes.insert(0, UPLOAD_NOTE.format(reason=reason))
        controls = self.setup(path, values)
        out |= self.view(display.replace(controls=controls), user_presets)
        if reason is None and controls.image != display.controls.image:
            out[self.c["message"]] = ""  # a new image: what was said about the last one is past
        out |= {self.c["numbers"][i]: v for i, v in corrected.items()}
        if notes:
            out[self.c["message"]] = markdown_text(" · ".join(notes))
        return out

    def reset(self, display: Display, user_presets) -> dict:
        """Every multiplier and region factor back to 1 (the settings stay)."""
        controls = display.controls.replace(multipliers=Multipliers())
        return {**self.set_numbers(controls, range(MULTIPLIER_CONTROLS)),
                **self.view(display.replace(controls=controls), user_presets), self.c["message"]: ""}

    def apply_preset(self, display: Display, user_presets, name: str) -> dict:
        known = self.presets(user_presets)
        if name not in known:  # "Custom": nothing to apply
            return self.view(display, user_presets)
        return self.restore(display, user_presets, known[name], markdown_text(known[name].description or name))

    def restore(self, display: Display, user_presets, preset, message: str) -> dict:
        """The controls set to a preset's multipliers and the settings it carries (others untouched)."""
        controls = with_preset(display.controls, preset)
        carried = [MULTIPLIER_CONTROLS + i for i, s in enumerate(SETTINGS) if s.name in preset.settings]
        return {**self.set_numbers(controls, [*range(MULTIPLIER_CONTROLS), *carried]),
                **self.view(display.replace(controls=controls), user_presets), self.c["message"]: message}

    def stop(self, request: gr.Request) -> dict:
        if self.studio.cancel(session(request)):
            return {self.c["message"]: "Stopping…"}
        return {self.c["message"]: "Nothing to stop: no render of yours is running or waiting."}

    def open_page(self, request: gr.Request, display: Display, user_presets) -> dict:
        """Page load: a share link's values (and its example, rendered), else the showcase (already in the
        page where ``open_with_showcase`` put it). A link with a bad value keeps the showcase and says why."""
        out = opening(self, display, user_presets, dict(request.query_params) if request is not None else {})
        out[self.c["picker"]] = gr.update(choices=preset_choices(user_presets), value=out[self.c["picker"]])
        return out

    def results(self, outcome) -> dict:
        """A comparison's files and numbers, for the result components."""
        files, c = outcome.files, self.c
        return {c["videos"][0]: str(files.side_by_side), c["videos"][1]: str(files.baseline),
                c["videos"][2]: str(files.patched), c["videos"][3]: str(files.difference),
                c["sheet"]: str(files.contact_sheet), c["plot"]: frame_plot(files.metrics.records()),
                c["summary"]: outcome.summary, c["seed_used"]: outcome.comparison.settings.seed,
                c["downloads"]: [str(files.metrics_json), str(files.metrics_csv), str(files.side_by_side_webp)],
                **({c["wipe"]: wipe_for(outcome.comparison)} if "wipe" in c else {})}

    @property
    def result_outputs(self) -> list:
        c = self.c
        return [*c["videos"], c["sheet"], c["plot"], c["summary"], c["seed_used"], c["downloads"],
                *([c["wipe"]] if "wipe" in c else [])]


def with_preset(controls: Setup, preset) -> Setup:
    """``controls`` with a preset's multipliers and the settings it carries."""
    values = {**controls.values, **{k: float(v) for k, v in preset.settings.items()}}
    return controls.replace(multipliers=preset.multipliers, settings=tuple(values.items()))
