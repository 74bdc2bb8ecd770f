"""SVD-XT at full size, on the meta device (shapes only, no memory): the published configuration
builds the real architecture, the patch finds what ComfyUI's node scales there, and the converter
covers every parameter."""

import json
from pathlib import Path

import pytest

from svd_attention_lab.checkpoints import COMPONENTS, constructor_kwargs, svd_xt_config
from svd_attention_lab.checkpoints._svd_file import plan_read, plan_write
from patcher import AttentionPatch
from svd_attention_lab.controls import FIELDS
from bench.svd_xt import svd_xt_components

REAL = Path(__file__).resolve().parent / "fixtures" / "real"


@pytest.fixture(scope="module")
def unet(svd_xt):
    return svd_xt["unet"]


def test_the_configuration_builds_svd_xts_attention_modules_in_order(unet):
    names = (REAL / "svd_xt_diffusers_attn_processor_names.txt").read_text().split()
    assert list(unet.attn_processors) == names and len(names) == 64


def test_the_patch_finds_32_tensors_per_multiplier_and_3_25_percent_of_the_parameters(unet):
    summary = AttentionPatch(unet).summary()
    assert [summary["groups"][f]["tensors"] for f in FIELDS] == [32, 32, 32, 32]
    assert summary["unet_parameters"] == 1_524_623_082
    assert summary["fraction"] == pytest.approx(0.0325, abs=0.0001)


@pytest.fixture(scope="module")
def svd_xt():
    return svd_xt_components("meta")


def test_the_converter_maps_every_svd_xt_parameter_both_ways_and_the_shapes_give_the_configuration(svd_xt):
    """Folder -> Stability's single file -> folder on the meta device: every tensor of the UNet, VAE
    and image encoder, shapes included, and the configurations derived from a file without metadata."""
    shapes = {c: {k: tuple(v.shape) for k, v in svd_xt[c].state_dict().items()} for c in COMPONENTS}
    configs = {c: svd_xt_config(c) for c in COMPONENTS}
    written = plan_write(shapes, configs)
    flat = {f"{c}/{k}": s for c, named in shapes.items() for k, s in named.items()}
    file_shapes = {m.target: m.shape(flat) for m in written}
    assert len(file_shapes) == len(written)  # one tensor per name
    real_unet = json.loads((REAL / "svd_sgm_unet_keys__DiffSynth-Studio_svd_unet_from_civitai.json").read_text())
    assert sorted(k for k in file_shapes if k.startswith("model.diffusion_model.")) == sorted(real_unet)

    plan = plan_read(file_shapes, {}, filename="svd_xt.safetensors")
    assert plan.shapes == shapes  # every parameter, nothing left over, the same shapes
    assert set(plan.ignored) == {k for k in file_shapes if k.startswith("first_stage_model.encoder.")}
    for component in COMPONENTS:
        derived, published = constructor_kwargs(plan.configs[component]), constructor_kwargs(configs[component])
        assert {k: derived[k] for k in published} == published
    assert plan_read(file_shapes, {}, filename="svd.safetensors").configs["unet"]["num_frames"] == 14
    assert plan_read(file_shapes, {}, filename="x.safetensors", frames=25).configs["unet"]["num_frames"] == 25
