"""The four multipliers of ``UNetTemporalAttentionMultiply`` and their bounds."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Mapping

# Bounds of the ComfyUI node's FLOAT inputs; the UI sliders use the same constants.
MULTIPLIER_MIN = 0.0
MULTIPLIER_MAX = 10.0
MULTIPLIER_STEP = 0.01
MULTIPLIER_DEFAULT = 1.0

FIELDS = ("self_structural", "self_temporal", "cross_structural", "cross_temporal")


def check_multiplier(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise ``ValueError`` naming ``name`` and the value."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not MULTIPLIER_MIN <= value <= MULTIPLIER_MAX:
        raise ValueError(f"{name} must be between {MULTIPLIER_MIN} and {MULTIPLIER_MAX}, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Multipliers:
    """Scales for the attention output projections, named as the ComfyUI node names them."""

    self_structural: float = MULTIPLIER_DEFAULT  # attn1 in spatial transformer blocks
    self_temporal: float = MULTIPLIER_DEFAULT  # attn1 in temporal blocks (time_stack)
    cross_structural: float = MULTIPLIER_DEFAULT  # attn2 (image embedding) in spatial blocks
    cross_temporal: float = MULTIPLIER_DEFAULT  # attn2 in temporal blocks

    def __post_init__(self) -> None:
        for name in FIELDS:
            object.__setattr__(self, name, check_multiplier(name, getattr(self, name)))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Multipliers:
        """Build from a mapping; unknown keys are an error, missing ones take the default."""
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown multiplier(s) {', '.join(unknown)}; expected some of {', '.join(FIELDS)}")
        return cls(**values)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in FIELDS}

    def replace(self, **changes: float) -> Multipliers:
        return dataclasses.replace(self, **changes)

    @property
    def is_identity(self) -> bool:
        return all(getattr(self, name) == 1.0 for name in FIELDS)

    def label(self) -> str:
        """A short human-readable form, e.g. ``self S1.00 T0.50 | cross S1.00 T1.20``."""
        return (
            f"self S{self.self_structural:.2f} T{self.self_temporal:.2f} | "
            f"cross S{self.cross_structural:.2f} T{self.cross_temporal:.2f}"
        )
