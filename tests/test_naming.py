"""SVD UNet names, SGM (single files, ComfyUI) <-> diffusers: complete, one to one, shapes included."""

import json
from pathlib import Path

import pytest

from patcher import classify_key
from svd_attention_lab.checkpoints import UnetLayout, diffusers_to_sgm, sgm_to_diffusers
from svd_attention_lab.checkpoints._naming import SVD_LAYOUT, NamingError
from svd_attention_lab.engine import load_model
from bench.svd_xt import svd_xt_components
from tiny_models import tiny_unet

REAL = Path(__file__).resolve().parent / "fixtures" / "real"


@pytest.fixture(scope="module")
def svd_xt_unet():
    return svd_xt_components("meta")["unet"]


def test_every_real_sgm_key_maps_to_exactly_one_svd_xt_parameter(svd_xt_unet):
    real = json.loads((REAL / "svd_sgm_unet_keys__DiffSynth-Studio_svd_unet_from_civitai.json").read_text())
    mapped = [sgm_to_diffusers(k) for k in real]
    assert len(real) == 1428 and len(set(mapped)) == len(mapped)  # one to one
    assert set(mapped) == set(svd_xt_unet.state_dict())  # complete, nothing left over
    assert sorted(diffusers_to_sgm(k) for k in svd_xt_unet.state_dict()) == sorted(real)  # and back
    # the operation classifies a tensor the same under both names
    assert all(classify_key(k) == classify_key(sgm_to_diffusers(k)) for k in real)


@pytest.mark.parametrize("make", [lambda: tiny_unet(), lambda: load_model("demo", device="cpu").pipe.unet],
                         ids=["tiny (layers_per_block 2)", "demo (layers_per_block 1, attention in every up block)"])
def test_other_layouts_round_trip_with_their_shapes(make):
    unet = make()
    layout = UnetLayout.from_config(unet.config)
    state = unet.state_dict()
    sgm = {diffusers_to_sgm(k, layout): v.shape for k, v in state.items()}
    assert len(sgm) == len(state)
    assert {sgm_to_diffusers(k, layout): shape for k, shape in sgm.items()} == {k: v.shape for k, v in state.items()}


def test_prefixes_and_unknown_keys():
    key = "model.diffusion_model.input_blocks.1.1.time_stack.0.attn1.to_out.0.weight"
    expected = "down_blocks.0.attentions.0.temporal_transformer_blocks.0.attn1.to_out.0.weight"
    assert sgm_to_diffusers(key) == expected == sgm_to_diffusers(key.removeprefix("model."))  # ComfyUI's prefix
    assert diffusers_to_sgm(expected, SVD_LAYOUT, prefix="diffusion_model.") == key.removeprefix("model.")
    with pytest.raises(NamingError, match="not an SVD UNet key"):
        sgm_to_diffusers("model.diffusion_model.blocks.0.self_attn.o.weight")
    with pytest.raises(NamingError, match="input_blocks.1.0.mystery.weight. is not an SVD UNet key"):
        sgm_to_diffusers("model.diffusion_model.input_blocks.1.0.mystery.weight")
