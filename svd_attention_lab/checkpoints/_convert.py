"""``python -m svd_attention_lab.checkpoints convert``: a diffusers SVD folder <-> one single-file checkpoint,
both ways.

Streams: one tensor in memory at a time. Writes atomically: a file goes to a temporary name beside
the output and is moved into place at the end; a folder is built beside the output and renamed.
Nothing existing is replaced without ``force``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from pathlib import Path
from typing import BinaryIO

import torch

from ._configs import check_configs, svd_xt_config
from ._detection import comfyui_detection_note
from ._errors import CheckpointError
from svd_attention_lab.files import atomic_folder, atomic_output, atomic_write_bytes, check_output, regular_file
from ._safetensors import Header, TensorInfo, read_header, read_tensor, torch_dtype, write_tensors
from ._rules import Move
from ._fit import COMPONENTS, LABELS, check_fits, read_json_object
from ._svd_file import CONFIGS_METADATA_KEY, ReadPlan, plan_read, plan_write, scheduler_config

WEIGHTS_FILE = {"unet": "diffusion_pytorch_model.safetensors", "vae": "diffusion_pytorch_model.safetensors",
                "image_encoder": "model.safetensors"}
CONFIG_FILE = {"unet": "config.json", "vae": "config.json", "image_encoder": "config.json",
               "scheduler": "scheduler_config.json", "feature_extractor": "preprocessor_config.json"}
FP16_WEIGHTS = re.compile(r"\.fp16(-\d{5}-of-\d{5})?\.safetensors$")  # diffusers' fp16 variant, shards included


class TensorFiles:
    """Tensors read by name, one at a time, from one or more ``.safetensors`` files."""

    def __init__(self, files: list[tuple[str, Path]]) -> None:  # (prefix, file); names are prefix + tensor name
        self._where: dict[str, tuple[BinaryIO, Header, TensorInfo]] = {}
        self._stack = contextlib.ExitStack()
        self.metadata: dict[str, str] = {}
        self.paths = [path for _, path in files]
        for prefix, path in files:
            header = read_header(path)
            f = self._stack.enter_context(path.open("rb"))
            self.metadata |= header.metadata
            self._where |= {prefix + t.name: (f, header, t) for t in header.tensors}
        self.shapes: dict[str, tuple[int, ...]] = {name: info.shape for name, (_, _, info) in self._where.items()}

    def __enter__(self) -> TensorFiles:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def dtype(self, name: str) -> torch.dtype:
        f, _, info = self._where[name]
        return torch_dtype(info, f.name)

    def read(self, name: str) -> torch.Tensor:
        f, header, info = self._where[name]
        return read_tensor(f, header, info)


def weight_files(folder: Path, component: str, prefer_fp16: bool = False) -> list[Path]:
    """A component's weights as diffusers reads them: the full-precision files, or the fp16 variant where
    only it is there (or where ``prefer_fp16`` and it is)."""
    files = sorted(p for p in (folder / component).glob("*.safetensors") if p.is_file())
    full = [p for p in files if not FP16_WEIGHTS.search(p.name) and "." not in p.name.removesuffix(".safetensors")]
    half = [p for p in files if FP16_WEIGHTS.search(p.name)]
    if not (full or half):
        found = sorted(p.name for p in (folder / component).iterdir()) if (folder / component).is_dir() else []
        raise CheckpointError(f"{folder} has no .safetensors weights for its {LABELS[component]} "
                              f"({component}/ holds {', '.join(found) or 'nothing'})")
    return (half if prefer_fp16 and half else full) or half


def check_folder_fits(folder: Path, component: str, prefer_fp16: bool = False) -> None:
    """A folder's part holds exactly its architecture's tensors (``check_fits``), read from the headers only."""
    config = read_json_object(folder / component / CONFIG_FILE[component])
    with TensorFiles([("", path) for path in weight_files(folder, component, prefer_fp16)]) as tensors:
        check_fits(component, config, tensors.shapes, f"{folder / component}")


@dataclasses.dataclass(frozen=True)
class ConvertReport:
    direction: str  # "folder -> file" or "file -> folder"
    tensors: int
    bytes_written: int
    notes: list[str]


def convert(src: str | os.PathLike, dst: str | os.PathLike, *, force: bool = False,
            frames: int | None = None) -> ConvertReport:
    """Folder -> single file when ``src`` is a folder; single file -> folder when it is a file."""
    src, dst = Path(src), Path(dst)
    if src.is_dir():
        return _folder_to_file(src, dst, force)
    return _file_to_folder(regular_file(src), dst, force, frames)


def _folder_to_file(src: Path, dst: Path, force: bool) -> ConvertReport:
    if dst.suffix != ".safetensors":
        raise CheckpointError(f"{src} is a folder, so it is converted to one file, and {dst} does not end in "
                              ".safetensors")
    model_index = read_json_object(src / "model_index.json") if (src / "model_index.json").is_file() else {}
    if model_index.get("_class_name") != "StableVideoDiffusionPipeline":
        raise CheckpointError(f"{src} is not a diffusers StableVideoDiffusionPipeline folder "
                              "(see its model_index.json)")
    config_files = [src / c / CONFIG_FILE[c] for c in CONFIG_FILE if (src / c / CONFIG_FILE[c]).is_file()]
    configs = {path.parent.name: read_json_object(path) for path in config_files}
    configs["model_index"] = model_index
    check_configs(configs, str(src))
    files = [(f"{c}/", path) for c in COMPONENTS for path in weight_files(src, c)]
    check_output(dst, force, [src / "model_index.json", *config_files, *(path for _, path in files)])
    with TensorFiles(files) as tensors:
        shapes = {c: {n.split("/", 1)[1]: s for n, s in tensors.shapes.items() if n.startswith(c + "/")}
                  for c in COMPONENTS}
        for component in COMPONENTS:  # what the loader accepts, and nothing else
            check_fits(component, configs.get(component, {}), shapes[component], f"{src}/{component}")
        moves = plan_write(shapes, configs)
        metadata = {CONFIGS_METADATA_KEY: json.dumps(configs, sort_keys=True)}
        written = _write_file(dst, force, moves, tensors, metadata)
    note = comfyui_detection_note({t.name: t.shape for t in read_header(dst).tensors}, dst.name)
    return ConvertReport("folder -> file", len(moves), written, [note] if note else [])


def _file_to_folder(src: Path, dst: Path, force: bool, frames: int | None) -> ConvertReport:
    with TensorFiles([("", src)]) as tensors:
        check_output(dst, force, tensors.paths)
        plan = plan_read(tensors.shapes, tensors.metadata, filename=str(src), frames=frames)
        missing = [LABELS[c] for c in COMPONENTS if c not in plan.moves]
        if missing:
            raise CheckpointError(f"{src} holds no {' or '.join(missing)}; a diffusers folder needs the whole pipeline")
        for component in COMPONENTS:  # what the loader accepts, and nothing else
            check_fits(component, plan.configs[component], plan.shapes[component], str(src))
        count = written = 0
        with atomic_folder(dst, replace=force) as build:
            for component in COMPONENTS:
                (build / component).mkdir()
                _write_json(build / component / CONFIG_FILE[component], plan.configs[component])
                moves = plan.moves[component]
                written += _write_file(build / component / WEIGHTS_FILE[component], False, moves, tensors, {})
                count += len(moves)
            parts = {"scheduler": scheduler_config(plan, tensors.read, str(src)),
                     "feature_extractor": plan.configs.get("feature_extractor") or svd_xt_config("feature_extractor")}
            for part, config in parts.items():
                (build / part).mkdir()
                _write_json(build / part / CONFIG_FILE[part], config)
            _write_json(build / "model_index.json", plan.configs.get("model_index") or svd_xt_config("model_index"))
    notes = [f"not read: {len(plan.ignored)} tensors ({_reasons(plan)})"] if plan.ignored else []
    return ConvertReport("file -> folder", count, written, notes)


def _reasons(plan: ReadPlan) -> str:
    counts: dict[str, int] = {}
    for reason in plan.ignored.values():
        counts[reason] = counts.get(reason, 0) + 1
    return "; ".join(f"{n} {reason}" for reason, n in counts.items())


def _write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def _write_file(dst: Path, force: bool, moves: list[Move], tensors: TensorFiles, metadata: dict[str, str]) -> int:
    """Stream ``moves`` into ``dst`` (atomically), each in its first source's dtype; return the bytes written."""
    entries = [(m.target, tensors.dtype(m.sources[0]), m.shape(tensors.shapes)) for m in moves]
    with atomic_output(dst, replace=force) as out:
        write_tensors(out, entries, lambda n: moves[n].apply([tensors.read(s) for s in moves[n].sources]), metadata)
        return out.tell()
