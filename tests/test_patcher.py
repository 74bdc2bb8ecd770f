from svd_attention_lab.controls import FIELDS
import threading

import pytest
import torch

from svd_attention_lab import controls
import patcher
from patcher import AttentionPatch, Multipliers, PatchError, classify_key, match_key, patch_state_dict
from comfyui_harness import node_setting
from tiny_models import TINY_TARGETS_PER_FIELD, sgm_state_dict, tiny_unet, unet_inputs

KEY_CASES = [
    # SGM / ComfyUI naming, with and without prefixes
    ("model.diffusion_model.input_blocks.1.1.time_stack.0.attn1.to_out.0.weight", "self_temporal", "down"),
    ("diffusion_model.input_blocks.1.1.time_stack.0.attn1.to_out.0.bias", "self_temporal", "down"),
    ("input_blocks.1.1.transformer_blocks.0.attn1.to_out.0.weight", "self_structural", "down"),
    ("model.diffusion_model.middle_block.1.time_stack.0.attn2.to_out.0.weight", "cross_temporal", "mid"),
    ("model.diffusion_model.output_blocks.5.1.transformer_blocks.0.attn2.to_out.0.bias", "cross_structural", "up"),
    # diffusers naming
    ("down_blocks.0.attentions.0.temporal_transformer_blocks.0.attn1.to_out.0.weight", "self_temporal", "down"),
    ("mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0.bias", "self_structural", "mid"),
    ("up_blocks.1.attentions.2.temporal_transformer_blocks.0.attn2.to_out.0.weight", "cross_temporal", "up"),
    ("unet.up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_out.0.weight", "cross_structural", "up"),
    # never touched: temporal ResNets, other projections, non-UNet parts of a full checkpoint
    ("model.diffusion_model.input_blocks.1.0.time_stack.in_layers.2.weight", None, None),
    ("model.diffusion_model.input_blocks.1.0.time_stack.out_layers.3.bias", None, None),
    ("down_blocks.0.resnets.0.temporal_res_block.conv1.weight", None, None),
    ("model.diffusion_model.input_blocks.1.1.time_stack.0.attn1.to_q.weight", None, None),
    ("model.diffusion_model.input_blocks.1.1.time_stack.0.attn1.to_out.0.weight_scale", None, None),
    ("model.diffusion_model.input_blocks.1.1.proj_out.weight", None, None),
    ("first_stage_model.decoder.mid.attn_1.proj_out.weight", None, None),
    ("conditioner.embedders.0.open_clip.model.transformer.resblocks.0.attn1.to_out.0.weight", None, None),
]


@pytest.mark.parametrize("name, field, region", KEY_CASES)
def test_classify_key_table(name, field, region):
    assert classify_key(name) == field
    match = match_key(name)
    assert (match.region if match else None) == region


def test_counts_per_group_in_both_namings(unet):
    diffusers_sd = unet.state_dict()
    for sd in (diffusers_sd, sgm_state_dict(unet), sgm_state_dict(unet, prefix="diffusion_model.")):
        fields = [classify_key(k) for k in sd]
        for field in FIELDS:
            assert fields.count(field) == TINY_TARGETS_PER_FIELD
    summary = AttentionPatch(unet).summary()
    assert {g: s["tensors"] for g, s in summary["groups"].items()} == dict.fromkeys(FIELDS, 12)
    assert {r: s["tensors"] for r, s in summary["regions"].items()} == {"down": 16, "mid": 8, "up": 24}
    assert summary["total"]["tensors"] == 48
    # 32x32 weight + 32 bias in the 5 transformers at 32 channels, 64x64 + 64 in the mid block
    assert summary["groups"]["self_temporal"]["parameters"] == 5 * (32 * 32 + 32) + 64 * 64 + 64
    assert 0 < summary["fraction"] < 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"self_temporal": float("nan")}, "self_temporal must be a finite number"),
        ({"cross_temporal": float("inf")}, "cross_temporal must be a finite number"),
        ({"self_structural": -float("inf")}, "self_structural must be a finite number"),
        ({"self_structural": -0.01}, "self_structural must be between 0.0 and 10.0"),
        ({"cross_structural": 10.01}, "cross_structural must be between 0.0 and 10.0"),
        ({"self_temporal": True}, "self_temporal must be a number"),
        ({"self_temporal": "1.5"}, "self_temporal must be a number"),
        ({"cross_temporal": None}, "cross_temporal must be a number"),
    ],
)
def test_multipliers_reject_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Multipliers(**kwargs)


