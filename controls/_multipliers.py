"""The four multipliers of ``UNetTemporalAttentionMultiply`` and their bounds."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from ._numbers import check_number

# Bounds of the ComfyUI node's FLOAT inputs; the UI sliders use the same constants.
MULTIPLIER_MIN = 0.0
MULTIPLIER_MAX = 10.0
MULTIPLIER_STEP = 0.01
MULTIPLIER_DEFAULT = 1.0

FIELDS = ("self_structural", "self_temporal", "cross_structural", "cross_temporal")
FIELD_HELP = {
    "self_structural": "Spatial self-attention output: how much each frame's own layout mixes across the image.",
    "self_temporal": "Temporal self-attention output: how much each pixel looks at the other frames (motion coherence).",
    "cross_structural": "Spatial cross-attention output. It attends to one token, the image embedding, so it adds the "
                        "same vector at every position: this scales a per-frame offset, not 'prompt adherence'.",
    "cross_temporal": "Temporal cross-attention output: the same single-token offset, added inside the temporal blocks.",
}


def check_multiplier(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise ``ValueError`` naming ``name`` and the value."""
    return check_number(name, value, float, MULTIPLIER_MIN, MULTIPLIER_MAX)


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
