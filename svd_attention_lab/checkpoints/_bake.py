"""``bake``: a copy of a checkpoint with the multipliers written into its weights; ``inspect``: what
they would touch. Both read the header through the safetensors library's validation first."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Callable

import torch

from svd_attention_lab.controls import Multipliers
from patcher import check_scalable, match_key, scale_tensor

from ._errors import CheckpointError
from svd_attention_lab.files import atomic_output, check_output
from ._safetensors import TensorInfo, copy_range, encode_header, read_header, read_tensor, torch_dtype

METADATA_KEY = "svd_attention_multiply"  # where bake records the whole setting (Multipliers.as_dict)
_COPY_CHUNK = 8 * 1024 * 1024


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
            check_scalable(torch_dtype(info, src), info.name)
            targets[info.name] = match
    if not targets:
        raise CheckpointError(
            f"{src} has no attention output projections (keys ending in attn1/attn2.to_out.0.weight/bias); "
            "is it an SVD UNet checkpoint?"
        )
    metadata = dict(header.metadata)
    metadata[METADATA_KEY] = json.dumps(multipliers.as_dict())

    with atomic_output(dst, replace=force, before_commit=_before_commit) as out, src.open("rb") as f:
        out.write(encode_header(header, metadata))
        buffer = memoryview(bytearray(_COPY_CHUNK))
        for info in header.tensors:  # validated: contiguous, in order, covering the data exactly
            if info.name in targets:
                match = targets[info.name]
                scaled = scale_tensor(read_tensor(f, header, info), multipliers.value(match.field, match.region))
                out.write(scaled.contiguous().view(torch.uint8).numpy().tobytes())
            else:
                copy_range(f, out, header.data_start + info.begin, info.end - info.begin, buffer)
        written = out.tell()

    patched: dict[str, int] = {}
    for match in targets.values():
        patched[match.field] = patched.get(match.field, 0) + 1
    return BakeReport(tensors=len(header.tensors), patched=patched, bytes_written=written)


def inspect_checkpoint(path: str | os.PathLike) -> list[tuple[TensorInfo, str, str]]:
    """The tensors of a checkpoint that the operation would scale, with their field and region."""
    found = []
    for info in read_header(path).tensors:
        match = match_key(info.name)
        if match is not None:
            found.append((info, match.field, match.region))
    return found
