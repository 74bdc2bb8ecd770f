"""``.safetensors`` headers validated by the safetensors library, then tensors read and written one at a
time with plain file reads (no pickle, no memory map, memory near one tensor)."""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from pathlib import Path
from typing import BinaryIO, Callable

import torch
from safetensors import SafetensorError, safe_open

from ._errors import CheckpointError
from svd_attention_lab.files import regular_file

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # safetensors' dtype code, e.g. "F16"
    shape: tuple[int, ...]
    begin: int  # byte offsets relative to the start of the data section
    end: int

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclasses.dataclass(frozen=True)
class Header:
    metadata: dict[str, str]
    tensors: list[TensorInfo]  # in file order
    data_start: int  # absolute offset of the data section


def read_header(path: str | os.PathLike) -> Header:
    """The header of a ``.safetensors`` file, after the ``safetensors`` library itself has validated
    it (UTF-8 JSON, known dtypes, integer shapes and offsets covering the data exactly once, string
    metadata). Anything else is refused in one line that names the file: pickles first, then what
    is not a regular file, then what the library rejects."""
    path = regular_file(path)
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(_PICKLE_MAGIC):
        raise CheckpointError(
            f"{path} is a PyTorch pickle checkpoint (.ckpt/.pt/.bin); pickles can run arbitrary code when "
            "loaded, so only .safetensors files are accepted"
        )
    try:
        with safe_open(path, framework="pt"):
            pass
    except (SafetensorError, OSError) as exc:
        reason = " ".join(str(exc).split()).removeprefix("Error while deserializing header: ")
        raise CheckpointError(f"{path} is not a valid .safetensors file: {reason}") from None
    # Validated: the header is a flat table of well-formed entries, so a plain parse is safe.
    with path.open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        raw = json.loads(f.read(length), object_pairs_hook=lambda pairs: _unique(pairs, path))
    metadata = raw.pop("__metadata__", None) or {}
    tensors = [TensorInfo(name, e["dtype"], tuple(e["shape"]), *e["data_offsets"]) for name, e in raw.items()]
    tensors.sort(key=lambda t: t.begin)
    return Header(metadata=metadata, tensors=tensors, data_start=8 + length)


def _unique(pairs: list[tuple[str, object]], path: Path) -> dict:
    table = dict(pairs)
    if len(table) != len(pairs):
        repeated = next(name for n, (name, _) in enumerate(pairs) if name in dict(pairs[:n]))
        raise CheckpointError(f"{path} is not a valid .safetensors file: the header names {repeated!r} twice")
    return table


def torch_dtype(info: TensorInfo, path: str | os.PathLike = "") -> torch.dtype:
    if info.dtype not in _DTYPES:
        raise CheckpointError(f"{path}: tensor {info.name!r} has dtype {info.dtype}, which this project does not read")
    return _DTYPES[info.dtype]


def read_tensor(f: BinaryIO, header: Header, info: TensorInfo) -> torch.Tensor:
    """One tensor, read with plain file reads into its own buffer (no memory map: nothing else stays resident)."""
    dtype = torch_dtype(info, getattr(f, "name", ""))
    f.seek(header.data_start + info.begin)
    data = bytearray(f.read(info.end - info.begin))
    if not data:
        return torch.empty(info.shape, dtype=dtype)
    return torch.frombuffer(data, dtype=dtype).reshape(info.shape)


def copy_range(src: BinaryIO, dst: BinaryIO, start: int, length: int, buffer: memoryview) -> None:
    """Copy bytes through one reused buffer, so memory stays flat however large the file."""
    src.seek(start)
    while length > 0:
        count = src.readinto(buffer[: min(len(buffer), length)])
        if not count:
            raise CheckpointError(f"{getattr(src, 'name', 'input file')} ended early")
        dst.write(buffer[:count])
        length -= count


def encode_header(header: Header, metadata: dict[str, str]) -> bytes:
    entries: dict[str, object] = {"__metadata__": metadata} if metadata else {}
    for t in header.tensors:
        entries[t.name] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [t.begin, t.end]}
    body = json.dumps(entries, separators=(",", ":")).encode()
    body += b" " * (-len(body) % 8)  # the format pads the header to 8-byte alignment with spaces
    return struct.pack("<Q", len(body)) + body


def dtype_code(dtype: torch.dtype) -> str:
    return next(code for code, d in _DTYPES.items() if d == dtype)


def write_tensors(out: BinaryIO, entries: list[tuple[str, torch.dtype, tuple[int, ...]]],
                  produce: Callable[[int], torch.Tensor], metadata: dict[str, str]) -> None:
    """Write a ``.safetensors`` file tensor by tensor: the header from the names, dtypes and shapes
    first, then ``produce(n)`` for each entry in order, so only one tensor is in memory at a time."""
    infos, offset = [], 0
    for name, dtype, shape in entries:
        size = dtype.itemsize
        for d in shape:
            size *= d
        infos.append(TensorInfo(name, dtype_code(dtype), tuple(shape), offset, offset + size))
        offset += size
    out.write(encode_header(Header(metadata, infos, 0), metadata))
    for n, info in enumerate(infos):
        tensor = produce(n)
        if tuple(tensor.shape) != info.shape or tensor.dtype != _DTYPES[info.dtype]:
            raise CheckpointError(f"{info.name}: made {tuple(tensor.shape)} {tensor.dtype}, "
                                  f"expected {info.shape} {info.dtype}")
        out.write(tensor.contiguous().view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
