"""Share links: a preset as a short, readable URL query string, and back."""

from __future__ import annotations

import logging
import urllib.parse
from typing import Mapping

from svd_attention_lab.controls import (
    FIELDS,
    MULTIPLIER_DEFAULT,
    REGIONS,
    Multipliers,
    Regions,
    check_multiplier,
    region_param,
    setting_names,
)

from ._errors import PresetError
from ._schema import SETTINGS, Preset, check_setting

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
    """Read a query string (or its parsed mapping); returns the preset and warnings for ignored keys."""
    if isinstance(params, str):
        params = dict(urllib.parse.parse_qsl(params.lstrip("?"), keep_blank_values=True))
    multipliers: dict[str, float] = {}
    regions: dict[str, float] = {}
    settings: dict[str, int | float] = {}
    unknown: list[str] = []
    name = SHARED_NAME
    for key, raw in params.items():
        if key in FIELDS:
            multipliers[key] = check_multiplier(key, _parse_float(key, raw))
        elif key in REGION_NAMES:
            regions[key] = check_multiplier(key, _parse_float(key, raw))
        elif key in setting_names(SETTINGS):
            settings[key] = check_setting(key, _parse_float(key, raw))
        elif key == "name":
            name = raw
        else:
            unknown.append(key)
    warnings = [_unknown_warning(unknown)] if unknown else []  # one line, however many keys
    for warning in warnings:
        logger.warning(warning)
    return Preset(name=name, multipliers=Multipliers(**multipliers, regions=Regions.from_flat(regions)),
                  settings=settings), warnings


def _unknown_warning(keys: list[str], shown: int = 3) -> str:
    if len(keys) == 1:
        return f"ignored unknown link parameter {keys[0][:40]!r}"
    names = ", ".join(repr(k[:40]) for k in keys[:shown])
    more = f" and {len(keys) - shown:,} more" if len(keys) > shown else ""
    return f"ignored {len(keys):,} unknown link parameters: {names}{more}"


def _parse_float(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        shown = raw if len(raw) <= 80 else raw[:79] + "…"  # the message quotes it (a line), not all of it
        raise PresetError(f"link parameter {key} must be a number, got {shown!r}") from None
    return value


def link_params(params: Mapping[str, str]) -> dict[str, str]:
    """A page's query parameters that belong to a share link (Gradio's own ``__`` keys left out)."""
    return {k: v for k, v in params.items() if not k.startswith("__")}


def from_link(params: Mapping[str, str]) -> tuple[Preset | None, list[str]]:
    """A page's query parameters as a preset, or None when the page was opened without a share link."""
    params = link_params(params)
    return from_query(params) if params else (None, [])
