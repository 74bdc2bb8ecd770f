"""Hostile ``.safetensors`` files through every command that reads one: ``inspect``, ``bake``,
``convert`` and ``python -m svd_attention_lab --model``. Each is refused in one line that names the file,
exit status 2, nothing written, and peak memory stays small whatever the header claims."""

from __future__ import annotations

import json
import re
import os
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from svd_attention_lab.checkpoints._cli import main as checkpoints_main
from svd_attention_lab.__main__ import main as preview_main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "shapes-1.png"
UNET = "model.diffusion_model."
ATTN = UNET + "input_blocks.1.1.transformer_blocks.0.attn1.to_out.0.weight"
MAX_GROWTH = 256 * 2**20  # peak RSS growth allowed for refusing one file


def _raw(header: bytes | str, data: bytes = b"", length: int | None = None) -> bytes:
    header = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(header) if length is None else length) + header + data


def _entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape, "data_offsets": list(offsets)}


def _header(entries: dict, **extra) -> str:
    return json.dumps({**extra, **entries})


def _unet_file(path: Path, keys: list[str], metadata: dict | None = None) -> None:
    save_file({k: torch.ones(2, 2) for k in keys}, str(path), metadata=metadata)


def _configs(**unet) -> dict:
    config = {"block_out_channels": [64, 128], "layers_per_block": 1, "num_frames": 4} | unet
    return {"diffusers_configs": json.dumps({"unet": config})}


# name -> how to make it (in a folder), what every refusal must say
FORMAT_CASES = {
    "truncated": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry()}), b"\0" * 4)), "file not fully covered"),
    "trailing bytes": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry()}), b"\0" * 12)), "file not fully covered"),
    "overlap": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry(), "b": _entry(shape=(1,), offsets=(4, 8))}),
                                             b"\0" * 8)), "invalid offset"),
    "gap": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry(shape=(1,), offsets=(0, 4)),
                                                  "b": _entry(shape=(1,), offsets=(8, 12))}), b"\0" * 12)),
                                                  "invalid offset"),
    "alias": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry(), "b": _entry()}), b"\0" * 8)), "invalid offset"),
    "repeated name": (lambda p: p.write_bytes(_raw(
        '{"%s": %s, "%s": %s}' % (ATTN, json.dumps(_entry()), ATTN, json.dumps(_entry())), b"\0" * 8)),
        "names .* twice"),
    "deep nesting": (lambda p: p.write_bytes(_raw('{"__metadata__": ' + "[" * 100_000 + "]" * 100_000 + "}")),
                     "invalid JSON in header"),
    "dtype as list": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry(dtype=["F32"])}), b"\0" * 8)), "invalid JSON"),
    "shape as text": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry(shape="2")}), b"\0" * 8)), "invalid JSON"),
    "shape with null": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry(shape=[None])}), b"\0" * 8)),
                        "invalid JSON"),
    "huge text shape": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry(shape=["x", 250_000_000])}), b"\0" * 8)),
                        "invalid JSON"),
    "overflowing shape": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry(shape=[2**40, 2**40])}), b"\0" * 8)),
                          "overflow"),
    "Infinity offsets": (lambda p: p.write_bytes(_raw(
        '{"%s": {"dtype": "F32", "shape": [2], "data_offsets": [0, Infinity]}}' % ATTN, b"\0" * 8)), "invalid JSON"),
    "UTF-16 header": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry()}).encode("utf-16"), b"\0" * 8)), "UTF-8"),
    "BOM header": (lambda p: p.write_bytes(_raw(b"\xef\xbb\xbf" + _header({ATTN: _entry()}).encode(), b"\0" * 8)),
                   "invalid JSON"),
    "header past the end": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry()}), b"\0" * 8, length=10**9)),
                            "not a valid .safetensors file"),
    "header length 2**63": (lambda p: p.write_bytes(_raw(b"{}", length=2**63)), "not a valid .safetensors file"),
    "metadata not text": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry()}, __metadata__={"a": 1}), b"\0" * 8)),
                          "invalid JSON"),
    "unknown dtype": (lambda p: p.write_bytes(_raw(_header({ATTN: _entry(dtype="X9")}), b"\0" * 8)), "unknown variant"),
    "empty file": (lambda p: p.write_bytes(b""), "not a valid .safetensors file"),
    "FIFO": (lambda p: os.mkfifo(p), "is a FIFO"),
    "folder": (lambda p: p.mkdir(), "is a folder|not a diffusers pipeline folder"),
    "link to /dev/zero": (lambda p: p.symlink_to("/dev/zero"), "is a device"),
}
# Valid files whose content is not an SVD checkpoint: refused where the content is read
CONTENT_CASES = {
    "downsampler at input_blocks.0": (lambda p: _unet_file(p, [ATTN, UNET + "input_blocks.0.0.op.weight"]),
                                      "input_blocks.0 holds a downsampler"),
    "block index not a number": (lambda p: _unet_file(p, [ATTN, UNET + "input_blocks.x.0.in_layers.0.weight"]),
                                 "has no numeric block index"),
    "a billion resnets per block": (lambda p: _unet_file(p, [ATTN, UNET + "input_blocks.999999999.0.op.weight"]),
                                    "block indices imply 999999998 resnets per block"),
    "block_out_channels 1e6": (lambda p: _unet_file(p, [ATTN], _configs(block_out_channels=[1_000_000])),
                               "unet block_out_channels must be between 1 and 8192, got 1e\\+06"),
    "layers_per_block 100000": (lambda p: _unet_file(p, [ATTN], _configs(layers_per_block=100_000)),
                                "unet layers_per_block must be between 1 and 16"),
    "a string for a number": (lambda p: _unet_file(p, [ATTN], _configs(num_frames="25")),
                              "unet num_frames must be a whole number, got '25'"),
    "image_size 1.28e6": (lambda p: _unet_file(p, [ATTN], {"diffusers_configs": json.dumps(
        {"image_encoder": {"image_size": 1_280_000}})}), "image_encoder image_size must be between 1 and 4096"),
    "num_train_timesteps 1e10": (lambda p: _unet_file(p, [ATTN], {"diffusers_configs": json.dumps(
        {"scheduler": {"num_train_timesteps": 10**10}})}), "scheduler num_train_timesteps must be between"),
    "configs not JSON": (lambda p: _unet_file(p, [ATTN], {"diffusers_configs": "{nope"}),
                         "diffusers_configs is not JSON"),
}


