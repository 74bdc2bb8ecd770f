"""The one number checker behind every multiplier and render setting."""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_number(
    name: str,
    value: Any,
    kind: type,
    low: float,
    high: float,
    error: type[ValueError] = ValueError,
) -> int | float:
    """``value`` as ``kind`` (int or float) within ``[low, high]``, or ``error`` naming ``name`` and the value.

    Booleans and text are refused rather than read as numbers; a whole number must be whole
    (7.0 is 7, 7.5 is an error, never rounded).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise error(f"{name} must be a finite number, got {value!r}")
    if kind is int:
        if value != int(value):
            raise error(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if not low <= value <= high:
        raise error(f"{name} must be between {low} and {high}, got {value!r}")
    return value
