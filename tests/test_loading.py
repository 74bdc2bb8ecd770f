"""Diffusers folders as people hold them: fp16-only, mixed, missing or pickled weights, odd configs."""

import json
import shutil

import pytest
import torch

from svd_attention_lab.engine import DEMO_MODEL_DIR, ModelLoadError, load_model


@pytest.fixture(scope="module")
def fp16_only(tmp_path_factory, demo_model):
    """The demo model saved as its fp16 variant only (``*.fp16.safetensors``), as many download SVD."""
    folder = tmp_path_factory.mktemp("fp16-only")
    pipe = load_model("demo", device="cpu", dtype="float32").pipe.to(torch.float16)
    pipe.save_pretrained(folder, variant="fp16", safe_serialization=True)
    assert not list(folder.glob("unet/*model.safetensors")) and list(folder.glob("unet/*.fp16.safetensors"))
    return folder


def halved(model) -> dict:
    return {k: v.half() for k, v in model.pipe.unet.state_dict().items()}


def test_an_fp16_only_folder_loads_on_the_cpu_upcast_to_float32(fp16_only, demo_model):
    model = load_model(str(fp16_only), device="cpu")
    assert model.dtype == torch.float32 and next(model.pipe.unet.parameters()).dtype == torch.float32
    expected = halved(demo_model)
    assert all(torch.equal(v.half(), expected[k]) for k, v in model.pipe.unet.state_dict().items())


def test_an_fp16_only_folder_stays_fp16_when_asked(fp16_only):
    model = load_model(str(fp16_only), device="cpu", dtype="float16")
    assert next(model.pipe.unet.parameters()).dtype == torch.float16


def test_a_mixed_folder_loads_each_part_from_what_it_has(fp16_only, tmp_path, demo_model):
    mixed = tmp_path / "mixed"
    shutil.copytree(DEMO_MODEL_DIR, mixed)
    shutil.rmtree(mixed / "unet")
    shutil.copytree(fp16_only / "unet", mixed / "unet")  # the UNet only as fp16, the rest full precision
    model = load_model(str(mixed), device="cpu")
    expected = halved(demo_model)
    assert all(torch.equal(v.half(), expected[k]) for k, v in model.pipe.unet.state_dict().items())
    vae = dict(demo_model.pipe.vae.state_dict())
    assert all(torch.equal(v, vae[k]) for k, v in model.pipe.vae.state_dict().items())


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda d: [p.unlink() for p in (d / "unet").glob("*.safetensors")],
         r"no \.safetensors weights for unet \(unet/ holds config\.json\)"),
        (lambda d: [p.rename(p.with_suffix(".bin")) for p in (d / "vae").glob("*.safetensors")],
         r"for vae \(vae/ holds config\.json, diffusion_pytorch_model\.bin\); pickle weights \(\.bin\) are refused"),
        (lambda d: shutil.rmtree(d / "image_encoder"), r"for image_encoder \(image_encoder/ holds nothing\)"),
    ],
    ids=["unet weights missing", "vae as a pickle", "no image encoder"],
)
def test_missing_weights_are_named_part_by_part(tmp_path, break_it, message):
    folder = tmp_path / "broken"
    shutil.copytree(DEMO_MODEL_DIR, folder)
    break_it(folder)
    with pytest.raises(ModelLoadError, match=message):
        load_model(str(folder), device="cpu")


def test_a_config_without_sample_size_takes_the_familys_native_size(tmp_path):
    folder = tmp_path / "no-size"
    shutil.copytree(DEMO_MODEL_DIR, folder)
    config = json.loads((folder / "unet" / "config.json").read_text())
    config["sample_size"] = None
    (folder / "unet" / "config.json").write_text(json.dumps(config))
    assert load_model(str(folder), device="cpu").native_size == (1024, 576)


def test_reference_numerics_are_the_default_and_diffusers_numerics_are_kept_on_request(demo_model):
    import torch

    from svd_attention_lab.engine import load_model, weights_key

    def eps(model):
        return sorted({m.eps for n, m in model.pipe.unet.named_modules()
                       if isinstance(m, torch.nn.GroupNorm) and ".resnets." in f".{n}"})

    assert demo_model.numerics == "reference" and eps(demo_model) == [1e-5]
    plain = load_model("demo", numerics="diffusers")
    assert eps(plain) == [1e-6, 1e-5] and plain.key.endswith(":diffusers") and demo_model.key.endswith(":reference")
    assert "diffusers' numerics" in plain.describe() and "numerics" not in demo_model.describe()
    assert weights_key(plain.source, plain.device, plain.dtype, "diffusers") == plain.key
    with pytest.raises(Exception, match="numerics must be one of reference, diffusers"):
        load_model("demo", numerics="fast")
