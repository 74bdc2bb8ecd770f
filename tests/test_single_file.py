"""Single-file SGM checkpoints (UNet from the file, the rest from --base): frames bitwise those of the folder."""

import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from controls import Multipliers
from patcher import UnetLayout, bake, diffusers_to_sgm
from preview import DEMO_MODEL_DIR, ModelLoadError, Previewer, RenderSettings, load_model

FAST = RenderSettings(seed=6, frames=4, steps=3, decode_chunk_size=4)
M = Multipliers(self_temporal=0.4, cross_structural=1.6)


@pytest.fixture(scope="module")
def unet_file(tmp_path_factory, demo_model):
    """The demo UNet as a single SGM-named file, as ComfyUI and Stability name a checkpoint's tensors."""
    unet = demo_model.pipe.unet
    layout = UnetLayout.from_config(unet.config)
    path = tmp_path_factory.mktemp("single") / "demo_unet.safetensors"
    save_file({diffusers_to_sgm(k, layout): v.contiguous() for k, v in unet.state_dict().items()}, str(path))
    return path


def frames(model, multipliers):
    comparison = Previewer(model).render(DEMO_MODEL_DIR.parent.parent / "examples" / "shapes-2.png", FAST, multipliers)
    return comparison.baseline, comparison.patched


def test_a_single_file_unet_renders_exactly_the_folders_frames(unet_file, demo_model):
    loaded = load_model(str(unet_file), device="cpu", dtype="float32", base="demo")
    assert loaded.source.kind == "file" and str(unet_file) in loaded.source.location
    original = demo_model.pipe.unet.state_dict()
    assert all(torch.equal(v, original[k]) for k, v in loaded.pipe.unet.state_dict().items())
    for got, want in zip(frames(loaded, M), frames(demo_model, M)):
        assert np.array_equal(got, want)


def test_a_baked_file_renders_what_the_live_patch_renders(unet_file, demo_model, tmp_path):
    baked = tmp_path / "baked.safetensors"
    bake(unet_file, baked, M)
    loaded = load_model(str(baked), device="cpu", dtype="float32", base="demo")
    baked_baseline, _ = frames(loaded, Multipliers())  # the baked weights, unpatched
    _, live_patched = frames(demo_model, M)
    assert np.array_equal(baked_baseline, live_patched)


def test_a_full_checkpoints_other_parts_are_listed_not_silently_dropped(unet_file, tmp_path, caplog):
    from safetensors.torch import load_file

    full = tmp_path / "full.safetensors"
    tensors = load_file(str(unet_file))
    tensors["first_stage_model.decoder.conv_in.weight"] = torch.zeros(2, 2)
    save_file(tensors, str(full))
    with caplog.at_level("WARNING"):
        load_model(str(full), device="cpu", base="demo")
    assert "1 non-UNet tensors (first_stage_model.decoder.conv_in.weight" in caplog.text


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d, f: (d / "cut.safetensors").write_bytes(f.read_bytes()[:-1000]) and d / "cut.safetensors",
         "offsets outside the file"),
        (lambda d, f: (d / "p.safetensors").write_bytes(pickle.dumps({"a": 1})) and d / "p.safetensors",
         "pickle"),
        (lambda d, f: _saved(d / "sd15.safetensors", {"model.diffusion_model.input_blocks.1.1.proj_in.weight":
                                                        torch.zeros(4, 4), "cond_stage_model.x": torch.zeros(1)}),
         "does not fit an SVD UNet"),
        (lambda d, f: _saved(d / "wan.safetensors", {"blocks.0.self_attn.o.weight": torch.zeros(2, 2)}),
         "holds no SVD UNet tensors"),
    ],
    ids=["truncated", "pickle", "another architecture", "Wan"],
)
def test_bad_single_files_are_refused_with_a_reason(unet_file, tmp_path, make, message):
    with pytest.raises(ModelLoadError, match=message):
        load_model(str(make(tmp_path, unet_file)), device="cpu", base="demo")


def _saved(path, tensors):
    save_file(tensors, str(path))
    return path
