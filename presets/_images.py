"""ComfyUI's text in PNG, WebP and MP4 files, read from the file's own chunks: pixels are never decoded.

ComfyUI's SaveImage writes ``workflow`` and ``prompt`` as PNG text chunks (tEXt, or iTXt where the text is
not Latin-1; other tools may compress them as zTXt or iTXt). SaveAnimatedWEBP writes them into the EXIF
chunk's first directory as strings ``"workflow:{...}"`` and ``"prompt:{...}"`` (tags 0x010F and 0x0110).
Formats: https://www.w3.org/TR/png/#11textinfo, https://developers.google.com/speed/webp/docs/riff_container
and TIFF 6.0 section 2 (the EXIF payload). SaveVideo writes an MP4 through PyAV (FFmpeg) with
``movflags=use_metadata_tags``: each of ``workflow`` and ``prompt`` is a QuickTime metadata item
(``moov/udta/meta``: an ``mdta`` handler, a ``keys`` table, an ``ilst`` item whose ``data`` holds UTF-8 JSON);
see ISO/IEC 14496-12 (boxes) and Apple's QuickTime File Format, "Metadata" (keys and item lists).
"""

from __future__ import annotations

import struct
import zlib

from ._errors import PresetError
from ._json import shown

KEYS = ("workflow", "prompt")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS = 100_000  # a 50 MB PNG in 8 KB pixel chunks has about 6,400
UNPACKED_ALLOWED = 2 * 2**20  # compressed text may unpack to this much, plus UNPACK_RATIO times its packed size
UNPACK_RATIO = 8
OTHER_FORMATS = ((b"\xff\xd8\xff", "a JPEG"), (b"GIF8", "a GIF"), (b"BM", "a BMP"), (b"II*\0", "a TIFF"),
                 (b"MM\0*", "a TIFF"), (b"\0\0\1\0", "an ICO"), (b"%PDF", "a PDF"), (b"PK\3\4", "a ZIP"),
                 (b"RIFF", "a RIFF file other than WebP (a WAV or AVI?)"))


def image_format(data: bytes) -> str | None:
    """What the first bytes say the file is: "a PNG", "a WebP", "an MP4", another format, or None."""
    if data.startswith(PNG_SIGNATURE):
        return "a PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP"
    if data[4:8] == b"ftyp":
        return "an MP4"
    return next((name for magic, name in OTHER_FORMATS if data.startswith(magic)), None)


def image_texts(data: bytes) -> dict[str, tuple[bytes, str]]:
    """``{"workflow": (text, encoding), "prompt": ...}`` from a PNG or WebP, whichever it carries."""
    kind = image_format(data)
    if kind == "a PNG":
        return _png_texts(data)
    if kind == "a WebP":
        return _webp_texts(data)
    if kind == "an MP4":
        return video_texts(data)
    if not data:
        raise PresetError("cannot read the image: the file is empty")
    if kind is None and data[:1024].lstrip().removeprefix(b"\xef\xbb\xbf")[:1] == b"<":
        kind = "XML or HTML text (an SVG?)"
    if kind is None:
        raise PresetError("cannot read the image: it is not a PNG or WebP file")
    raise PresetError(f"cannot read the image: it is {kind}; ComfyUI saves its workflow in PNG and WebP images "
                      "and MP4 videos")


