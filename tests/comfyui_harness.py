"""ComfyUI as an independent oracle in tests: found, imported on the CPU, and given tiny SVD models.

ComfyUI is found at ``$COMFYUI_DIR``, else at ``../shared/third_party/ComfyUI`` beside the
repository (a snapshot of v0.14.2 where these tests run). It is imported, never copied.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "comfyui_svd_attention_lab"
_STUB = Path(__file__).resolve().parent / "comfyui_stub"
_SNAPSHOT = ROOT.parent / "shared" / "third_party" / "ComfyUI"


@functools.cache
def node_setting():
    """The node's plain-Python half (``setting.py``), read from its file: the package's __init__ needs ComfyUI."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lab_node_setting", NODE_DIR / "setting.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def comfyui_dir() -> Path | None:
    configured = os.environ.get("COMFYUI_DIR")
    folder = Path(configured) if configured else _SNAPSHOT
    return folder if (folder / "comfy" / "model_patcher.py").is_file() else None


@functools.cache
def _import() -> None:
    folder = comfyui_dir()
    sys.path.append(str(folder))  # after the project's own modules: ComfyUI has an ``app`` package too
    import diffusers  # noqa: F401  (both decide once, on import, that torchvision is absent: the stub
    import transformers  # noqa: F401  below is for ComfyUI only)

    try:
        import torchvision  # noqa: F401  (a real one, where it works)
    except Exception:
        sys.modules.pop("torchvision", None)
        sys.path.append(str(_STUB))
    import comfy.options

    comfy.options.enable_args_parsing()
    argv, sys.argv = sys.argv, [sys.argv[0], "--cpu"]
    try:
        import comfy.model_management  # noqa: F401  (parses --cpu)
    finally:
        sys.argv = argv


def require_comfyui():
    """Import ComfyUI (once), or skip naming ``COMFYUI_DIR`` where no checkout exists."""
    if comfyui_dir() is None:
        pytest.skip(f"no ComfyUI checkout: set COMFYUI_DIR to one (looked for {_SNAPSHOT})")
    _import()


# A tiny SVD whose attention heads are 64 wide (ComfyUI's SVD fixes that), with SVD's own VAE (ComfyUI
# builds the video VAE at SVD's size only) and a small image encoder. ComfyUI's SVD conditions on
# fps, motion and augmentation with 256 features each: 768 in all. Heads are 64 wide, as a file without
# configurations is read (SVD's widths).
TINY_UNET = dict(block_out_channels=(64, 128), layers_per_block=1, sample_size=8, in_channels=8, out_channels=4,
                 down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
                 up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
                 num_attention_heads=(1, 2), cross_attention_dim=64, addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=768, num_frames=4)
TINY_IMAGE_ENCODER = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
                          image_size=224, patch_size=32, projection_dim=64, hidden_act="gelu", layer_norm_eps=1e-5)
# The smallest SVD ComfyUI's checkpoint loader detects as SVD_img2vid (model channels 320, two layers per
# block, transformer depth [1,1,1,1,1,1,0,0], context 1024, adm 768): SVD-XT's architecture with every block
# 320 wide (~212 M parameters). Its image encoder is the tiny one, projecting to 1024: ComfyUI recognises
# image encoders by their full depth only, so tests that run the loader name its configuration
# (``named_image_encoder``).
DETECTED_UNET = dict(block_out_channels=(320,) * 4, layers_per_block=2, sample_size=8, in_channels=8, out_channels=4,
                     down_block_types=("CrossAttnDownBlockSpatioTemporal",) * 3 + ("DownBlockSpatioTemporal",),
                     up_block_types=("UpBlockSpatioTemporal",) + ("CrossAttnUpBlockSpatioTemporal",) * 3,
                     num_attention_heads=(5,) * 4, cross_attention_dim=1024, addition_time_embed_dim=256,
                     projection_class_embeddings_input_dim=768, num_frames=4)
DETECTED_IMAGE_ENCODER = TINY_IMAGE_ENCODER | {"projection_dim": 1024}


