"""The curated presets shipped in ``presets/builtin/*.json``."""

from __future__ import annotations

import functools
from pathlib import Path

from ._errors import PresetError
from ._schema import Preset

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


@functools.cache
def builtin_presets() -> dict[str, Preset]:
    """Name -> preset, in file-name order (files are numbered so the list reads well)."""
    presets: dict[str, Preset] = {}
    for path in sorted(BUILTIN_DIR.glob("*.json")):
        preset = Preset.from_json(path.read_text(encoding="utf-8"))
        if preset.name in presets:
            raise PresetError(f"built-in preset name {preset.name!r} is used twice ({path.name})")
        presets[preset.name] = preset
    return presets


def pick(name: str, saved: dict | None = None) -> Preset:
    """A preset by name: one of ``saved`` (name -> preset document, e.g. kept in a browser) or a built-in."""
    if name in (saved or {}):
        return Preset.from_dict(saved[name])
    return get_builtin(name)


def get_builtin(name: str) -> Preset:
    presets = builtin_presets()
    if name not in presets:
        raise PresetError(f"no built-in preset named {name!r}; choose one of: {', '.join(presets)}")
    return presets[name]
