"""Render settings: one table, from which the checks, defaults, CLI flags, UI inputs and handler
parameters come. ``engine.RenderSettings`` declares one typed field per entry (a test keeps them equal).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

from ._numbers import check_number


@dataclasses.dataclass(frozen=True)
class Setting:
    """One render setting: its name, type, bounds, default and how people see and type it."""

    name: str
    kind: type  # int or float
    low: float
    high: float
    default: int | float
    label: str  # the UI's label
    help: str  # CLI help and UI hint
    step: float = 1  # the UI slider's step
    widget: str = "slider"  # "slider" or "number" (a free whole-number field, e.g. the seed)
    flag: str = ""  # CLI flag; "" means --name-with-dashes
    shared: bool = True  # carried by presets and share links (False: a memory knob, not part of the look)

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("seed", int, 0, 2**32 - 1, 42, "Seed", "noise seed: the same seed gives the same video", widget="number"),
    Setting("frames", int, 2, 50, 8, "Frames", "frames to render"),
    Setting("steps", int, 1, 100, 10, "Steps", "denoising steps"),
    Setting("width", int, 0, 2048, 0, "Width (0 = model's native)",
            "snapped to a multiple of 64; 0 = the model's native width", step=64),
    Setting("height", int, 0, 2048, 0, "Height (0 = model's native)",
            "snapped to a multiple of 64; 0 = the model's native height", step=64),
    Setting("fps", int, 1, 60, 7, "FPS (conditioning and playback)",
            "frame rate the model is told and the video plays at"),
    Setting("motion_bucket_id", int, 0, 1023, 127, "Motion bucket id",
            "SVD's motion conditioning; higher means more motion"),
    Setting("noise_aug_strength", float, 0.0, 1.0, 0.02, "Noise augmentation", "noise added to the conditioning image",
            step=0.01, flag="--noise-aug"),
    Setting("min_guidance", float, 0.0, 20.0, 1.0, "Min guidance", "classifier-free guidance at the first frame",
            step=0.1),
    Setting("max_guidance", float, 0.0, 20.0, 3.0, "Max guidance", "classifier-free guidance at the last frame",
            step=0.1),
    Setting("start", float, 0.0, 1.0, 0.0, "Patch from (start_percent)",
            "ComfyUI's start_percent: the multipliers act in the steps whose noise level (sigma) is at or below "
            "this point of the model's sampling range (0 = its highest sigma, 1 = 0, log-linear between)",
            step=0.05),
    Setting("end", float, 0.0, 1.0, 1.0, "Patch until (end_percent)",
            "ComfyUI's end_percent: and at or above this point; 0 to 1 is the plain patch", step=0.05),
    Setting("decode_chunk_size", int, 1, 64, 8, "Decode chunk size",
            "frames decoded at once by the VAE; lower saves memory",
            shared=False),
)


def setting_names(table: Sequence[Setting] = SETTINGS, shared_only: bool = False) -> tuple[str, ...]:
    return tuple(s.name for s in table if s.shared or not shared_only)


def check_setting(
    name: str, value: Any, table: Sequence[Setting] = SETTINGS, error: type[ValueError] = ValueError, prefix: str = ""
) -> int | float:
    """Validate one setting by its table entry; the error names ``prefix + name`` and the value."""
    entry = next((s for s in table if s.name == name), None)
    if entry is None:
        raise error(f"unknown setting {name!r}; expected some of {', '.join(s.name for s in table)}")
    return check_number(prefix + name, value, entry.kind, entry.low, entry.high, error)


def check_settings(
    values: Mapping[str, Any], table: Sequence[Setting] = SETTINGS, error: type[ValueError] = ValueError,
    prefix: str = ""
) -> dict[str, int | float]:
    """Validate any subset of the settings, each on its own and together (guidance must not fall, the
    schedule must not be empty)."""
    checked = {name: check_setting(name, value, table, error, prefix) for name, value in values.items()}
    if checked.get("min_guidance", -math.inf) > checked.get("max_guidance", math.inf):
        raise error(
            f"{prefix}min_guidance ({checked['min_guidance']}) must not exceed "
            f"{prefix}max_guidance ({checked['max_guidance']})"
        )
    if checked.get("start", 0.0) >= checked.get("end", 1.0):
        raise error(f"{prefix}start ({checked.get('start', 0.0)}) must be below "
                    f"{prefix}end ({checked.get('end', 1.0)})")
    return checked


def default_settings(table: Sequence[Setting] = SETTINGS) -> dict[str, int | float]:
    return {s.name: s.default for s in table}
