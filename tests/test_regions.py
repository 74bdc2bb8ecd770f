"""Per-region factors: a table of down / mid / up x the four fields multiplying the sliders; all 1 is
bitwise the plain patch, and each factor reaches its region's tensors only."""

from presets._comfyui import LAB_NODE_TYPE
from presets._comfyui import LAB_INPUTS
import argparse
import json

import numpy as np
import pytest
import torch

import presets
from svd_attention_lab.controls import FIELDS, Multipliers, Regions, add_multiplier_options, multipliers_from_args
from svd_attention_lab.checkpoints import bake
from patcher import AttentionPatch, match_key, patch_state_dict, scale_tensor
from svd_attention_lab.engine import DEMO_MODEL_DIR, Previewer, RenderSettings
from tiny_models import tiny_unet

IMAGE = DEMO_MODEL_DIR.parents[2] / "examples" / "shapes-2.png"
UP_DAMPED = Multipliers(self_temporal=0.5, cross_structural=1.4,
                        regions=Regions.from_dict({"up": {"self_temporal": 0.5}, "mid": {"cross_structural": 0.0}}))


def test_the_table_keeps_only_factors_other_than_one():
    assert Regions.from_dict({"up": {"self_temporal": 1.0}}) == Regions() and Multipliers(regions=Regions()).is_identity
    assert not Multipliers(regions=Regions.from_flat({"down.cross_temporal": 2})).is_identity
    assert UP_DAMPED.regions.flat() == {"mid.cross_structural": 0.0, "up.self_temporal": 0.5}
    for bad, message in [({"left": {"self_temporal": 1}}, "unknown region 'left'"),
                         ({"up": {"self_temporl": 1}}, "unknown multiplier 'self_temporl' in region up"),
                         ({"up": {"self_temporal": 11}}, "up.self_temporal must be between 0.0 and 10.0")]:
        with pytest.raises(ValueError, match=message):
            Regions.from_dict(bad)


def test_each_factor_reaches_its_regions_tensors_only_and_restores_bitwise():
    unet = tiny_unet()
    original = {k: v.clone() for k, v in unet.state_dict().items()}
    patch = AttentionPatch(unet)
    patch.apply(UP_DAMPED)
    for name, tensor in unet.state_dict().items():
        match = match_key(name)
        if match is None:
            assert torch.equal(tensor, original[name])
            continue
        expected = getattr(UP_DAMPED, match.field) * UP_DAMPED.regions.factor(match.region, match.field)
        assert torch.equal(tensor, scale_tensor(original[name], expected)), name
    assert any(match_key(n) and match_key(n).region == "up" for n in original)
    patch.restore()
    assert all(torch.equal(v, original[k]) for k, v in unet.state_dict().items())


def test_all_ones_is_bitwise_the_plain_patch(demo_model):
    plain = Multipliers(self_temporal=0.5, cross_structural=1.4)
    neutral = plain.replace(regions=Regions.from_dict({r: dict.fromkeys(FIELDS, 1.0) for r in ("down", "mid", "up")}))
    assert neutral == plain
    settings = RenderSettings(seed=2, frames=4, steps=3, decode_chunk_size=4)
    first = Previewer(demo_model).render(IMAGE, settings, plain)
    again = Previewer(demo_model).render(IMAGE, settings, neutral)
    assert np.array_equal(first.patched, again.patched)
    regional = Previewer(demo_model).render(IMAGE, settings, UP_DAMPED)
    assert not np.array_equal(regional.patched, first.patched)


def test_bake_and_patch_state_dict_apply_the_regions(tmp_path):
    from safetensors.torch import load_file, save_file

    state = {k: v.contiguous() for k, v in tiny_unet().state_dict().items()}
    save_file(state, str(tmp_path / "unet.safetensors"))
    bake(tmp_path / "unet.safetensors", tmp_path / "baked.safetensors", UP_DAMPED)
    baked, expected = load_file(str(tmp_path / "baked.safetensors")), patch_state_dict(state, UP_DAMPED)
    assert all(torch.equal(baked[k], expected[k]) for k in state)
    from safetensors import safe_open

    with safe_open(str(tmp_path / "baked.safetensors"), "pt") as f:
        recorded = json.loads(f.metadata()["svd_attention_multiply"])
    assert recorded["regions"] == {"mid": {"cross_structural": 0.0}, "up": {"self_temporal": 0.5}}


def test_presets_links_and_the_comfyui_export_carry_or_name_the_regions():
    preset = presets.Preset("regional", UP_DAMPED)
    doc = preset.to_dict()
    assert doc["regions"] == {"mid": {"cross_structural": 0.0}, "up": {"self_temporal": 0.5}}
    assert presets.Preset.from_json(preset.to_json()) == preset
    query = presets.to_query(preset)
    assert "up.self_temporal=0.5" in query and presets.from_query(query)[0].multipliers == UP_DAMPED
    with pytest.raises(presets.PresetError, match="regions: unknown region 'side'"):
        presets.Preset.from_dict(doc | {"regions": {"side": {"self_temporal": 0.5}}})
    notes = presets.export_notes(UP_DAMPED, checkpoint="svd_xt.safetensors", image="in.png")  # the stock node
    assert len(notes) == 1 and "custom_nodes" in notes[0]  # cannot hold regions: the project's node does
    node = next(n for n in presets.to_ui_workflow(UP_DAMPED)["nodes"] if n["type"] == LAB_NODE_TYPE)
    values = dict(zip(LAB_INPUTS, node["widgets_values"]))
    assert node["type"] == LAB_NODE_TYPE and values["up_self_temporal"] == 0.5
    assert values["mid_cross_structural"] == 0.0 and values["self_temporal"] == 0.5
    assert presets.from_workflow(presets.to_ui_workflow(UP_DAMPED)).multipliers == UP_DAMPED


def test_the_command_line_flag():
    parser = argparse.ArgumentParser()
    add_multiplier_options(parser)
    args = parser.parse_args(["--self-temporal", "0.5", "--cross-structural", "1.4", "--region", "up.self_temporal=0.5",
                              "--region", "mid.cross_structural=0"])
    assert multipliers_from_args(args) == UP_DAMPED
    for bad, message in [("up.self_temporal", "must look like up.self_temporal=0.5"),
                         ("up.self_temporal=fast", "the factor must be a number"),
                         ("top.self_temporal=1.5", "unknown region 'top'")]:
        with pytest.raises(ValueError, match=message):
            multipliers_from_args(parser.parse_args(["--region", bad]))
