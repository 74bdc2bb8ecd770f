"""The image encoder conversion against OpenCLIP itself: a tiny open_clip VisionTransformer with
random weights, converted from its SGM names, gives the same image embeddings in transformers."""

import importlib
import importlib.util
import sys
import types

import pytest
import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from svd_attention_lab.checkpoints._svd_file import plan_read
from tiny_models import sgm_state_dict, tiny_unet

PREFIX = "conditioner.embedders.0.open_clip.model.visual."


@pytest.fixture(scope="module")
def open_clip_transformer():
    """``open_clip.transformer``, without the package's ``__init__``: that imports torchvision's
    transforms (for preprocessing), whose index wheels cannot load beside the CPU torch. The one
    torchvision name the module's helpers import (a batch-norm class) is never used by the ViT."""
    spec = importlib.util.find_spec("open_clip")
    assert spec is not None, "open_clip is missing: pip install --no-deps -r requirements-nodeps.txt"
    package = types.ModuleType("open_clip")
    package.__path__ = list(spec.submodule_search_locations)
    misc = types.ModuleType("torchvision.ops.misc")
    misc.FrozenBatchNorm2d = type("FrozenBatchNorm2d", (torch.nn.Module,), {})
    stand_ins = {"open_clip": package, "torchvision": types.ModuleType("torchvision"),
                 "torchvision.ops": types.ModuleType("torchvision.ops"), "torchvision.ops.misc": misc}
    saved = {name: sys.modules.get(name) for name in [*stand_ins, "open_clip.transformer", "open_clip.utils",
                                                      "open_clip.pos_embed"]}
    sys.modules.update(stand_ins)
    try:
        yield importlib.import_module("open_clip.transformer")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def test_converted_open_clip_vision_tower_matches_open_clips_own_embeddings(open_clip_transformer):
    torch.manual_seed(0)
    tower = open_clip_transformer.VisionTransformer(
        image_size=224, patch_size=32, width=128, layers=2, heads=2, mlp_ratio=4.0, output_dim=64).eval()
    with torch.no_grad():
        for p in tower.parameters():  # norms and biases too, so a swapped or untransposed tensor shows
            p.copy_(torch.randn_like(p) * 0.1)

    unet = tiny_unet()
    file = sgm_state_dict(unet) | {PREFIX + k: v for k, v in tower.state_dict().items()}
    plan = plan_read({k: tuple(v.shape) for k, v in file.items()}, {}, filename="tiny.safetensors",
                     defaults={"unet": dict(unet.config)})
    config = plan.configs["image_encoder"]
    assert (config["hidden_size"], config["num_attention_heads"], config["num_hidden_layers"], config["projection_dim"],
            config["patch_size"], config["image_size"], config["hidden_act"]) == (128, 2, 2, 64, 32, 224, "gelu")

    model = CLIPVisionModelWithProjection(CLIPVisionConfig.from_dict(config)).eval()
    state = {m.target: m.apply([file[s] for s in m.sources]) for m in plan.moves["image_encoder"]}
    model.load_state_dict(state, strict=True)

    pixels = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        want = tower(pixels)
        got = model(pixel_values=pixels).image_embeds
    assert want.shape == got.shape == (3, 64)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