def test_multipliers_are_frozen_and_normalised():
    m = Multipliers(self_temporal=2, cross_temporal=0)
    assert type(m.self_temporal) is float and m.self_temporal == 2.0
    with pytest.raises(AttributeError):
        m.self_temporal = 1.0  # type: ignore[misc]
    assert Multipliers().is_identity and not m.is_identity
    assert Multipliers.from_dict(m.as_dict()) == m
    with pytest.raises(ValueError, match="unknown multiplier"):
        Multipliers.from_dict({"self_temporl": 1.0})
    assert (controls.MULTIPLIER_MIN, controls.MULTIPLIER_MAX, controls.MULTIPLIER_STEP) == (0.0, 10.0, 0.01)


MULTIPLIER_CASES = [
    Multipliers(),
    Multipliers(self_temporal=0.0),
    Multipliers(self_structural=1.1, self_temporal=0.9, cross_structural=1.3, cross_temporal=0.7),
    Multipliers(self_temporal=1.23, cross_temporal=2.5),
    Multipliers(self_structural=10.0, self_temporal=0.01, cross_structural=0.33, cross_temporal=7.77),
]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("m", MULTIPLIER_CASES, ids=lambda m: m.label())
def test_apply_matches_comfyui_arithmetic_bitwise(dtype, m):
    unet = tiny_unet(dtype=dtype)
    originals = {k: v.clone() for k, v in unet.state_dict().items()}
    patch = AttentionPatch(unet)
    patch.apply(m)
    for name, tensor in unet.state_dict().items():
        field = classify_key(name)
        if field is None:
            assert torch.equal(tensor, originals[name]), name
        else:
            expected = (originals[name].float() * getattr(m, field)).to(dtype)
            assert tensor.dtype == dtype and torch.equal(tensor, expected), name


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_patch_state_dict_is_pure_and_matches_for_both_namings(dtype, unet):
    m = Multipliers(self_temporal=1.7, cross_structural=0.4)
    for sd in (unet.to(dtype).state_dict(), sgm_state_dict(unet)):
        before = {k: v.clone() for k, v in sd.items()}
        out = patch_state_dict(sd, m)
        assert out.keys() == sd.keys()
        for name, tensor in sd.items():
            assert torch.equal(tensor, before[name])  # input untouched
            field = classify_key(name)
            if field is None:
                assert out[name] is tensor  # shared, not copied
            else:
                assert torch.equal(out[name], (tensor.float() * getattr(m, field)).to(tensor.dtype))


def test_apply_is_idempotent_and_starts_from_originals(unet):
    patch = AttentionPatch(unet)
    a, b = Multipliers(self_temporal=3.0, cross_structural=0.2), Multipliers(self_temporal=0.5)
    patch.apply(b)
    once = {k: v.clone() for k, v in unet.state_dict().items()}
    patch.apply(a)
    patch.apply(b)
    patch.apply(b)
    assert all(torch.equal(v, once[k]) for k, v in unet.state_dict().items())


def test_apply_rewrites_only_changed_groups(unet):
    patch = AttentionPatch(unet)
    assert len(patch.apply(Multipliers(self_temporal=2.0))) == 12
    assert len(patch.apply(Multipliers(self_temporal=2.0, cross_temporal=0.5))) == 12
    assert patch.apply(Multipliers(self_temporal=2.0, cross_temporal=0.5)) == []
    assert len(patch.apply(Multipliers())) == 24


def test_restore_is_bitwise_exact_and_keeps_parameter_objects(unet):
    originals = {k: v.clone() for k, v in unet.state_dict().items()}
    params_before = {k: p for k, p in unet.named_parameters()}
    patch = AttentionPatch(unet)
    patch.apply(Multipliers(self_structural=0.37, self_temporal=9.99, cross_structural=0.01, cross_temporal=4.2))
    assert any(not torch.equal(v, originals[k]) for k, v in unet.state_dict().items())
    assert all(p is params_before[k] for k, p in unet.named_parameters())
    patch.restore()
    assert all(torch.equal(v, originals[k]) for k, v in unet.state_dict().items())
    assert patch.current.is_identity


