"""The preset document: a small, versioned, strictly validated JSON format.

Version 4 (current)::

    {
      "format": "svd-attention-preset",
      "version": 4,
      "name": "Damped temporal attention",
      "description": "...",
      "multipliers": {"self_structural": 1.0, "self_temporal": 0.8, "cross_structural": 1.0, "cross_temporal": 0.9},
      "regions": {"up": {"self_temporal": 0.5}},   # optional: per-region factors, the rest stay 1
      "settings": {"seed": 42, "frames": 14, "start": 0.0, "end": 0.6},   # optional, any subset
      "model": "stabilityai/stable-video-diffusion-img2vid-xt"   # optional hint
    }

``settings.start`` / ``settings.end`` are ComfyUI's ``start_percent`` / ``end_percent``: fractions of the
sampling schedule in sigma space. Version 3 held fractions of the step count there; reading one converts
them to the sigma-space percents that patch the same steps (and says so in ``Preset.notes``). Version 2
had no regions; version 1 kept the four multipliers at the top level, as the ComfyUI node lists its
inputs. Every version is read by the one reader the ComfyUI node reads with,
``comfyui_svd_attention_lab.setting``."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping

from comfyui_svd_attention_lab import setting as reader
from svd_attention_lab.controls import Multipliers, Regions, Setting, check_settings
from svd_attention_lab.controls import SETTINGS as ALL_SETTINGS
from svd_attention_lab.controls import check_setting as _check_setting

from ._errors import PresetError
from ._json import type_name

FORMAT_NAME = reader.FORMAT_NAME
FORMAT_VERSION = reader.FORMAT_VERSION  # 4: start/end in sigma space (ComfyUI's meaning)
MAX_DOCUMENT_BYTES = reader.MAX_TEXT_BYTES
MAX_NAME_CHARS = reader.MAX_NAME_CHARS
MAX_DESCRIPTION_CHARS = reader.MAX_DESCRIPTION_CHARS
MAX_MODEL_CHARS = reader.MAX_MODEL_CHARS

# The render settings a preset (and a share link) may carry: the shared part of the one table.
SETTINGS: tuple[Setting, ...] = tuple(s for s in ALL_SETTINGS if s.shared)


def check_setting(name: str, value: Any) -> int | float:
    """Validate one setting a preset carries; the error names ``settings.<name>`` and the value."""
    return _check_setting(name, value, SETTINGS, PresetError, prefix="settings.")


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    multipliers: Multipliers = Multipliers()
    description: str = ""
    settings: Mapping[str, int | float] = dataclasses.field(default_factory=dict)
    model: str | None = None
    notes: tuple[str, ...] = dataclasses.field(default=(), compare=False)  # what reading it changed (not saved)

    def __post_init__(self) -> None:
        reader.check_text("name", self.name, MAX_NAME_CHARS, required=True)
        reader.check_text("description", self.description, MAX_DESCRIPTION_CHARS)
        if self.model is not None:
            reader.check_text("model", self.model, MAX_MODEL_CHARS, required=True)
        if not isinstance(self.multipliers, Multipliers):
            raise PresetError(f"multipliers must be Multipliers, got {type(self.multipliers).__name__}")
        if not isinstance(self.settings, Mapping):
            raise PresetError(f"settings must be an object, got {type_name(self.settings)}")
        object.__setattr__(self, "settings", check_settings(self.settings, SETTINGS, PresetError, prefix="settings."))

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "multipliers": self.multipliers.node_values(),
        }
        if not self.multipliers.regions.is_identity:
            doc["regions"] = self.multipliers.regions.as_dict()
        if self.settings:
            doc["settings"] = dict(self.settings)
        if self.model is not None:
            doc["model"] = self.model
        return doc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, doc: Any) -> Preset:
        """A parsed preset document of any version, read by the one reader (the node's)."""
        return cls.from_reading(reader.Setting.from_preset(doc))

    @classmethod
    def from_json(cls, text: str | bytes) -> Preset:
        return cls.from_reading(reader.Setting.from_preset_text(text))

    @classmethod
    def from_reading(cls, setting: reader.Setting, name: str = "") -> Preset:
        """What the reader read (a preset, a share link, a node's inputs) as a preset."""
        return cls(name=setting.name or name, multipliers=multipliers_of(setting), description=setting.description,
                   settings=dict(setting.settings), model=setting.model, notes=setting.notes)

    @classmethod
    def from_controls(cls, name: str, description: str, multipliers: Multipliers, settings: Mapping[str, Any],
                      include_settings: bool = True) -> Preset:
        """A preset of what a UI shows: the settings presets carry, if asked; a default name if empty."""
        shared = {s.name: settings[s.name] for s in SETTINGS if s.name in settings} if include_settings else {}
        return cls(name=(name or "").strip() or "My preset", description=description or "", multipliers=multipliers,
                   settings=shared)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Preset:
        """Read a preset file, checking its size before reading it."""
        file = Path(path)
        if not file.is_file():
            raise PresetError(f"{file.name}: no such preset file")
        if file.stat().st_size > MAX_DOCUMENT_BYTES:
            raise PresetError(f"preset file is larger than {MAX_DOCUMENT_BYTES // 1024} KB; presets are small")
        return cls.from_json(file.read_bytes())


def multipliers_of(setting: reader.Setting) -> Multipliers:
    """The reader's multipliers and region factors as the app's ``Multipliers``."""
    regions = Regions(tuple((region, field, value) for (region, field), value in setting.factors.items()))
    return Multipliers(**setting.multipliers, regions=regions)