def tiny_svd_folder(folder: Path, seed: int = 0, unet: dict = TINY_UNET,
                    image_encoder: dict = TINY_IMAGE_ENCODER) -> Path:
    """That model (or another configuration) as a diffusers folder. Every weight is a float16 value (ComfyUI
    keeps its image encoder in float16 on the CPU, so the round trip loses nothing), and ``quant_conv`` is
    the identity (Stability's autoencoder has none, so a file ComfyUI saves holds none)."""
    import torch
    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline,
                           UNetSpatioTemporalConditionModel)
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModelWithProjection

    from svd_attention_lab.checkpoints import svd_xt_config

    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(**unet)
    vae = AutoencoderKLTemporalDecoder(**{k: v for k, v in svd_xt_config("vae").items() if not k.startswith("_")})
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**image_encoder))
    with torch.no_grad():
        for module in (unet, vae, image_encoder):
            for p in module.parameters():
                p.copy_((torch.randn_like(p) * 0.05 + p * 0.5).half().float())
        vae.quant_conv.weight.copy_(torch.eye(8).reshape(8, 8, 1, 1))
        vae.quant_conv.bias.zero_()
    extractor = svd_xt_config("feature_extractor")
    pipe = StableVideoDiffusionPipeline(
        unet=unet.eval(), vae=vae.eval(), image_encoder=image_encoder.eval(),
        scheduler=EulerDiscreteScheduler.from_config(svd_xt_config("scheduler")),
        feature_extractor=CLIPImageProcessorPil(**{k: v for k, v in extractor.items()
                                                    if not k.startswith("_") and k != "image_processor_type"}))
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def comfyui_models(path: Path, image_encoder_config: Path):
    """ComfyUI's MODEL, VAE and CLIP_VISION from a single file, built as its checkpoint loader builds
    them (its SVD class, detected UNet configuration, VAE and image-encoder code) except that the model
    class and the image encoder's configuration are named rather than detected: ComfyUI recognises
    SVD by its real sizes only."""
    import comfy.clip_vision
    import comfy.model_detection
    import comfy.model_management
    import comfy.model_patcher
    import comfy.sd
    import comfy.supported_models
    import comfy.utils
    import torch

    sd = comfy.utils.load_torch_file(str(path))
    prefix = "model.diffusion_model."
    config = comfy.supported_models.SVD_img2vid(comfy.model_detection.detect_unet_config(sd, prefix))
    config.set_inference_dtype(torch.float32, None)
    model = config.get_model(sd, prefix)
    model.load_model_weights(sd, prefix)
    cpu = torch.device("cpu")
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)
    vae_sd = comfy.utils.state_dict_prefix_replace(sd, {k: "" for k in config.vae_key_prefix}, filter_keys=True)
    vae = comfy.sd.VAE(sd=config.process_vae_state_dict(vae_sd))
    clip_vision = comfy.clip_vision.ClipVisionModel(str(image_encoder_config))
    clip_sd = comfy.utils.state_dict_prefix_replace(sd, {config.clip_vision_prefix: ""}, filter_keys=True)
    missing, unexpected = clip_vision.load_sd(comfy.clip_vision.convert_to_transformers(clip_sd, ""))
    assert not unexpected and not [k for k in missing if "position_ids" not in k], (missing, unexpected)
    return patcher, vae, clip_vision


def write_image_encoder_config(path: Path, config: dict = TINY_IMAGE_ENCODER) -> Path:
    import json

    path.write_text(json.dumps({**config, "model_type": "clip_vision_model", "num_channels": 3}))
    return path


def named_image_encoder(monkeypatch, config_path: Path) -> None:
    """ComfyUI's checkpoint loader builds the image encoder from ``config_path`` instead of detecting its
    configuration (which it does by full depth only); the weights are still the file's, loaded by ComfyUI
    (and taken out of the state dict, as its own loader does)."""
    import comfy.clip_vision

    def load(sd, prefix="", convert_keys=False):
        if convert_keys:
            sd = comfy.clip_vision.convert_to_transformers(sd, prefix)
        encoder = comfy.clip_vision.ClipVisionModel(str(config_path))
        missing, unexpected = encoder.load_sd(sd)
        assert not [k for k in missing if "position_ids" not in k], missing
        for key in set(sd) - set(unexpected):
            sd.pop(key)
        return encoder

    monkeypatch.setattr(comfy.clip_vision, "load_clipvision_from_sd", load)
