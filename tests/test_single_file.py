"""Single-file SGM checkpoints and the converter: frames bitwise those of the diffusers folder."""

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from svd_attention_lab.controls import Multipliers
from svd_attention_lab.checkpoints import UnetLayout, bake, convert, diffusers_to_sgm, release_name
from svd_attention_lab.checkpoints._cli import main as checkpoints_main
from patcher import PatchError
from svd_attention_lab.engine import (
    DEMO_MODEL_DIR,
    ModelLoadError,
    ModelSource,
    Previewer,
    RenderSettings,
    load_model,
    resolve_source,
)

FAST = RenderSettings(seed=6, frames=4, steps=3, decode_chunk_size=4)
M = Multipliers(self_temporal=0.4, cross_structural=1.6)
IMAGE = DEMO_MODEL_DIR.parents[2] / "examples" / "shapes-2.png"
WEIGHTED = ("unet", "vae", "image_encoder")


@pytest.fixture(scope="module")
def single_file(tmp_path_factory):
    """The demo model as one checkpoint in Stability's layout, written by the converter."""
    path = tmp_path_factory.mktemp("single") / "demo.safetensors"
    convert(DEMO_MODEL_DIR, path)
    return path


@pytest.fixture(scope="module")
def unet_file(tmp_path_factory, demo_model):
    """The demo UNet alone in SGM naming, without metadata, as a fine-tune might ship it."""
    unet = demo_model.pipe.unet
    layout = UnetLayout.from_config(unet.config)
    path = tmp_path_factory.mktemp("single") / "demo_unet.safetensors"
    save_file({diffusers_to_sgm(k, layout): v.contiguous() for k, v in unet.state_dict().items()}, str(path))
    return path


def frames(model, multipliers):
    comparison = Previewer(model).render(IMAGE, FAST, multipliers)
    return comparison.baseline, comparison.patched


def test_the_converted_file_has_stabilitys_layout(single_file):
    with safe_open(str(single_file), "pt") as f:
        keys = set(f.keys())
        configs = json.loads(f.metadata()["diffusers_configs"])
    prefixes = {"model.diffusion_model.", "first_stage_model.decoder.", "first_stage_model.encoder.",
                "conditioner.embedders.3.encoder.encoder.", "conditioner.embedders.3.encoder.quant_conv.",
                "conditioner.embedders.0.open_clip.model.visual."}
    assert {next(p for p in prefixes if k.startswith(p)) for k in keys} == prefixes  # nothing else, all there
    assert "conditioner.embedders.0.open_clip.model.visual.transformer.resblocks.1.attn.in_proj_weight" in keys
    assert "first_stage_model.decoder.conv_out.time_mix_conv.weight" in keys
    assert configs["unet"]["num_frames"] == 8
    assert configs["model_index"]["_class_name"] == "StableVideoDiffusionPipeline"


def test_a_single_file_renders_exactly_the_folders_frames(single_file, demo_model):
    loaded = load_model(str(single_file), device="cpu", dtype="float32")
    assert loaded.source.kind == "file" and loaded.source.location == str(single_file)
    for part in WEIGHTED:
        original = getattr(demo_model.pipe, part).state_dict()
        state = getattr(loaded.pipe, part).state_dict()
        assert state.keys() == original.keys() and all(torch.equal(v, original[k]) for k, v in state.items())
    for got, want in zip(frames(loaded, M), frames(demo_model, M)):  # baseline and patched
        assert np.array_equal(got, want)


def test_folder_to_file_to_folder_is_bitwise(single_file, tmp_path):
    out = tmp_path / "back"
    report = convert(single_file, out)
    assert report.direction == "file -> folder" and any("second copy" in n for n in report.notes)
    for part in WEIGHTED:
        name = "model.safetensors" if part == "image_encoder" else "diffusion_pytorch_model.safetensors"
        original, back = load_file(str(DEMO_MODEL_DIR / part / name)), load_file(str(out / part / name))
        assert back.keys() == original.keys() and all(torch.equal(back[k], original[k]) for k in original)
    for config in ("unet/config.json", "vae/config.json", "image_encoder/config.json",
                   "scheduler/scheduler_config.json", "feature_extractor/preprocessor_config.json", "model_index.json"):
        assert json.loads((out / config).read_text()) == json.loads((DEMO_MODEL_DIR / config).read_text())


def test_a_baked_single_file_renders_what_the_live_patch_renders(single_file, demo_model, tmp_path):
    baked = tmp_path / "baked.safetensors"
    bake(single_file, baked, M)
    loaded = load_model(str(baked), device="cpu", dtype="float32")
    baked_baseline, _ = frames(loaded, Multipliers())  # the baked weights, unpatched
    _, live_patched = frames(demo_model, M)
    assert np.array_equal(baked_baseline, live_patched)


def test_a_file_without_the_conditioners_encoder_encodes_the_same(single_file, demo_model, tmp_path):
    """As ComfyUI saves SVD: only first_stage_model's encoder, into which the converter folded quant_conv."""
    comfy = _with(single_file, tmp_path / "comfy.safetensors", drop="conditioner.embedders.3.")
    vae = load_model(str(comfy), device="cpu").pipe.vae
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        got, want = vae.encode(image).latent_dist.mean, demo_model.pipe.vae.encode(image).latent_dist.mean
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert torch.equal(vae.quant_conv.weight[:, :, 0, 0], torch.eye(8))


