"""The app's whole setting, as the node reads it: four multipliers, a step schedule, twelve region factors.

Plain Python (no torch, no ComfyUI), so it can be read and tested on its own. It reads the app's
preset JSON (``"format": "svd-attention-preset"``, versions 1 to 3) and its share links
(``…?self_temporal=0.8&up.self_temporal=0.5&start=0.3``); settings other than these (seed, frames,
...) belong to other ComfyUI nodes and are not read here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import urllib.parse
from typing import Any, Mapping

FIELDS = ("self_structural", "self_temporal", "cross_structural", "cross_temporal")
REGIONS = ("down", "mid", "up")  # the UNet's input blocks, middle block, output blocks
LOW, HIGH = 0.0, 10.0  # the bounds of UNetTemporalAttentionMultiply's inputs
PRESET_FORMAT = "svd-attention-preset"
MAX_TEXT_CHARS = 64 * 1024

# What else the app's share links carry (render settings, read by other nodes, and a name).
_LINK_SETTINGS = ("start", "end", "seed", "steps", "frames", "width", "height", "fps", "motion_bucket_id",
                  "noise_aug_strength", "min_guidance", "max_guidance", "name")
_REGION_PREFIXES = {"input_blocks.": "down", "middle_block.": "mid", "output_blocks.": "up"}


def region_input(region: str, field: str) -> str:
    """The node's input for one region factor: ``up_self_temporal``."""
    return f"{region}_{field}"


REGION_INPUTS = tuple(region_input(r, f) for r in REGIONS for f in FIELDS)


def _number(name: str, value: Any, low: float = LOW, high: float = HIGH) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    return number


@dataclasses.dataclass(frozen=True)
class Setting:
    multipliers: Mapping[str, float]  # field -> global value
    start: float = 0.0  # the multipliers act in step i of n when start <= i / n < end
    end: float = 1.0
    factors: Mapping[tuple[str, str], float] = dataclasses.field(default_factory=dict)  # (region, field) -> factor

    def __post_init__(self) -> None:
        object.__setattr__(self, "multipliers", {f: _number(f, self.multipliers.get(f, 1.0)) for f in FIELDS})
        factors = {}
        for (region, field), value in self.factors.items():
            if region not in REGIONS or field not in FIELDS:
                raise ValueError(f"unknown region factor {region}.{field}")
            factor = _number(f"{region}.{field}", value)
            if factor != 1.0:
                factors[(region, field)] = factor
        object.__setattr__(self, "factors", factors)
        object.__setattr__(self, "start", _number("start_percent", self.start, 0.0, 1.0))
        object.__setattr__(self, "end", _number("end_percent", self.end, 0.0, 1.0))
        if self.start >= self.end:
            raise ValueError(f"start_percent ({self.start:g}) must be below end_percent ({self.end:g})")

    @property
    def every_step(self) -> bool:
        return self.start == 0.0 and self.end == 1.0

    def value(self, field: str, region: str | None) -> float:
        """The scale in force for a tensor of ``field`` in ``region``: the global value times the
        region's factor (exactly the global value where the factor is 1), as the app computes it."""
        value = self.multipliers[field]
        factor = self.factors.get((region, field), 1.0)
        return value if factor == 1.0 else value * factor

    def steps(self, total: int) -> range:
        """The steps (0-based) the multipliers act in, of ``total``: the app's rule."""
        return range(math.ceil(round(self.start * total, 9)), math.ceil(round(self.end * total, 9)))

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, Any]) -> Setting:
        """The node's inputs: the four fields, ``start_percent`` / ``end_percent``, ``up_self_temporal``, ..."""
        factors = {(r, f): inputs[region_input(r, f)] for r in REGIONS for f in FIELDS if region_input(r, f) in inputs}
        return cls({f: inputs.get(f, 1.0) for f in FIELDS}, inputs.get("start_percent", 0.0),
                   inputs.get("end_percent", 1.0), factors)

    @classmethod
    def from_text(cls, text: str) -> Setting:
        """A preset JSON document, or a share link (a URL or its query string)."""
        text = text.strip()
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"the setting text is {len(text):,} characters; a preset or link is far shorter")
        if text.startswith("{"):
            return cls._from_preset(text)
        return cls._from_link(text)

    @classmethod
    def _from_preset(cls, text: str) -> Setting:
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ValueError(f"the setting is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != PRESET_FORMAT:
            raise ValueError(f"the setting JSON is not a preset (its format must be {PRESET_FORMAT!r})")
        version = doc.get("version")
        if version not in (1, 2, 3):
            raise ValueError(f"preset version {version!r} is not one this node reads (1 to 3); update the node")
        multipliers = {f: doc[f] for f in FIELDS if f in doc} if version == 1 else doc.get("multipliers", {})
        regions = doc.get("regions", {}) if version == 3 else {}
        settings = doc.get("settings", {}) if version == 3 else {}
        for name, value in (("multipliers", multipliers), ("regions", regions), ("settings", settings)):
            if not isinstance(value, dict):
                raise ValueError(f"the preset's {name} must be an object")
        unknown = sorted(set(multipliers) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown multiplier(s) {', '.join(unknown)}")
        factors = {}
        for region, table in regions.items():
            if not isinstance(table, dict):
                raise ValueError(f"regions.{region} must map multipliers to factors")
            factors |= {(region, field): value for field, value in table.items()}
        return cls(multipliers, settings.get("start", 0.0), settings.get("end", 1.0), factors)

    @classmethod
    def _from_link(cls, text: str) -> Setting:
        query = urllib.parse.urlsplit(text).query if "?" in text or "://" in text else text
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        known = {*FIELDS, *(f"{r}.{f}" for r in REGIONS for f in FIELDS), *_LINK_SETTINGS}
        if not known & set(params):
            raise ValueError("the setting is neither a preset JSON nor a share link with parameters")
        multipliers = {f: params[f] for f in FIELDS if f in params}
        factors = {}
        for key, value in params.items():
            region, _, field = key.partition(".")
            if region in REGIONS and field in FIELDS:
                factors[(region, field)] = value
        return cls(multipliers, params.get("start", 0.0), params.get("end", 1.0), factors)


def key_target(key: str) -> tuple[str, str | None] | None:
    """For a UNet state-dict key: the multiplier field that scales it (the rule of ComfyUI's
    ``UNetTemporalAttentionMultiply``) and its region, or None when it is not scaled."""
    if key.endswith(("attn1.to_out.0.bias", "attn1.to_out.0.weight")):
        kind = "self"
    elif key.endswith(("attn2.to_out.0.bias", "attn2.to_out.0.weight")):
        kind = "cross"
    else:
        return None
    field = f"{kind}_{'temporal' if '.time_stack.' in key else 'structural'}"
    stripped = key.split("diffusion_model.", 1)[-1]
    region = next((r for prefix, r in _REGION_PREFIXES.items() if stripped.startswith(prefix)), None)
    return field, region


def step_of(sigmas: list[float], sigma: float) -> int:
    """The sampling step a model call at noise level ``sigma`` belongs to, given the run's ``sigmas``
    (falling, ``steps + 1`` of them): step i spans (sigmas[i + 1], sigmas[i]], so a sampler's extra
    evaluations inside a step count as that step."""
    tolerance = 1e-5 * abs(sigma)
    return sum(1 for s in sigmas[1:-1] if s >= sigma - tolerance)