def _surfaces(file: Path, out: Path) -> dict:
    return {
        "inspect": lambda: checkpoints_main(["inspect", str(file)]),
        "bake": lambda: checkpoints_main(["bake", str(file), str(out / "baked.safetensors"), "--self-temporal", "1.2"]),
        "convert": lambda: checkpoints_main(["convert", str(file), str(out / "folder"), "--force"]),
        "--model": lambda: preview_main(["--model", str(file), "--image", str(EXAMPLE), "--out", str(out / "v.mp4"),
                                         "--frames", "2", "--steps", "1"]),
    }


def _peak_kib() -> int:
    return int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1])


@pytest.fixture(scope="module", autouse=True)
def _warm():
    import diffusers  # noqa: F401  # what --model imports on its first call, outside the memory measured
    import transformers  # noqa: F401


def _refuse(tmp_path, make, message, surface, capsys):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir(), out.mkdir()
    file = inputs / "model.safetensors"
    make(file)
    capsys.readouterr()
    Path("/proc/self/clear_refs").write_text("5")  # restart the peak-RSS counter
    before = _peak_kib()
    code = _surfaces(file, out)[surface]()
    growth = (_peak_kib() - before) * 1024
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("error: ") and str(file) in err[0], err
    assert re.search(message, err[0]), err[0]
    assert list(out.iterdir()) == [] and [p.name for p in inputs.iterdir()] == ["model.safetensors"]
    assert growth < MAX_GROWTH, f"peak RSS grew {growth / 2**20:.0f} MiB"


@pytest.mark.parametrize("surface", ["inspect", "bake", "convert", "--model"])
@pytest.mark.parametrize("case", list(FORMAT_CASES))
def test_malformed_files_are_refused_everywhere(tmp_path, capsys, case, surface):
    _refuse(tmp_path, *FORMAT_CASES[case], surface, capsys)


@pytest.mark.parametrize("surface", ["convert", "--model"])
@pytest.mark.parametrize("case", list(CONTENT_CASES))
def test_files_that_are_not_svd_are_refused_where_they_are_read(tmp_path, capsys, case, surface):
    _refuse(tmp_path, *CONTENT_CASES[case], surface, capsys)


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory):
    """A copy of the demo model's folder and its single file, side by side with a neighbour."""
    import shutil

    from svd_attention_lab.engine import DEMO_MODEL_DIR

    root = tmp_path_factory.mktemp("models")
    shutil.copytree(DEMO_MODEL_DIR, root / "demo")
    assert checkpoints_main(["convert", str(root / "demo"), str(root / "demo.safetensors")]) == 0
    (root / "notes.txt").write_text("a neighbour")
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args", [
    ["convert", "demo", "demo/unet/diffusion_pytorch_model.safetensors", "--force"],  # over a file it reads
    ["convert", "demo.safetensors", ".", "--force"],  # over the folder that holds its input
    ["convert", "demo.safetensors", "demo.safetensors", "--force"],
    ["bake", "demo.safetensors", "demo.safetensors", "--force"],
    ["bake", "demo/unet/diffusion_pytorch_model.safetensors", "demo/unet/diffusion_pytorch_model.safetensors",
     "--force"],
],
ids=["folder->its own weights", "file->its own folder", "file->itself", "bake->itself", "bake folder weights->itself"])
def test_no_command_writes_over_its_own_input_whatever_force_says(demo_copy, capsys, monkeypatch, args):
    monkeypatch.chdir(demo_copy)
    before = _tree(demo_copy)
    assert checkpoints_main(args) == 2
    err = capsys.readouterr().err
    assert "refusing to" in err and "input" in err, err
    assert _tree(demo_copy) == before


def test_outputs_get_the_permissions_of_any_new_file(demo_copy, tmp_path, monkeypatch):
    from svd_attention_lab import files

    old = os.umask(0o027)
    try:
        monkeypatch.setattr(files, "_UMASK", files._current_umask())  # the umask is read once, at import
        files.atomic_write_bytes(tmp_path / "a.bin", b"x")
        with files.atomic_folder(tmp_path / "f") as build:
            (build / "inside").write_text("x")
    finally:
        os.umask(old)
        monkeypatch.undo()
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o750
    out = tmp_path / "folder"
    assert checkpoints_main(["convert", str(demo_copy / "demo.safetensors"), str(out)]) == 0
    expected_file, expected_dir = 0o666 & ~old, 0o777 & ~old
    assert (out / "unet" / "diffusion_pytorch_model.safetensors").stat().st_mode & 0o777 == expected_file
    assert out.stat().st_mode & 0o777 == expected_dir
    assert checkpoints_main(["bake", str(demo_copy / "demo.safetensors"), str(tmp_path / "b.safetensors")]) == 0
    assert (tmp_path / "b.safetensors").stat().st_mode & 0o777 == expected_file
