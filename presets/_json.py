"""The one JSON reader for presets and ComfyUI files: size, nesting, value count and number lengths checked
before Python builds or converts anything, so hostile text costs a small multiple of its size and
every failure is one plain ``PresetError`` sentence."""

from __future__ import annotations

import json
from typing import Any, Callable

import numpy as np

from comfyui_svd_attention_lab.setting import type_name  # JSON's name for a value's type: the reader's

from ._errors import PresetError

MAX_DEPTH = 64  # ComfyUI workflows nest about 8 levels; presets 3
# Python spends up to ~65 bytes on each JSON value counted here ({"a":1}, is 3 values in 8 bytes of text and
# 192 bytes of dict), so dense text is refused before parsing: beyond a fixed allowance (6.5 MB at most), one
# value per BYTES_PER_VALUE bytes (5.4 x the text at most). Real workflows have one per 7 to 10 bytes as PNGs
# carry them (compact) and one per 13 to 15 as ComfyUI saves them (indented): a compact one of up to ~2 MB
# is always read.
VALUES_ALLOWED = 100_000
BYTES_PER_VALUE = 12
_WINDOW = 1 << 18  # bytes scanned at once: the scan's own memory stays a few MB whatever the size
_QUOTE, _OPENS, _CLOSES, _SEPARATORS = ord('"'), b"[{", b"]}", b",:"


def read_json(data: str | bytes, what: str, max_bytes: int, max_depth: int = MAX_DEPTH,
              encoding: str = "utf-8-sig", max_number_chars: int | None = None) -> Any:
    """Parse ``data``; a ``PresetError`` names ``what`` and the problem, never a Python error.

    With ``max_number_chars``, a longer number literal is refused (naming where it is) before Python
    converts it; without, numbers convert as ``json`` converts them."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape in an outer document
            raise PresetError(f"{what} is not valid Unicode text") from None
    raw = bytes(data)
    if len(raw) > max_bytes:
        raise PresetError(f"{what} is {len(raw):,} bytes; at most {_size(max_bytes)} are allowed")
    depth, values = _structure(raw)
    if depth > max_depth:
        raise PresetError(f"{what} is nested {depth} levels deep; at most {max_depth} levels are allowed")
    allowed = VALUES_ALLOWED + len(raw) // BYTES_PER_VALUE
    if values > allowed:
        raise PresetError(f"{what} holds {values:,} JSON values in {len(raw):,} bytes; "
                          f"at most {allowed:,} are read from a file this size")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise PresetError(f"{what} is not UTF-8 text") from None
    long: list[_LongNumber] = []
    numbers = {} if max_number_chars is None else {"parse_int": _number(int, max_number_chars, long),
                                                   "parse_float": _number(float, max_number_chars, long)}
    try:
        doc = json.loads(text, parse_constant=_reject_constant, **numbers)
    except json.JSONDecodeError as exc:
        raise PresetError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if long:
        where = _path_to(doc, long[0])
        raise PresetError(f"{what}: {where or 'the document'} is a number {long[0].length:,} characters long; "
                          f"numbers of at most {max_number_chars} characters are read")
    return doc


def nesting_depth(raw: bytes) -> int:
    """Deepest bracket nesting outside strings, a window at a time (no recursion, no parse)."""
    return _structure(raw)[0]


def _structure(raw: bytes) -> tuple[int, int]:
    """The deepest nesting and the number of values (brackets, commas, colons) outside strings."""
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")  # no escaped quote is left; strings keep their ends
    inside = depth = deepest = values = 0
    for start in range(0, len(text), _WINDOW):
        window = np.frombuffer(text, np.uint8, min(_WINDOW, len(text) - start), start)
        quotes = window == _QUOTE
        outside = window[((np.cumsum(quotes, dtype=np.int32) + inside) & 1 == 0) & ~quotes].tobytes()
        inside = (inside + int(np.count_nonzero(quotes))) & 1
        steps = np.frombuffer(outside.translate(_STEP), np.int8).astype(np.int32)
        steps = steps[steps != 0]
        if steps.size:
            levels = np.cumsum(steps) + depth
            deepest, depth = max(deepest, int(levels.max())), int(levels[-1])
        values += sum(outside.count(c) for c in (*_OPENS, *_SEPARATORS))
    return deepest, values


# bytes.translate table: "[" and "{" to +1, "]" and "}" to -1 (as int8), everything else to 0
_STEP = bytes(1 if chr(b) in "[{" else 255 if chr(b) in "]}" else 0 for b in range(256))


class _LongNumber:
    """Stands for a number literal too long to convert (its place is found afterwards, for the message)."""

    def __init__(self, text: str) -> None:
        self.length = len(text)


def _number(convert: Callable[[str], Any], limit: int, long: list[_LongNumber]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if len(text) <= limit:
            return convert(text)
        long.append(_LongNumber(text))
        return long[-1]

    return parse


def _path_to(doc: Any, target: Any) -> str:
    """Where ``target`` sits in ``doc``, as ``nodes[3].widgets_values[1]``: depth first, without recursion."""
    path: list[str] = []
    stack = [_children(doc)] if isinstance(doc, (dict, list)) else []
    while stack:
        for piece, value in stack[-1]:
            if value is target:
                return "".join([*path, piece]).removeprefix(".")
            if isinstance(value, (dict, list)):
                path.append(piece)
                stack.append(_children(value))
                break
        else:
            stack.pop()
            path = path[:-1]
    return ""


def _children(value: dict | list):
    if isinstance(value, dict):
        return ((f".{shown(key)}", item) for key, item in value.items())
    return ((f"[{i}]", item) for i, item in enumerate(value))


def _reject_constant(name: str) -> None:
    raise PresetError(f"contains {name}, which is not a number JSON allows")


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 1024} KB"


def shown(value: Any, limit: int = 40) -> str:
    """A name or id from a document, as a message may show it: short, one line, printable."""
    text = value if isinstance(value, str) else str(value) if isinstance(value, (int, float)) else type_name(value)
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in text)