def test_a_unet_only_file_takes_the_rest_from_base(unet_file, demo_model):
    loaded = load_model(str(unet_file), device="cpu", dtype="float32", base="demo")
    assert loaded.source == ModelSource("file", str(unet_file.resolve()), base=resolve_source("demo"))
    assert loaded.from_base == ("vae", "image_encoder")
    assert loaded.describe().startswith(f"{unet_file.resolve()} (single file, SVD-architecture (8 frames); its VAE "
                                        f"and image encoder from {resolve_source('demo').location})")
    original = demo_model.pipe.unet.state_dict()
    assert all(torch.equal(v, original[k]) for k, v in loaded.pipe.unet.state_dict().items())
    for got, want in zip(frames(loaded, M), frames(demo_model, M)):
        assert np.array_equal(got, want)


def test_a_unet_only_file_without_base_names_what_it_lacks(unet_file):
    with pytest.raises(ModelLoadError, match="holds no VAE or image encoder: pass --base"):
        load_model(str(unet_file), device="cpu")


def test_the_badge_names_the_file_the_release_dtype_and_device(single_file, tmp_path):
    named = tmp_path / "svd_xt_1_1.safetensors"
    named.write_bytes(single_file.read_bytes())
    loaded = load_model(str(named), device="cpu", dtype="float32", frames=25)
    assert loaded.describe() == f"{named} (single file, SVD-XT 1.1) on cpu (float32)"
    assert release_name(14) == "SVD" and release_name(25, "svd_xt.safetensors") == "SVD-XT"


def test_the_converter_never_overwrites_without_force(single_file, tmp_path, capsys):
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"precious")
    assert checkpoints_main(["convert", str(DEMO_MODEL_DIR), str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err and out.read_bytes() == b"precious"
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    assert checkpoints_main(["convert", str(single_file), str(folder)]) == 2
    assert (folder / "keep.txt").read_text() == "mine"
    assert checkpoints_main(["convert", str(DEMO_MODEL_DIR), str(out), "--force"]) == 0
    assert "wrote" in capsys.readouterr().out and out.stat().st_size == single_file.stat().st_size
    assert checkpoints_main(["convert", str(single_file), str(folder), "--force"]) == 0
    assert not (folder / "keep.txt").exists() and (folder / "model_index.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "out.safetensors"]  # no temporary left


def test_a_failed_conversion_leaves_nothing_behind(single_file, tmp_path, monkeypatch):
    from svd_attention_lab.checkpoints._rules import Move

    def broken(*args):
        raise PatchError("disk full")

    monkeypatch.setattr(Move, "apply", broken)  # every tensor the converter makes
    with pytest.raises(PatchError, match="disk full"):
        convert(single_file, tmp_path / "folder")
    with pytest.raises(PatchError, match="disk full"):
        convert(DEMO_MODEL_DIR, tmp_path / "file.safetensors")
    assert list(tmp_path.iterdir()) == []


def _saved(path, tensors, metadata=None):
    save_file(tensors, str(path), metadata=metadata)
    return path


def _with(single_file, path, extra=None, drop=""):
    tensors = {k: v for k, v in load_file(str(single_file)).items() if not (drop and k.startswith(drop))}
    with safe_open(str(single_file), "pt") as f:
        metadata = f.metadata()
    return _saved(path, tensors | (extra or {}), metadata)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d, f: (d / "cut.safetensors").write_bytes(f.read_bytes()[:-1000]) and d / "cut.safetensors",
         "not a valid .safetensors file: incomplete metadata, file not fully covered"),
        (lambda d, f: (d / "p.safetensors").write_bytes(pickle.dumps({"a": 1})) and d / "p.safetensors", "pickle"),
        (lambda d, f: _saved(d / "sd15.safetensors", {"model.diffusion_model.input_blocks.1.1.proj_in.weight":
                                                        torch.zeros(4, 4), "cond_stage_model.x": torch.zeros(1)}),
         "tensors that are not part of SVD: cond_stage_model.x"),
        (lambda d, f: _saved(d / "wan.safetensors", {"blocks.0.self_attn.o.weight": torch.zeros(2, 2)}),
         "holds no SVD UNet tensors"),
        (lambda d, f: _with(f, d / "extra.safetensors", {"model_ema.decay": torch.zeros(1)}),
         "1 tensors that are not part of SVD: model_ema.decay"),
        (lambda d, f: _with(f, d / "no_decoder.safetensors", drop="first_stage_model.decoder.up.0."),
         "its VAE does not fit SVD's architecture: 36 tensors missing \\(decoder.up_blocks.2.resnets.0"),
        (lambda d, f: _with(f, d / "no_proj.safetensors", drop="conditioner.embedders.0.open_clip.model.visual.proj"),
         "its image encoder does not fit SVD's architecture: 1 tensors missing \\(visual_projection.weight\\)"),
    ],
    ids=["truncated", "pickle", "SD 1.5", "Wan", "unknown tensor", "incomplete VAE", "incomplete image encoder"],
)
def test_bad_single_files_are_refused_with_a_reason(single_file, tmp_path, make, message):
    with pytest.raises(ModelLoadError, match=message):
        load_model(str(make(tmp_path, single_file)), device="cpu")


def test_open_clips_text_tower_leftovers_are_known_not_unexpected(single_file, tmp_path, caplog):
    path = _with(single_file, tmp_path / "with_text.safetensors",
                 {"conditioner.embedders.0.open_clip.model.logit_scale": torch.ones(()),
                  "conditioner.embedders.0.open_clip.model.ln_final.weight": torch.ones(32)})
    with caplog.at_level("INFO", logger="svd_attention_lab.checkpoints._build"):
        load_model(str(path), device="cpu")
    assert "66 tensors not read" in caplog.text  # 64 of the encoder's second copy, 2 of the text tower
