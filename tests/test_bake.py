from svd_attention_lab.controls import FIELDS
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from svd_attention_lab.checkpoints import bake
from svd_attention_lab.files import FileRefused
from svd_attention_lab.checkpoints._bake import METADATA_KEY
from svd_attention_lab.checkpoints._cli import main
from patcher import Multipliers, PatchError, classify_key
from tiny_models import sgm_state_dict, tiny_unet

ROOT = Path(__file__).resolve().parents[1]
M = Multipliers(self_structural=0.9, self_temporal=1.2, cross_structural=1.05, cross_temporal=0.5)


def run_cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """The command line's main in this process: its exit code and what it printed."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def load(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


@pytest.fixture(params=["diffusers", "sgm"])
def checkpoint(request, tmp_path):
    unet = tiny_unet()
    sd = unet.state_dict() if request.param == "diffusers" else sgm_state_dict(unet)
    # mixed dtypes, as in real fp16 checkpoints with some float32 leftovers
    sd = {k: (v.half() if i % 3 == 0 else v.bfloat16() if i % 3 == 1 else v).contiguous()
          for i, (k, v) in enumerate(sd.items())}
    path = tmp_path / "unet.safetensors"
    save_file(sd, str(path), metadata={"format": "pt", "modelspec.title": "tiny"})
    return path, sd


def test_bake_round_trip(checkpoint, tmp_path):
    src, sd = checkpoint
    out = tmp_path / "baked.safetensors"
    report = bake(src, out, M)
    assert report.patched == dict.fromkeys(FIELDS, 12)
    baked, metadata = load(out)
    assert list(baked) == list(load(src)[0])  # same keys, same order
    for name, tensor in sd.items():
        assert baked[name].dtype == tensor.dtype and baked[name].shape == tensor.shape
        field = classify_key(name)
        expected = tensor if field is None else (tensor.float() * getattr(M, field)).to(tensor.dtype)
        assert torch.equal(baked[name], expected), name
    assert metadata["format"] == "pt" and metadata["modelspec.title"] == "tiny"
    assert json.loads(metadata[METADATA_KEY]) == M.as_dict()
    assert list(tmp_path.glob(".*.part")) == []


def test_python_m_checkpoints_runs_the_command_line(tmp_path):
    src = tmp_path / "unet.safetensors"
    save_file(tiny_unet().state_dict(), str(src))
    done = subprocess.run([sys.executable, "-m", "svd_attention_lab.checkpoints", "bake", str(src),
                           str(tmp_path / "out.safetensors")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "scaled 48" in done.stdout, done.stderr
    refused = subprocess.run([sys.executable, "-m", "svd_attention_lab.checkpoints", "inspect",
                              str(tmp_path / "missing.safetensors")],
                             cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and "no such file" in refused.stderr


def test_cli_bake_and_inspect(checkpoint, tmp_path, capsys):
    src, _ = checkpoint
    out = tmp_path / "cli.safetensors"
    done = run_cli(capsys, "bake", str(src), str(out), "--self-temporal", "1.2", "--cross-temporal", "0.5")
    assert done.returncode == 0, done.stderr
    assert "scaled 48" in done.stdout
    assert json.loads(load(out)[1][METADATA_KEY])["self_temporal"] == 1.2

    again = run_cli(capsys, "bake", str(src), str(out))
    assert again.returncode == 2 and "already exists; pass --force" in again.stderr
    assert json.loads(load(out)[1][METADATA_KEY])["self_temporal"] == 1.2  # untouched

    forced = run_cli(capsys, "bake", str(src), str(out), "--force")
    assert forced.returncode == 0 and json.loads(load(out)[1][METADATA_KEY])["self_temporal"] == 1.0

    listing = run_cli(capsys, "inspect", str(src), "--json")
    assert listing.returncode == 0
    groups = json.loads(listing.stdout)
    assert {k: len(v) for k, v in groups.items()} == dict.fromkeys(FIELDS, 12)
    assert {e["region"] for e in groups["self_temporal"]} == {"down", "mid", "up"}
    text = run_cli(capsys, "inspect", str(src))
    assert "self_temporal: 12 tensors" in text.stdout


def test_bake_never_overwrites_its_input(checkpoint):
    src, _ = checkpoint
    before = src.read_bytes()
    for force in (False, True):
        with pytest.raises(FileRefused, match="refusing to overwrite the input"):
            bake(src, src, M, force=force)
    assert src.read_bytes() == before


def test_interrupted_bake_leaves_no_output(checkpoint, tmp_path):
    src, _ = checkpoint
    out = tmp_path / "out.safetensors"

    def crash() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bake(src, out, M, _before_commit=crash)
    assert not out.exists()
    assert list(tmp_path.glob(".*.part")) == []

    out.write_bytes(b"precious")
    with pytest.raises(KeyboardInterrupt):
        bake(src, out, M, force=True, _before_commit=crash)
    assert out.read_bytes() == b"precious"


def test_killed_bake_leaves_no_output(tmp_path):
    # A process killed mid-write can leave only its hidden temporary file, never OUT.
    big = tmp_path / "big.safetensors"
    save_file({"x": torch.zeros(64 * 1024 * 1024 // 4), "a.attn1.to_out.0.weight": torch.ones(4, 4)}, str(big))
    out = tmp_path / "out.safetensors"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import os, patcher\nfrom svd_attention_lab import checkpoints\n"
         "def die(): os._exit(9)\n"
         f"checkpoints.bake({str(big)!r}, {str(out)!r}, patcher.Multipliers(), _before_commit=die)"],
        cwd=ROOT,
    )
    assert proc.wait(timeout=120) == 9
    assert not out.exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(pickle.dumps({"state_dict": {}}, protocol=2)), "pickle checkpoint"),
        (lambda p: torch.save({"w": torch.ones(2)}, p), "pickle checkpoint"),
        (lambda p: p.write_bytes(b"hello world, not a checkpoint"), "not a valid .safetensors file"),
        (lambda p: save_file({"conv.weight": torch.ones(2, 2)}, str(p)), "has no attention output projections"),
    ],
    ids=["missing", "pickle", "torch-save-zip", "garbage", "no-matching-keys"],
)
def test_bad_inputs_fail_clearly_without_output(tmp_path, capsys, make, message):
    src = tmp_path / "model.ckpt"
    make(src)
    out = tmp_path / "out.safetensors"
    done = run_cli(capsys, "bake", str(src), str(out))
    assert done.returncode == 2
    assert message in done.stderr
    assert not out.exists()


def test_quantized_targets_are_refused(tmp_path):
    src = tmp_path / "q.safetensors"
    name = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.weight"
    save_file({name: torch.ones(2, 2, dtype=torch.int8)}, str(src))
    with pytest.raises(PatchError, match="int8"):
        bake(src, tmp_path / "out.safetensors", M)


def test_bake_streams_with_small_peak_memory(tmp_path):
    # ~416 MB checkpoint: 12 big untouched tensors and 4 large touched ones.
    src = tmp_path / "large.safetensors"
    tensors = {f"input_blocks.{i}.0.in_layers.2.weight": torch.full((8 * 1024 * 1024,), float(i)) for i in range(12)}
    for i in range(4):
        name = f"model.diffusion_model.output_blocks.{i}.1.time_stack.0.attn1.to_out.0.weight"
        tensors[name] = torch.ones(1024, 1024)
    save_file(tensors, str(src))
    del tensors
    size = src.stat().st_size
    out = tmp_path / "large-baked.safetensors"
    script = (
        "import patcher\nfrom svd_attention_lab import checkpoints\n"
        "rss = lambda field: int(next(l for l in open('/proc/self/status') if l.startswith(field)).split()[1])\n"
        "before = rss('VmRSS:')\n"
        f"checkpoints.bake({str(src)!r}, {str(out)!r}, patcher.Multipliers(self_temporal=2.0))\n"
        "print(before, rss('VmHWM:'))  # current RSS before, peak RSS after (kB)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    before_kb, after_kb = map(int, done.stdout.split())
    growth = (after_kb - before_kb) * 1024
    print(f"checkpoint {size / 2**20:.0f} MiB, peak RSS growth {growth / 2**20:.1f} MiB")
    assert 0 <= out.stat().st_size - size < 4096  # only the header grows (metadata)
    assert growth < size / 8
    with safe_open(str(out), "pt") as f:
        assert torch.equal(f.get_tensor("model.diffusion_model.output_blocks.3.1.time_stack.0.attn1.to_out.0.weight"),
                           torch.full((1024, 1024), 2.0))
        assert torch.equal(f.get_slice("input_blocks.11.0.in_layers.2.weight")[:4], torch.full((4,), 11.0))