def _png_texts(data: bytes) -> dict[str, tuple[bytes, str]]:
    texts: dict[str, tuple[bytes, str]] = {}
    at = len(PNG_SIGNATURE)
    for _ in range(MAX_CHUNKS):
        if at + 8 > len(data):
            return _found(texts, f"the PNG is cut short at byte {at:,}" if at < len(data) else "")
        length, kind = struct.unpack_from(">I4s", data, at)
        start, end = at + 8, at + 8 + length
        if kind == b"IEND":
            return texts
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            key = data[start:min(end, start + 80)].split(b"\0", 1)[0].decode("latin-1")
            if key in KEYS and key not in texts:
                name = f"the PNG's {kind.decode()} chunk {key!r}"
                if end + 4 > len(data):
                    raise PresetError(f"cannot read the image: {name} is cut short")
                if zlib.crc32(memoryview(data)[at + 4:end]) != struct.unpack_from(">I", data, end)[0]:
                    raise PresetError(f"cannot read the image: {name} is damaged (its checksum does not match)")
                texts[key] = _png_text(data, kind, start + len(key) + 1, end, name)
        if end + 4 > len(data):
            return _found(texts, f"the PNG is cut short in its {shown(kind.decode('latin-1'))!r} chunk")
        at = end + 4
    raise PresetError(f"cannot read the image: the PNG has more than {MAX_CHUNKS:,} chunks")


def _png_text(data: bytes, kind: bytes, at: int, end: int, name: str) -> tuple[bytes, str]:
    """One text chunk's text after its keyword: tEXt Latin-1, zTXt Latin-1 compressed, iTXt UTF-8 maybe compressed."""
    if kind == b"tEXt":
        return data[at:end], "latin-1"
    if kind == b"zTXt":
        return _unpack(data[at + 1:end], name), "latin-1"
    compressed = data[at:at + 1] == b"\1"
    language = data.find(b"\0", at + 2, end)
    translated = data.find(b"\0", language + 1, end) if language >= 0 else -1
    if translated < 0:
        raise PresetError(f"cannot read the image: {name} is damaged (its header does not end)")
    text = data[translated + 1:end]
    return (_unpack(text, name) if compressed else text), "utf-8"


def _unpack(packed: bytes, name: str) -> bytes:
    limit = UNPACKED_ALLOWED + UNPACK_RATIO * len(packed)
    unpacker = zlib.decompressobj()
    try:
        text = unpacker.decompress(packed, limit)
    except zlib.error:
        raise PresetError(f"cannot read the image: {name} is damaged (its compressed text does not unpack)") from None
    if unpacker.unconsumed_tail:
        raise PresetError(f"cannot read the image: {name} unpacks to more than {limit:,} bytes")
    if not unpacker.eof:
        raise PresetError(f"cannot read the image: {name} is damaged (its compressed text is cut short)")
    return text


def _webp_texts(data: bytes) -> dict[str, tuple[bytes, str]]:
    end = min(len(data), 8 + struct.unpack_from("<I", data, 4)[0])
    at = 12
    for _ in range(MAX_CHUNKS):
        if at + 8 > end:
            return {}
        kind, length = struct.unpack_from("<4sI", data, at)
        if kind == b"EXIF":
            if at + 8 + length > len(data):
                raise PresetError("cannot read the image: the WebP's EXIF chunk is cut short")
            return _exif_texts(data, at + 8, at + 8 + length)
        at += 8 + length + (length & 1)
    raise PresetError(f"cannot read the image: the WebP has more than {MAX_CHUNKS:,} chunks")


def _exif_texts(data: bytes, start: int, end: int) -> dict[str, tuple[bytes, str]]:
    """The ``workflow:`` and ``prompt:`` strings in the first directory of the EXIF payload at ``data[start:end]``."""
    if data[start:start + 6] == b"Exif\0\0":  # Pillow writes this prefix; libwebp's tools do not
        start += 6
    order = {b"II": "<", b"MM": ">"}.get(data[start:start + 2])
    damaged = PresetError("cannot read the image: the WebP's EXIF data is damaged")
    if order is None or end - start < 8:
        raise damaged
    magic, directory = struct.unpack_from(order + "HI", data, start + 2)
    first = start + directory
    if magic != 42 or first + 2 > end:
        raise damaged
    count = struct.unpack_from(order + "H", data, first)[0]
    if first + 2 + 12 * count > end:
        raise damaged
    texts: dict[str, tuple[bytes, str]] = {}
    for n in range(count):
        tag, kind, length, offset = struct.unpack_from(order + "HHII", data, first + 2 + 12 * n)
        if kind not in (1, 2, 7):  # BYTE, ASCII, UNDEFINED: the types text is stored as
            continue
        at = first + 2 + 12 * n + 8 if length <= 4 else start + offset
        if at + length > end:
            raise PresetError(f"cannot read the image: the WebP's EXIF tag 0x{tag:04x} points past its end")
        head = data[at:at + min(length, 9)]
        key = next((k for k in KEYS if head.startswith(k.encode() + b":")), None)
        if key is not None and key not in texts:
            texts[key] = data[at + len(key) + 1:at + length].rstrip(b"\0"), "utf-8"
    return texts


