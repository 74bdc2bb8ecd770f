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
    "self_temporal": "Temporal self-attention output: how much each pixel looks at the other frames "
                     "(motion coherence).",
    "cross_structural": "Spatial cross-attention output. It attends to one token, the image embedding, so it adds the "
                        "same vector at every position: this scales a per-frame offset, not 'prompt adherence'.",
    "cross_temporal": "Temporal cross-attention output: the same single-token offset, added inside the temporal "
                      "blocks.",
}


def check_multiplier(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise ``ValueError`` naming ``name`` and the value."""
    return check_number(name, value, float, MULTIPLIER_MIN, MULTIPLIER_MAX)


REGIONS = ("down", "mid", "up")  # the UNet's down blocks, its mid block, its up blocks


def region_param(region: str, field: str) -> str:
    """The flat name of one region factor: ``up.self_temporal``."""
    return f"{region}.{field}"


def region_input(region: str, field: str) -> str:
    """One region factor as a parameter or a ComfyUI node input, where dots are not allowed: ``up_self_temporal``."""
    return f"{region}_{field}"


@dataclasses.dataclass(frozen=True)
class Regions:
    """Per-region factors that multiply the four global multipliers: for each of the UNet's down,
    mid and up blocks and each field. All 1 (the default) is the plain patch; only the others are
    kept, sorted, so equal tables compare and hash equal."""

    factors: tuple[tuple[str, str, float], ...] = ()  # (region, field, factor), factor != 1

    def __post_init__(self) -> None:
        checked = {}
        for entry in self.factors:
            region, field, value = entry
            if region not in REGIONS:
                raise ValueError(f"unknown region {region!r}; expected one of {', '.join(REGIONS)}")
            if field not in FIELDS:
                raise ValueError(f"unknown multiplier {field!r} in region {region}; "
                                 f"expected one of {', '.join(FIELDS)}")
            checked[(region, field)] = check_multiplier(region_param(region, field), value)
        object.__setattr__(self, "factors", tuple(sorted((r, f, v) for (r, f), v in checked.items() if v != 1.0)))

    @classmethod
    def from_dict(cls, table: Mapping[str, Any]) -> Regions:
        """``{"up": {"self_temporal": 0.5}}``; what is not named stays 1."""
        if not isinstance(table, Mapping):
            raise ValueError(f"regions must map {', '.join(REGIONS)} to multipliers")
        entries = []
        for region, fields in table.items():
            if not isinstance(fields, Mapping):
                raise ValueError(f"regions.{region} must map multiplier names to factors")
            entries += [(region, field, value) for field, value in fields.items()]
        return cls(tuple(entries))

    @classmethod
    def from_flat(cls, values: Mapping[str, Any]) -> Regions:
        """``{"up.self_temporal": 0.5}``."""
        entries = []
        for name, value in values.items():
            region, _, field = name.partition(".")
            entries.append((region, field, value))
        return cls(tuple(entries))

    def factor(self, region: str, field: str) -> float:
        return next((v for r, f, v in self.factors if r == region and f == field), 1.0)

    def as_dict(self) -> dict[str, dict[str, float]]:
        table: dict[str, dict[str, float]] = {}
        for region, field, value in self.factors:
            table.setdefault(region, {})[field] = value
        return table

    def flat(self) -> dict[str, float]:
        return {region_param(r, f): v for r, f, v in self.factors}

    @property
    def is_identity(self) -> bool:
        return not self.factors


@dataclasses.dataclass(frozen=True)
class Multipliers:
    """Scales for the attention output projections, named as the ComfyUI node names them."""

    self_structural: float = MULTIPLIER_DEFAULT  # attn1 in spatial transformer blocks
    self_temporal: float = MULTIPLIER_DEFAULT  # attn1 in temporal blocks (time_stack)
    cross_structural: float = MULTIPLIER_DEFAULT  # attn2 (image embedding) in spatial blocks
    cross_temporal: float = MULTIPLIER_DEFAULT  # attn2 in temporal blocks
    regions: Regions = Regions()  # per-region factors on top (an advanced table; ComfyUI has none)

    def __post_init__(self) -> None:
        for name in FIELDS:
            object.__setattr__(self, name, check_multiplier(name, getattr(self, name)))
        if not isinstance(self.regions, Regions):
            raise ValueError(f"regions must be Regions, got {type(self.regions).__name__}")

    def value(self, field: str, region: str) -> float:
        """The scale for a tensor of ``field`` in ``region``: the global value times the region's factor
        (exactly the global value where the factor is 1)."""
        factor = self.regions.factor(region, field) if region in REGIONS else 1.0
        value = getattr(self, field)
        return value if factor == 1.0 else value * factor

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Multipliers:
        """The inverse of :meth:`as_dict`: the four fields and an optional ``regions`` table. Unknown keys
        are an error, missing ones take the default."""
        if not isinstance(values, Mapping):
            raise ValueError(f"multipliers must map {', '.join(FIELDS)} to numbers")
        unknown = sorted(set(values) - set(FIELDS) - {"regions"})
        if unknown:
            raise ValueError(f"unknown multiplier(s) {', '.join(unknown)}; expected some of {', '.join(FIELDS)}")
        regions = Regions.from_dict(values.get("regions", {}))
        return cls(**{name: values[name] for name in FIELDS if name in values}, regions=regions)

    def as_dict(self) -> dict[str, Any]:
        """The whole setting, losslessly: the four values and, where any factor is not 1, ``regions``.
        Job ids, tables, presets and file metadata all use this form."""
        doc: dict[str, Any] = self.node_values()
        if not self.regions.is_identity:
            doc["regions"] = self.regions.as_dict()
        return doc

    def node_values(self) -> dict[str, float]:
        """Only the four global values: what ComfyUI's node and a preset's ``multipliers`` hold. Lossy
        where per-region factors are set."""
        return {name: getattr(self, name) for name in FIELDS}

    def columns(self) -> dict[str, float]:
        """Flat columns for a table: the four values and every region factor (``up.self_temporal``)."""
        return self.node_values() | {region_param(r, f): self.regions.factor(r, f) for r in REGIONS for f in FIELDS}

    def replace(self, **changes: float) -> Multipliers:
        return dataclasses.replace(self, **changes)

    @property
    def is_identity(self) -> bool:
        return all(getattr(self, name) == 1.0 for name in FIELDS) and self.regions.is_identity

    def label(self) -> str:
        """A short human-readable form, e.g. ``self S1.00 T0.50 | cross S1.00 T1.20``."""
        regions = "".join(f" | {name} x{value:.2f}" for name, value in self.regions.flat().items())
        return (
            f"self S{self.self_structural:.2f} T{self.self_temporal:.2f} | "
            f"cross S{self.cross_structural:.2f} T{self.cross_temporal:.2f}{regions}"
        )