def test_applied_restores_after_an_exception(unet):
    originals = {k: v.clone() for k, v in unet.state_dict().items()}
    patch = AttentionPatch(unet)
    with pytest.raises(RuntimeError, match="boom"):
        with patch.applied(Multipliers(self_temporal=0.0, cross_temporal=5.0)):
            key = "down_blocks.0.attentions.0.temporal_transformer_blocks.0.attn1.to_out.0.weight"
            assert not unet.state_dict()[key].any()
            raise RuntimeError("boom")
    assert all(torch.equal(v, originals[k]) for k, v in unet.state_dict().items())


def test_backups_hold_only_the_targets(unet):
    patch = AttentionPatch(unet)
    assert set(patch._backups) == set(patch.targets)
    backed_up = sum(t.numel() for t in patch._backups.values())
    assert backed_up == patch.summary()["total"]["parameters"] < sum(p.numel() for p in unet.parameters()) / 10


def test_threads_never_see_each_others_weights(unet):
    patch = AttentionPatch(unet)
    key = "mid_block.attentions.0.temporal_transformer_blocks.0.attn1.to_out.0.weight"
    param = dict(unet.named_parameters())[key]
    original = param.detach().clone()
    errors = []
    start = threading.Barrier(4)

    def worker(value: float) -> None:
        m = Multipliers(self_temporal=value)
        expected = (original.float() * value).to(original.dtype)
        start.wait()
        for _ in range(25):
            with patch.applied(m):
                for _ in range(3):
                    if not torch.equal(param, expected):
                        errors.append(value)
                    threading.Event().wait(0.0005)  # give other threads a chance to interleave

    threads = [threading.Thread(target=worker, args=(v,)) for v in (0.0, 0.5, 2.0, 3.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert torch.equal(param, original)


def test_identity_leaves_unet_output_bitwise_unchanged(unet):
    inputs = unet_inputs()
    with torch.no_grad():
        before = unet(**inputs).sample
        with AttentionPatch(unet).applied(Multipliers()):
            during = unet(**inputs).sample
    assert torch.equal(before, during)


def test_self_temporal_zero_removes_the_temporal_self_attention_branch(unet):
    inputs = unet_inputs()
    reference = tiny_unet()
    with torch.no_grad():
        for name, p in reference.named_parameters():
            if ".temporal_transformer_blocks." in name and ".attn1.to_out.0." in name:
                p.zero_()
        expected = reference(**inputs).sample
        with AttentionPatch(unet).applied(Multipliers(self_temporal=0.0)):
            patched = unet(**inputs).sample
        baseline = unet(**inputs).sample
    assert torch.equal(patched, expected)
    assert not torch.equal(patched, baseline)


def test_non_float_parameters_are_refused():
    unet = tiny_unet()
    key = "mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0.weight"
    module = unet.get_submodule(key.rsplit(".", 1)[0])
    module.weight = torch.nn.Parameter(torch.zeros(64, 64, dtype=torch.int8), requires_grad=False)
    with pytest.raises(PatchError, match=r"torch\.int8.*only float32, float16, bfloat16"):
        AttentionPatch(unet)


def test_a_model_without_targets_is_refused():
    with pytest.raises(PatchError, match="no attention output projections"):
        AttentionPatch(torch.nn.Linear(4, 4))


def test_scale_tensor_uses_float32_even_for_float64():
    t = torch.tensor([1.0 / 3.0], dtype=torch.float64)
    expected = (t.float() * 1.1).double()
    assert torch.equal(patcher.scale_tensor(t, 1.1), expected)


def test_the_node_scales_the_tensors_the_app_scales():
    keys = ["diffusion_model.input_blocks.1.1.time_stack.0.attn1.to_out.0.weight",
            "diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_out.0.bias",
            "diffusion_model.output_blocks.5.1.time_stack.0.attn2.to_out.0.weight",
            "diffusion_model.output_blocks.5.0.time_stack.in_layers.0.weight",
            "diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"]
    for key in keys:
        ours = match_key(key)
        assert node_setting().key_target(key) == (None if ours is None else (ours.field, ours.region))