def video_texts(data: bytes) -> dict[str, tuple[bytes, str]]:
    """``{"workflow": (text, "utf-8"), "prompt": ...}`` from an MP4's metadata items (``moov/udta/meta`` or
    ``moov/meta``), whichever it carries."""
    moov = _box(data, 0, len(data), b"moov", "the video")
    if moov is None:
        raise PresetError("cannot read the video: it has no moov box (is the file cut short?)")
    for parent in (moov, _box(data, *moov, b"udta", "the video's moov box")):
        meta = parent and _box(data, *parent, b"meta", "the video's metadata")
        if meta:
            start, end = meta
            if data[start + 4:start + 8] != b"hdlr":  # ISO's meta is a full box: version and flags first
                start += 4
            texts = _mdta_items(data, start, end)
            if texts:
                return texts
    return {}


def _boxes(data: bytes, start: int, end: int, where: str):
    """(type, payload start, payload end) of each box in ``data[start:end]``."""
    at = start
    for _ in range(MAX_CHUNKS):
        if at + 8 > end:
            return
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if at + 16 > end:
                raise PresetError(f"cannot read {where}: a box header is cut short")
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise PresetError(f"cannot read {where}: its {shown(kind.decode('latin-1'))!r} box is damaged or cut short")
        yield kind, at + header, at + size
        at += size
    raise PresetError(f"cannot read {where}: it has more than {MAX_CHUNKS:,} boxes")


def _box(data: bytes, start: int, end: int, kind: bytes, where: str) -> tuple[int, int] | None:
    return next(((a, b) for k, a, b in _boxes(data, start, end, where) if k == kind), None)


def _mdta_items(data: bytes, start: int, end: int) -> dict[str, tuple[bytes, str]]:
    names: list[bytes] = []
    texts: dict[str, tuple[bytes, str]] = {}
    where = "the video's metadata"
    for kind, a, b in _boxes(data, start, end, where):
        if kind == b"keys" and b - a >= 8:
            count, at = struct.unpack_from(">I", data, a + 4)[0], a + 8
            for _ in range(min(count, MAX_CHUNKS)):
                if at + 8 > b:
                    break
                size = struct.unpack_from(">I", data, at)[0]
                if size < 8 or at + size > b:
                    raise PresetError(f"cannot read {where}: its keys table is damaged")
                names.append(data[at + 8:at + size])
                at += size
        elif kind == b"ilst":
            for index, c, d in _boxes(data, a, b, where):
                number = struct.unpack(">I", index)[0]
                name = names[number - 1].decode("latin-1") if 1 <= number <= len(names) else ""
                if name in KEYS and name not in texts:
                    value = _box(data, c, d, b"data", where)
                    if value is not None and value[1] - value[0] >= 8:
                        texts[name] = data[value[0] + 8:value[1]], "utf-8"  # type and locale, then the text
    return texts


def _found(texts: dict[str, tuple[bytes, str]], cut: str) -> dict[str, tuple[bytes, str]]:
    """What a PNG that ends early carries: its text, where that came before the cut, else why there is none."""
    if texts or not cut:
        return texts
    raise PresetError(f"cannot read the image: {cut}, before any ComfyUI workflow")
