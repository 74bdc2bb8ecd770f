"""What the page shows and what its controls hold: one record, from which every line the page says
about itself is derived (the "Showing" line, the stale note, the preset picker, the badge). Handlers
replace the record; none of them sets one of those lines on its own, so none can leave one stale."""

from __future__ import annotations

import dataclasses
from typing import Mapping

from svd_attention_lab.controls import FIELDS, Multipliers

CUSTOM = "Custom"  # the preset picker's entry when the controls match no preset


@dataclasses.dataclass(frozen=True)
class Setup:
    """Everything a render is made from: the image (by its bytes' digest), the multipliers and region
    factors, and the render settings."""

    image: str = ""  # SHA-256 of the image's bytes; "" where there is none
    image_name: str = ""  # an example's name, "your image", or ""
    multipliers: Multipliers = Multipliers()
    settings: tuple[tuple[str, float], ...] = ()  # (name, value) in the settings table's order
    path: str = dataclasses.field(default="", compare=False)  # where the image is on the server (never shown)

    def __post_init__(self) -> None:
        if not isinstance(self.multipliers, Multipliers):
            raise ValueError(f"multipliers must be a Multipliers, got {type(self.multipliers).__name__}")
        object.__setattr__(self, "settings", tuple((str(k), float(v)) for k, v in dict(self.settings).items()))

    @property
    def values(self) -> dict[str, float]:
        return dict(self.settings)

    def replace(self, **changes) -> Setup:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict:
        m = self.multipliers
        return {"image": self.image, "image_name": self.image_name,
                "multipliers": {f: getattr(m, f) for f in FIELDS}, "regions": m.regions.flat(),
                "settings": self.values}


def matching_preset(setup: Setup, presets: Mapping) -> str:
    """The name of the first preset the setup matches (its multipliers, and the settings it carries),
    else ``CUSTOM``."""
    values = setup.values
    for name, preset in presets.items():
        if preset.multipliers == setup.multipliers and all(
                float(v) == values.get(k, float(v)) for k, v in preset.settings.items()):
            return name
    return CUSTOM


@dataclasses.dataclass(frozen=True)
class Display:
    """What the results on screen were rendered from (``shown``; None before any) and what the controls
    hold now (``controls``), and the loaded model's description ("" while it is not loaded)."""

    controls: Setup
    shown: Setup | None = None
    model: str = ""

    def replace(self, **changes) -> Display:
        return dataclasses.replace(self, **changes)

    @property
    def stale(self) -> bool:
        return self.shown is not None and self.shown != self.controls

    def showing(self, presets: Mapping) -> str:
        if self.shown is None:
            return ""
        name = matching_preset(self.shown, presets)
        what = "a custom setting" if name == CUSTOM else name
        image = self.shown.image_name or "your image"
        return f"Showing: {what}, on {image}."

    def stale_note(self) -> str:
        return "⚠ The controls differ from what is shown: press **Preview** to render them." if self.stale else ""

    def to_json(self, presets: Mapping) -> dict:
        return {"controls": self.controls.to_json(), "shown": self.shown.to_json() if self.shown else None,
                "model": self.model, "stale": self.stale, "preset": matching_preset(self.controls, presets),
                "showing": self.showing(presets)}
