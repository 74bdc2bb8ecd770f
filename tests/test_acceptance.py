"""One acceptance rule for a model's tensors, whatever the source: a part holds exactly its architecture's
tensors, each of its shape. ``convert`` refuses what the loader refuses (exit 2, one line, nothing
written), and a folder missing a tensor is refused before diffusers or transformers could make it up."""

import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from svd_attention_lab.checkpoints import convert
from svd_attention_lab.checkpoints._cli import main as checkpoints_main
from svd_attention_lab.engine import DEMO_MODEL_DIR, ModelLoadError, load_model

VISUAL = "conditioner.embedders.0.open_clip.model.visual."
LAYERS = VISUAL + "vision_model.encoder.layers."


@pytest.fixture(scope="module")
def comfyui_style(tmp_path_factory):
    """The demo model as ComfyUI's save node writes a checkpoint: the image encoder under OpenCLIP's prefix
    with transformers' names, and no second copy of the VAE encoder."""
    folder = tmp_path_factory.mktemp("comfy")
    stability = folder / "stability.safetensors"
    convert(DEMO_MODEL_DIR, stability)
    with safe_open(str(stability), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()
                   if not k.startswith((VISUAL, "conditioner.embedders.3."))}
        metadata = f.metadata()
    encoder = load_file(str(DEMO_MODEL_DIR / "image_encoder" / "model.safetensors"))
    tensors |= {VISUAL + k: v for k, v in encoder.items()}
    return tensors, metadata


def _q(tensors):
    return tensors[LAYERS + "0.self_attn.q_proj.weight"]


CASES = {
    "image-encoder layer 1 missing": lambda t: {k: v for k, v in t.items() if not k.startswith(LAYERS + "1.")},
    "layer 0's q_proj missing": lambda t: {k: v for k, v in t.items() if "layers.0.self_attn.q_proj" not in k},
    "visual_projection missing": lambda t: {k: v for k, v in t.items() if "visual_projection" not in k},
    "post_layernorm missing": lambda t: {k: v for k, v in t.items() if "post_layernorm" not in k},
    "an extra layer": lambda t: t | {k.replace("layers.0.", "layers.2."): v for k, v in t.items()
                                     if k.startswith(LAYERS + "0.")},
    "an unknown sub-key": lambda t: t | {LAYERS + "0.self_attn.gate.weight": _q(t)},
    "a non-numeric layer index": lambda t: t | {LAYERS + "x.self_attn.q_proj.weight": _q(t)},
    "a wrong shape": lambda t: t | {LAYERS + "0.self_attn.q_proj.weight": torch.zeros(3, 3)},
    "no VAE encoder": lambda t: {k: v for k, v in t.items() if not k.startswith("first_stage_model.encoder.")},
}


def test_the_comfyui_style_file_itself_converts_and_loads(tmp_path, comfyui_style):
    tensors, metadata = comfyui_style
    path = tmp_path / "comfy.safetensors"
    save_file(tensors, str(path), metadata)
    assert checkpoints_main(["convert", str(path), str(tmp_path / "folder")]) == 0
    load_model(str(path), device="cpu", dtype="float32")


@pytest.mark.parametrize("case", CASES)
def test_convert_and_the_loader_refuse_the_same_files(tmp_path, capsys, comfyui_style, case):
    tensors, metadata = comfyui_style
    path = tmp_path / "bad.safetensors"
    save_file({k: v.clone() for k, v in CASES[case](dict(tensors)).items()}, str(path), metadata)
    out = tmp_path / "folder"
    assert checkpoints_main(["convert", str(path), str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and len(error.strip().splitlines()) == 1 and "Traceback" not in error
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors"]
    with pytest.raises(ModelLoadError):
        load_model(str(path), device="cpu", dtype="float32")


@pytest.mark.parametrize("part, drop", [("image_encoder", "visual_projection.weight"),
                                        ("image_encoder", "vision_model.encoder.layers.0.self_attn.q_proj.bias"),
                                        ("vae", "decoder.conv_out.weight"),
                                        ("unet", "conv_in.bias")])
def test_a_folder_missing_a_tensor_is_refused_not_rendered(tmp_path, part, drop):
    folder = tmp_path / "svd"
    shutil.copytree(DEMO_MODEL_DIR, folder)
    weights = next((folder / part).glob("*.safetensors"))
    tensors = load_file(str(weights))
    del tensors[drop]
    save_file(tensors, str(weights))
    with pytest.raises(ModelLoadError, match=rf"{part}: its .* does not fit SVD's architecture: 1 tensors missing"):
        load_model(str(folder), device="cpu", dtype="float32")
    with pytest.raises(Exception, match="1 tensors missing"):  # and convert refuses the folder too
        convert(folder, tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


@pytest.mark.parametrize("text, message", [
    (b"[1, 2]", "must hold a JSON object, not list"),
    (b"not json", r"model_index.json is not JSON \(Expecting value at line 1 column 1\)"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
], ids=["a list", "not JSON", "nested 100,000 deep"])
def test_a_bad_model_index_is_named(tmp_path, text, message):
    folder = tmp_path / "svd"
    shutil.copytree(DEMO_MODEL_DIR, folder)
    (folder / "model_index.json").write_bytes(text)
    with pytest.raises(ModelLoadError, match=message):
        load_model(str(folder), device="cpu", dtype="float32")


def test_a_deeply_nested_configuration_in_a_file_is_refused_in_one_line(tmp_path, capsys, comfyui_style):
    tensors, metadata = comfyui_style
    path = tmp_path / "deep.safetensors"
    save_file(tensors, str(path), {**metadata, "diffusers_configs": "[" * 100_000 + "]" * 100_000})
    assert checkpoints_main(["convert", str(path), str(tmp_path / "folder")]) == 2
    assert "nested too deeply" in capsys.readouterr().err
    with pytest.raises(ModelLoadError, match="nested too deeply"):
        load_model(str(path), device="cpu", dtype="float32")
