"""The preset document: a small, versioned, strictly validated JSON format.

Version 3 (current)::

    {
      "format": "svd-attention-preset",
      "version": 3,
      "name": "Damped temporal attention",
      "description": "...",
      "multipliers": {"self_structural": 1.0, "self_temporal": 0.8, "cross_structural": 1.0, "cross_temporal": 0.9},
      "regions": {"up": {"self_temporal": 0.5}},   # optional: per-region factors, the rest stay 1
      "settings": {"seed": 42, "frames": 14, "start": 0.0, "end": 0.6},   # optional, any subset
      "model": "stabilityai/stable-video-diffusion-img2vid-xt"   # optional hint
    }

Version 2 had no step schedule and no regions; version 1 kept the four multipliers at the top
level, as the ComfyUI node lists its inputs. Both are upgraded on reading."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping

from svd_attention_lab.controls import FIELDS, Multipliers, Regions, Setting, check_settings
from svd_attention_lab.controls import SETTINGS as ALL_SETTINGS
from svd_attention_lab.controls import check_setting as _check_setting

from ._errors import PresetError
from ._json import MAX_NUMBER_CHARS, read_json, type_name

FORMAT_NAME = "svd-attention-preset"
FORMAT_VERSION = 3  # 3: the step schedule (settings start, end) and per-region factors (regions)
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_NAME_CHARS = 80
MAX_DESCRIPTION_CHARS = 1000
MAX_MODEL_CHARS = 200

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

    def __post_init__(self) -> None:
        _check_text("name", self.name, MAX_NAME_CHARS, required=True)
        _check_text("description", self.description, MAX_DESCRIPTION_CHARS)
        if self.model is not None:
            _check_text("model", self.model, MAX_MODEL_CHARS, required=True)
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
        return _from_current(_upgrade(doc))

    @classmethod
    def from_json(cls, text: str | bytes) -> Preset:
        return cls.from_dict(read_json(text, "preset", MAX_DOCUMENT_BYTES, max_number_chars=MAX_NUMBER_CHARS))

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


def _check_text(field: str, value: Any, limit: int, required: bool = False) -> None:
    if not isinstance(value, str):
        raise PresetError(f"{field} must be a string, got {type_name(value)}")
    if required and not value.strip():
        raise PresetError(f"{field} must not be empty")
    if len(value) > limit:
        raise PresetError(f"{field} is {len(value)} characters; at most {limit} are allowed")


_TOP_LEVEL = {"format", "version", "name", "description", "multipliers", "regions", "settings", "model"}


def _upgrade(doc: Any) -> dict[str, Any]:
    """Check the envelope and bring an older version's document to the current layout."""
    if not isinstance(doc, dict):
        raise PresetError(f"preset must be a JSON object, got {type_name(doc)}")
    if doc.get("format") != FORMAT_NAME:
        raise PresetError(f"format must be {FORMAT_NAME!r}, got {doc.get('format')!r}")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PresetError(f"version must be a positive whole number, got {version!r}")
    if version > FORMAT_VERSION:
        raise PresetError(
            f"this preset was made by a newer version of the app (format version {version}; this one reads up to "
            f"{FORMAT_VERSION}); update the app to open it"
        )
    if version == 1:
        doc = dict(doc)
        flat = {f: doc.pop(f) for f in FIELDS if f in doc}
        doc["multipliers"] = flat
        doc["version"] = 2
    if doc["version"] == 2:  # no schedule (every step: start 0, end 1) and no regions (all factors 1)
        doc = dict(doc, version=3)
    return doc


def _from_current(doc: dict[str, Any]) -> Preset:
    unknown = sorted(set(doc) - _TOP_LEVEL)
    if unknown:
        raise PresetError(f"unknown field(s) {', '.join(unknown)}")
    if "name" not in doc:
        raise PresetError("name is missing")
    multipliers = doc.get("multipliers", {})
    if not isinstance(multipliers, dict):
        raise PresetError(f"multipliers must be an object, got {type_name(multipliers)}")
    if "regions" in multipliers:
        raise PresetError("multipliers.regions: region factors go in the top-level regions object")
    try:
        parsed = Multipliers.from_dict(multipliers)
    except ValueError as exc:
        raise PresetError(f"multipliers: {exc}") from None
    try:
        parsed = parsed.replace(regions=Regions.from_dict(doc.get("regions", {})))
    except ValueError as exc:
        raise PresetError(f"regions: {exc}") from None
    return Preset(
        name=doc["name"],
        multipliers=parsed,
        description=doc.get("description", ""),
        settings=doc.get("settings", {}),
        model=doc.get("model"),
    )
