"""The one number check behind every multiplier and render setting: the ComfyUI node's own
(``comfyui_svd_attention_lab.setting.check_number``), so the app and the node refuse the same values
with the same sentence."""

from __future__ import annotations

from typing import Any

from comfyui_svd_attention_lab import setting


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
    try:
        return setting.check_number(name, value, kind, low, high)
    except setting.SettingError as exc:
        if error is ValueError or isinstance(exc, error):
            raise
        raise error(str(exc)) from None
