"""The page's controls read as they are typed: every number brought to the nearest value the node
allows (the field, the slider and the message then say the same), and an uploaded image checked the
moment it arrives. Nothing here raises for a visitor's mistake: each correction is one sentence."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from svd_attention_lab.controls import (FIELDS, MULTIPLIER_MAX, MULTIPLIER_MIN, REGIONS, SETTINGS, Multipliers,
                                        Regions, region_param)
from svd_attention_lab.engine import PreviewError, load_image

from ._state import Setup

UPLOAD_NOTE = "Input image refused: {reason}. The image before it is kept."


@dataclasses.dataclass(frozen=True)
class Bound:
    """One number control: what it is called on the page, its range and whether it takes whole numbers."""

    label: str
    low: float
    high: float
    whole: bool = False

    def allowed(self, raw: Any, previous: float) -> tuple[float, str | None]:
        """The value the control should hold, and a sentence when it is not what was typed."""
        if raw is None:  # an emptied field, or one the page did not send: it keeps its value, unsaid
            return previous, None
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            shown = "nothing" if raw == "" else f"{str(raw)[:40]!r}"
            return previous, f"{self.label}: {shown} is not a number; kept {number(previous)}"
        value = float(raw)
        if self.whole and not value.is_integer():
            value = float(round(value))
            if self.low <= value <= self.high:
                return value, f"{self.label} takes whole numbers: {number(raw)} is set to {number(value)}"
        if value > self.high:
            return self.high, (f"{self.label} is at most {number(self.high)}: {number(raw)} is set to "
                               f"{number(self.high)}")
        if value < self.low:
            return self.low, (f"{self.label} is at least {number(self.low)}: {number(raw)} is set to "
                              f"{number(self.low)}")
        return value, None


def number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


MULTIPLIER_BOUNDS = tuple(Bound(f.replace("_", " "), MULTIPLIER_MIN, MULTIPLIER_MAX) for f in FIELDS)
REGION_BOUNDS = tuple(Bound(f"{r} · {f.replace('_', ' ')}", MULTIPLIER_MIN, MULTIPLIER_MAX)
                      for r in REGIONS for f in FIELDS)
SETTING_BOUNDS = tuple(Bound(s.label.split(" (")[0].lower(), s.low, s.high, s.kind is int) for s in SETTINGS)
BOUNDS = (*MULTIPLIER_BOUNDS, *REGION_BOUNDS, *SETTING_BOUNDS)  # the page's number controls, in their order


def previous_values(setup: Setup) -> list[float]:
    """A setup's numbers in the controls' order (the four sliders, the region factors, the settings)."""
    m = setup.multipliers
    return [*(getattr(m, f) for f in FIELDS), *(m.regions.factor(r, f) for r in REGIONS for f in FIELDS),
            *(setup.values.get(s.name, s.default) for s in SETTINGS)]


def read_numbers(raw: Sequence[Any], previous: Setup) -> tuple[list[float], dict[int, float], list[str]]:
    """The controls' values as allowed, the ones that changed (by position) and a sentence for each."""
    values, corrected, notes = [], {}, []
    for i, (bound, typed, before) in enumerate(zip(BOUNDS, raw, previous_values(previous), strict=True)):
        value, note = bound.allowed(typed, before)
        values.append(value)
        if note:
            corrected[i] = value
            notes.append(note)
    return values, corrected, notes


def setup_from(values: Sequence[float], image: str, image_name: str) -> Setup:
    """A Setup from allowed control values (``read_numbers``) and an image's digest and name."""
    four, regions = values[:len(FIELDS)], values[len(FIELDS):len(FIELDS) + len(REGION_BOUNDS)]
    flat = {region_param(r, f): v for (r, f), v in zip(((r, f) for r in REGIONS for f in FIELDS), regions)}
    multipliers = Multipliers(**dict(zip(FIELDS, four)), regions=Regions.from_flat(flat))
    settings = values[len(FIELDS) + len(REGION_BOUNDS):]
    return Setup(image, image_name, multipliers, tuple((s.name, v) for s, v in zip(SETTINGS, settings)))


def typed_settings(values: Mapping[str, float]) -> dict[str, int | float]:
    """Render settings as the settings table types them (whole numbers as ``int``)."""
    kinds = {s.name: s.kind for s in SETTINGS}
    return {k: kinds[k](v) for k, v in values.items()}


def payload_path(payload: Any) -> str | None:
    """The server-side path of an image control's value, preprocessed (a path) or not (Gradio's file
    data, already checked by Gradio to lie in its upload cache)."""
    if isinstance(payload, Mapping):
        payload = payload.get("path")
    return str(payload) if payload else None


def file_digest(path: str | None) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path and Path(path).is_file() else ""


def check_upload(path: str | None) -> str | None:
    """Why an uploaded file cannot be the input image (its format, size or pixels), or None."""
    if not path:
        return None
    try:
        load_image(path)
    except PreviewError as exc:
        return str(exc).removeprefix("cannot read the image: ")
    return None
