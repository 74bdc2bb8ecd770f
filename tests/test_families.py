"""Other video families: the patcher follows ComfyUI's SVD rule exactly and says what that means there."""

import pytest
import torch
from safetensors.torch import save_file

import patcher
from patcher import family_warnings
from patcher._families import detect_family
from test_bake import run_cli
from tiny_models import sgm_state_dict, tiny_unet


def animatediff_diffusers_keys():
    from diffusers import MotionAdapter

    adapter = MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=1, motion_num_attention_heads=2,
                            motion_norm_num_groups=8, motion_max_seq_length=8)
    return list(adapter.state_dict())


def modelscope_keys():
    from diffusers import UNet3DConditionModel

    unet = UNet3DConditionModel(block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=32,
                                attention_head_dim=4, down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"))
    return list(unet.state_dict())


# The original AnimateDiff motion-module files (mm_sd_v15_v2) name attention ``attention_blocks.N``.
ANIMATEDIFF_ORIGINAL = [
    f"down_blocks.0.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.{i}.to_out.0.{p}"
    for i in (0, 1) for p in ("weight", "bias")
] + ["down_blocks.0.motion_modules.0.temporal_transformer.proj_in.weight"]
# Wan 2.1 (ComfyUI's naming): attention over space and time at once, output projections ``o``.
WAN = [f"model.diffusion_model.blocks.{b}.{a}.{n}.{p}" for b in (0, 1) for a in ("self_attn", "cross_attn")
       for n in ("q", "k", "v", "o") for p in ("weight", "bias")]


@pytest.mark.parametrize(
    "keys, family, says",
    [
        (lambda: list(tiny_unet().state_dict()), "SVD", None),
        (lambda: list(sgm_state_dict(tiny_unet())), "SVD", None),
        (animatediff_diffusers_keys, "AnimateDiff",
         "of its 28 temporal attention output tensors it scales 14 as cross_structural, 14 as self_structural"),
        (lambda: ANIMATEDIFF_ORIGINAL, "AnimateDiff",
         "of its 4 temporal attention output tensors it scales none of them"),
        (modelscope_keys, "ModelScope / I2VGen-XL",
         "of its 20 temporal attention output tensors it scales 10 as cross_structural, 10 as self_structural"),
        (lambda: WAN, "Wan", "The node's rule matches no tensor here, so it changes nothing."),
    ],
    ids=["svd-diffusers", "svd-sgm", "animatediff-diffusers", "animatediff-original", "modelscope", "wan"],
)
def test_each_family_is_recognised_and_the_rule_explained(keys, family, says):
    names = keys()
    assert detect_family(names).name == family
    warnings = family_warnings(names)
    if says is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and says in warnings[0], warnings
        assert "The app's preview supports SVD only." in warnings[0]


def test_the_svd_rule_is_the_first_table_entry_and_the_only_previewable_one():
    assert patcher.FAMILIES[0] is patcher.SVD
    assert [f.name for f in patcher.FAMILIES if f.previewable] == ["SVD"]


def test_inspect_and_bake_warn_on_another_family_but_keep_comfyui_parity(tmp_path, capsys):
    names = animatediff_diffusers_keys()
    path = tmp_path / "mm.safetensors"
    torch.manual_seed(0)
    save_file({k: torch.randn(2, 2) for k in names}, str(path))

    inspected = run_cli(capsys, "inspect", str(path))
    assert "warning: this checkpoint is AnimateDiff, not SVD" in inspected.stderr
    assert "self_structural: 14 tensors" in inspected.stdout  # what ComfyUI's node would scale, listed as it is
    baked = run_cli(capsys, "bake", str(path), str(tmp_path / "out.safetensors"), "--self-temporal", "0.5")
    assert baked.returncode == 0 and "do not reach them" in baked.stderr
