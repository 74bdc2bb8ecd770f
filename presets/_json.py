"""The one JSON reader for presets and ComfyUI files: size, nesting depth and text checked before parsing."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from ._errors import PresetError

MAX_DEPTH = 64  # ComfyUI workflows nest about 8 levels; presets 3
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def read_json(data: str | bytes, what: str, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data``; a ``PresetError`` names ``what`` and the problem, never a Python error."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise PresetError(f"{what} is {len(raw):,} bytes; at most {_size(max_bytes)} are allowed")
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise PresetError(f"{what} is nested {depth} levels deep; at most {max_depth} levels are allowed")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PresetError(f"{what} is not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PresetError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


def nesting_depth(raw: bytes) -> int:
    """Deepest bracket nesting outside strings, in one vectorised pass (no recursion, no parse)."""
    stripped = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    opens = (stripped == ord("[")) | (stripped == ord("{"))
    closes = (stripped == ord("]")) | (stripped == ord("}"))
    steps = opens.astype(np.int64) - closes.astype(np.int64)
    return int(np.cumsum(steps).max()) if steps.size else 0


def _reject_constant(name: str) -> None:
    raise PresetError(f"contains {name}, which is not a number JSON allows")


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 1024} KB"


def type_name(value: Any) -> str:
    """JSON's name for a parsed value's type, for messages."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")
