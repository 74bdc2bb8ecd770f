"""The preset document: a small, versioned, strictly validated JSON format.

Version 2 (current)::

    {
      "format": "svd-attention-preset",
      "version": 2,
      "name": "Damped temporal attention",
      "description": "...",
      "multipliers": {"self_structural": 1.0, "self_temporal": 0.8, "cross_structural": 1.0, "cross_temporal": 0.9},
      "settings": {"seed": 42, "frames": 14},      # optional, any subset
      "model": "stabilityai/stable-video-diffusion-img2vid-xt"   # optional hint
    }

Version 1 kept the four multipliers at the top level, as the ComfyUI node lists its inputs; it is
upgraded on reading.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from patcher import FIELDS, Multipliers

from ._errors import PresetError

FORMAT_NAME = "svd-attention-preset"
FORMAT_VERSION = 2
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_NAME_CHARS = 80
MAX_DESCRIPTION_CHARS = 1000
MAX_MODEL_CHARS = 200

# Generation settings a preset may carry: name -> (type, min, max). The preview engine's own
# bounds agree with these (a test checks it); presets do not depend on the engine.
SETTINGS: dict[str, tuple[type, float, float]] = {
    "seed": (int, 0, 2**32 - 1),
    "frames": (int, 2, 50),
    "steps": (int, 1, 100),
    "width": (int, 0, 2048),
    "height": (int, 0, 2048),
    "fps": (int, 1, 60),
    "motion_bucket_id": (int, 0, 1023),
    "noise_aug_strength": (float, 0.0, 1.0),
    "min_guidance": (float, 0.0, 20.0),
    "max_guidance": (float, 0.0, 20.0),
}


def check_setting(name: str, value: Any) -> int | float:
    """Validate one generation setting; ``ValueError`` names the setting and the value."""
    if name not in SETTINGS:
        raise PresetError(f"unknown setting {name!r}; expected some of {', '.join(SETTINGS)}")
    kind, low, high = SETTINGS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PresetError(f"settings.{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise PresetError(f"settings.{name} must be finite, got {value!r}")
    if kind is int:
        if value != int(value):
            raise PresetError(f"settings.{name} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if not low <= value <= high:
        raise PresetError(f"settings.{name} must be between {low} and {high}, got {value!r}")
    return value


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
            raise PresetError(f"settings must be an object, got {type(self.settings).__name__}")
        settings = {k: check_setting(k, v) for k, v in self.settings.items()}
        if settings.get("min_guidance", 0.0) > settings.get("max_guidance", math.inf):
            raise PresetError("settings.min_guidance must not exceed settings.max_guidance")
        object.__setattr__(self, "settings", settings)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "multipliers": self.multipliers.as_dict(),
        }
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
        if len(text) > MAX_DOCUMENT_BYTES:
            raise PresetError(f"preset is {len(text)} bytes; presets are at most {MAX_DOCUMENT_BYTES // 1024} KB")
        try:
            doc = json.loads(text, parse_constant=_reject_constant)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PresetError(f"preset is not valid JSON: {exc}") from None
        return cls.from_dict(doc)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Preset:
        """Read a preset file, checking its size before reading it."""
        file = Path(path)
        if not file.is_file():
            raise PresetError(f"{file.name}: no such preset file")
        if file.stat().st_size > MAX_DOCUMENT_BYTES:
            raise PresetError(f"preset file is larger than {MAX_DOCUMENT_BYTES // 1024} KB; presets are small")
        return cls.from_json(file.read_bytes())


def _reject_constant(name: str) -> None:
    raise PresetError(f"preset contains {name}, which is not a number JSON allows")


def _check_text(field: str, value: Any, limit: int, required: bool = False) -> None:
    if not isinstance(value, str):
        raise PresetError(f"{field} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise PresetError(f"{field} must not be empty")
    if len(value) > limit:
        raise PresetError(f"{field} is {len(value)} characters; at most {limit} are allowed")


_TOP_LEVEL = {"format", "version", "name", "description", "multipliers", "settings", "model"}


def _upgrade(doc: Any) -> dict[str, Any]:
    """Check the envelope and bring an older version's document to the current layout."""
    if not isinstance(doc, dict):
        raise PresetError(f"preset must be a JSON object, got {type(doc).__name__}")
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
    return doc


def _from_current(doc: dict[str, Any]) -> Preset:
    unknown = sorted(set(doc) - _TOP_LEVEL)
    if unknown:
        raise PresetError(f"unknown field(s) {', '.join(unknown)}")
    if "name" not in doc:
        raise PresetError("name is missing")
    multipliers = doc.get("multipliers", {})
    if not isinstance(multipliers, dict):
        raise PresetError(f"multipliers must be an object, got {type(multipliers).__name__}")
    try:
        parsed = Multipliers.from_dict(multipliers)
    except ValueError as exc:
        raise PresetError(f"multipliers: {exc}") from None
    return Preset(
        name=doc["name"],
        multipliers=parsed,
        description=doc.get("description", ""),
        settings=doc.get("settings", {}),
        model=doc.get("model"),
    )
