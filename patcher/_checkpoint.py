"""Streaming read and rewrite of ``.safetensors`` checkpoints (no pickle, constant memory)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import torch

from ._errors import PatchError
from ._keys import match_key
from controls import Multipliers
from ._patch import check_scalable, scale_tensor

METADATA_KEY = "svd_attention_multiply"  # where bake records the four multipliers
_MAX_HEADER_BYTES = 100 * 1024 * 1024
_COPY_CHUNK = 8 * 1024 * 1024

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
    """Parse and check the header of a ``.safetensors`` file; refuse anything else, pickles first."""
    path = Path(path)
    if not path.is_file():
        raise PatchError(f"{path}: no such file")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if head.startswith(_PICKLE_MAGIC):
            raise PatchError(
                f"{path} is a PyTorch pickle checkpoint (.ckpt/.pt/.bin); pickles can run arbitrary code when "
                "loaded, so only .safetensors files are accepted"
            )
        if len(head) < 8:
            raise PatchError(f"{path} is not a .safetensors file (too short)")
        (length,) = struct.unpack("<Q", head)
        if length > min(_MAX_HEADER_BYTES, size - 8):
            raise PatchError(f"{path} is not a .safetensors file (bad header length {length})")
        try:
            raw = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PatchError(f"{path} is not a .safetensors file (header is not JSON: {exc})") from None
    if not isinstance(raw, dict):
        raise PatchError(f"{path} is not a .safetensors file (header is not a JSON object)")
    metadata = raw.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise PatchError(f"{path}: __metadata__ must map strings to strings")
    data_start = 8 + length
    tensors = []
    for name, entry in raw.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise PatchError(f"{path}: malformed header entry for {name!r}") from None
        if dtype not in _DTYPES:
            raise PatchError(f"{path}: tensor {name!r} has unknown dtype {dtype!r}")
        info = TensorInfo(name, dtype, shape, int(begin), int(end))
        itemsize = _DTYPES[dtype].itemsize
        if not 0 <= info.begin <= info.end or data_start + info.end > size or info.end - info.begin != info.numel * itemsize:
            raise PatchError(f"{path}: tensor {name!r} has offsets outside the file or of the wrong size")
        tensors.append(info)
    tensors.sort(key=lambda t: t.begin)
    return Header(metadata=metadata, tensors=tensors, data_start=data_start)


def read_tensor(f: BinaryIO, header: Header, info: TensorInfo) -> torch.Tensor:
    """One tensor, read with plain file reads into its own buffer (no memory map: nothing else stays resident)."""
    f.seek(header.data_start + info.begin)
    data = bytearray(f.read(info.end - info.begin))
    dtype = _DTYPES[info.dtype]
    if not data:
        return torch.empty(info.shape, dtype=dtype)
    return torch.frombuffer(data, dtype=dtype).reshape(info.shape)


def _copy_range(src: BinaryIO, dst: BinaryIO, start: int, length: int, buffer: memoryview) -> None:
    """Copy bytes through one reused buffer, so memory stays flat however large the file."""
    src.seek(start)
    while length > 0:
        count = src.readinto(buffer[: min(len(buffer), length)])
        if not count:
            raise PatchError("input file ended early")
        dst.write(buffer[:count])
        length -= count


def _encode_header(header: Header, metadata: dict[str, str]) -> bytes:
    entries: dict[str, object] = {"__metadata__": metadata} if metadata else {}
    for t in header.tensors:
        entries[t.name] = {"dtype": t.dtype, "shape": list(t.shape), "data_offsets": [t.begin, t.end]}
    body = json.dumps(entries, separators=(",", ":")).encode()
    body += b" " * (-len(body) % 8)  # the format pads the header to 8-byte alignment with spaces
    return struct.pack("<Q", len(body)) + body


@dataclasses.dataclass(frozen=True)
class BakeReport:
    tensors: int  # tensors in the file
    patched: dict[str, int]  # multiplier field -> tensors scaled
    bytes_written: int


def bake(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    multipliers: Multipliers,
    *,
    force: bool = False,
    _before_commit: Callable[[], None] | None = None,
) -> BakeReport:
    """Write a copy of ``src`` with the attention output projections scaled.

    Streams tensor by tensor, so memory stays near the size of the largest patched tensor. The
    copy is written to a temporary file beside ``dst`` and renamed into place at the end.
    """
    src, dst = Path(src), Path(dst)
    header = read_header(src)
    check_output(dst, force, (src,))
    targets = {}
    for info in header.tensors:
        match = match_key(info.name)
        if match is not None:
            check_scalable(_DTYPES[info.dtype], info.name)
            targets[info.name] = match
    if not targets:
        raise PatchError(
            f"{src} has no attention output projections (keys ending in attn1/attn2.to_out.0.weight/bias); "
            "is it an SVD UNet checkpoint?"
        )
    metadata = dict(header.metadata)
    metadata[METADATA_KEY] = json.dumps(multipliers.as_dict() | ({"regions": multipliers.regions.as_dict()}
                                                                 if not multipliers.regions.is_identity else {}))

    with atomic_output(dst, force, _before_commit) as out, src.open("rb") as f:
        out.write(_encode_header(header, metadata))
        buffer = memoryview(bytearray(_COPY_CHUNK))
        position = 0
        for info in header.tensors:
            _copy_range(f, out, header.data_start + position, info.begin - position, buffer)
            if info.name in targets:
                match = targets[info.name]
                scaled = scale_tensor(read_tensor(f, header, info), multipliers.value(match.field, match.region))
                out.write(scaled.contiguous().view(torch.uint8).numpy().tobytes())
            else:
                _copy_range(f, out, header.data_start + info.begin, info.end - info.begin, buffer)
            position = info.end
        data_end = src.stat().st_size - header.data_start
        _copy_range(f, out, header.data_start + position, data_end - position, buffer)
        written = out.tell()

    patched: dict[str, int] = {}
    for match in targets.values():
        patched[match.field] = patched.get(match.field, 0) + 1
    return BakeReport(tensors=len(header.tensors), patched=patched, bytes_written=written)


def check_output(dst: Path, force: bool, sources: tuple[Path, ...] = ()) -> None:
    """Refuse an output that is an input, that exists (without ``force``), or whose folder is missing."""
    if dst.exists() and any(dst.resolve() == s.resolve() for s in sources):
        raise PatchError(f"refusing to overwrite the input {dst}; choose another output path")
    if dst.exists() and not force:
        raise PatchError(f"{dst} already exists; pass --force to replace it")
    if not dst.parent.is_dir():
        raise PatchError(f"output folder {dst.parent} does not exist")


@contextlib.contextmanager
def atomic_output(dst: Path, force: bool, before_commit: Callable[[], None] | None = None) -> Iterator[BinaryIO]:
    """A file to write ``dst`` through: a temporary file beside it, synced and moved into place when
    the block ends without error (never over an existing file without ``force``), removed otherwise."""
    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if before_commit is not None:
            before_commit()
        commit(tmp, dst, force)
    finally:
        tmp.unlink(missing_ok=True)


def commit(tmp: Path, dst: Path, force: bool) -> None:
    """Move a finished temporary file into place; without ``force`` never replace an existing file."""
    if force:
        os.replace(tmp, dst)
        return
    # A hard link fails if dst appeared meanwhile, so an existing file is never replaced.
    try:
        os.link(tmp, dst)
    except FileExistsError:
        raise PatchError(f"{dst} already exists; pass --force to replace it") from None
    except OSError:  # file systems without hard links
        if dst.exists():
            raise PatchError(f"{dst} already exists; pass --force to replace it") from None
        os.replace(tmp, dst)


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
    out.write(_encode_header(Header(metadata, infos, 0), metadata))
    for n, info in enumerate(infos):
        tensor = produce(n)
        if tuple(tensor.shape) != info.shape or tensor.dtype != _DTYPES[info.dtype]:
            raise PatchError(f"{info.name}: made {tuple(tensor.shape)} {tensor.dtype}, expected {info.shape} {info.dtype}")
        out.write(tensor.contiguous().view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")


def inspect_checkpoint(path: str | os.PathLike) -> list[tuple[TensorInfo, str, str]]:
    """The tensors of a checkpoint that the operation would scale, with their field and region."""
    found = []
    for info in read_header(path).tensors:
        match = match_key(info.name)
        if match is not None:
            found.append((info, match.field, match.region))
    return found
