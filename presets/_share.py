"""Share links: a preset as a short, readable URL query string, and back."""

from __future__ import annotations

import logging
import urllib.parse
from typing import Mapping

from comfyui_svd_attention_lab import setting as reader
from svd_attention_lab.controls import FIELDS, MULTIPLIER_DEFAULT, REGIONS, region_param

from ._schema import SETTINGS, Preset

logger = logging.getLogger(__name__)

SHARED_NAME = "Shared link"
REGION_NAMES = frozenset(region_param(r, f) for r in REGIONS for f in FIELDS)  # up.self_temporal, ...


def _number(value: float) -> str:
    """Shortest text that reads back to the same float: 1.0 -> "1", 0.8 -> "0.8"."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def to_query(preset: Preset) -> str:
    """``self_temporal=0.8&cross_temporal=1.2&up.self_temporal=0.5&seed=42``: defaults are left out."""
    params: list[tuple[str, str]] = []
    for field in FIELDS:
        value = getattr(preset.multipliers, field)
        if value != MULTIPLIER_DEFAULT:
            params.append((field, _number(value)))
    params += [(name, _number(value)) for name, value in preset.multipliers.regions.flat().items()]
    for setting in SETTINGS:
        if setting.name in preset.settings:
            value = preset.settings[setting.name]
            params.append((setting.name, str(value) if setting.kind is int else _number(value)))
    if preset.name != SHARED_NAME:
        params.append(("name", preset.name))
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def to_url(preset: Preset, base_url: str) -> str:
    query = to_query(preset)
    base = base_url.split("?", 1)[0]
    return f"{base}?{query}" if query else base


def from_query(params: Mapping[str, str] | str) -> tuple[Preset, list[str]]:
    """Read a share link's query string (or its parsed mapping) with the one reader (the node's); returns
    the preset and notes on ignored parameters."""
    setting = reader.Setting.from_link(params)
    for note in setting.notes:
        logger.warning(note)
    return Preset.from_reading(setting, SHARED_NAME), list(setting.notes)


def link_params(params: Mapping[str, str]) -> dict[str, str]:
    """A page's query parameters that belong to a share link (Gradio's own ``__`` keys left out)."""
    return {k: v for k, v in params.items() if not k.startswith("__")}


def from_link(params: Mapping[str, str]) -> tuple[Preset | None, list[str]]:
    """A page's query parameters as a preset, or None when the page was opened without a share link."""
    params = link_params(params)
    return from_query(params) if params else (None, [])
