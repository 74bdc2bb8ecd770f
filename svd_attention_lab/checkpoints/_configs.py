"""Pipeline configurations for SVD checkpoints: SVD-XT's published ones, and those a file's shapes imply.

Stability's single files carry no configuration. Their tensors' shapes give nearly all of it; the
rest is what the original model configuration fixes (``sgm`` ``configs/inference/svd.yaml``):
attention heads of 64 channels in the UNet, OpenCLIP ViT-H/14's heads of 80 channels, the VAE's
scaling factor. Frames (14 for SVD, 25 for SVD-XT) are not in the weights at all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ._errors import CheckpointError

SVD_XT_CONFIG_DIR = Path(__file__).resolve().parent / "svd_xt"
UNET_HEAD_CHANNELS = 64  # sgm VideoUNet num_head_channels
OPEN_CLIP_HEAD_WIDTH = {1280: 80}  # ViT-H/14 (SVD's image encoder); other widths use OpenCLIP's default of 64
SVD_FRAMES, SVD_XT_FRAMES = 14, 25


# What a configuration read from a file may say before any model is built from it: the values that
# size a model (kind, low, high). SVD-XT's own values sit far inside; a file past them is refused.
_BOUNDS: dict[str, dict[str, tuple[str, float, float]]] = {
    "unet": {"block_out_channels": ("ints", 1, 8192), "layers_per_block": ("int", 1, 16),
             "num_attention_heads": ("ints", 1, 256), "transformer_layers_per_block": ("ints", 1, 16),
             "num_frames": ("int", 1, 256), "sample_size": ("int", 1, 1024), "in_channels": ("int", 1, 64),
             "out_channels": ("int", 1, 64), "cross_attention_dim": ("int", 1, 16384),
             "addition_time_embed_dim": ("int", 1, 4096), "projection_class_embeddings_input_dim": ("int", 1, 16384)},
    "vae": {"block_out_channels": ("ints", 1, 8192), "layers_per_block": ("int", 1, 16),
            "latent_channels": ("int", 1, 64),
            "in_channels": ("int", 1, 16), "out_channels": ("int", 1, 16), "sample_size": ("int", 1, 4096),
            "scaling_factor": ("float", 1e-6, 100)},
    "image_encoder": {"hidden_size": ("int", 1, 16384), "image_size": ("int", 1, 4096),
                      "intermediate_size": ("int", 1, 65536),
                      "num_attention_heads": ("int", 1, 256), "num_hidden_layers": ("int", 1, 256),
                      "patch_size": ("int", 1, 1024), "projection_dim": ("int", 1, 16384),
                      "num_channels": ("int", 1, 16)},
    "scheduler": {"num_train_timesteps": ("int", 1, 100_000), "sigma_min": ("float", 1e-6, 1e4),
                  "sigma_max": ("float", 1e-6, 1e4)},
    "feature_extractor": {"crop_size": ("size", 1, 4096), "size": ("size", 1, 4096)},
}
_MAX_LIST = 8


def check_configs(configs: dict, source: str) -> None:
    """Refuse configurations (from a file's metadata or a folder) whose model-sizing values are of the
    wrong type or past sane bounds, naming the file, the component and the key."""
    for component, config in configs.items():
        if not isinstance(config, dict):
            raise CheckpointError(f"{source}: the {component} configuration must be a JSON object")
        for key, (kind, low, high) in _BOUNDS.get(component, {}).items():
            if key in config:
                _check_value(config[key], kind, low, high, f"{source}: {component} {key}")


def _check_value(value, kind: str, low: float, high: float, where: str) -> None:
    if kind == "size" and isinstance(value, dict):
        for name, item in value.items():
            _check_value(item, "int", low, high, f"{where}.{name}")
        return
    if kind in ("ints", "size") and isinstance(value, (list, tuple)):
        if not 1 <= len(value) <= _MAX_LIST:
            raise CheckpointError(f"{where} must list 1 to {_MAX_LIST} values, got {len(value)}")
        for item in value:
            _check_value(item, "int", low, high, where)
        return
    whole = kind in ("int", "ints", "size")
    number = isinstance(value, int) if whole else isinstance(value, (int, float))
    if isinstance(value, bool) or not number:
        raise CheckpointError(f"{where} must be {'a whole number' if whole else 'a number'}, got {value!r:.40}")
    if not low <= value <= high:
        raise CheckpointError(f"{where} must be between {low:g} and {high:g}, got {value:g}")


def svd_xt_config(component: str) -> dict:
    """One component's published configuration: ``unet``, ``vae``, ``image_encoder``, ``scheduler``,
    ``feature_extractor`` or ``model_index``."""
    return json.loads((SVD_XT_CONFIG_DIR / f"{component}.json").read_text())


def frames_from_name(name: str) -> int:
    """SVD-XT (``svd_xt``, ``svd-xt``, ``svd_xt_1_1``) renders 25 frames, SVD 14."""
    return SVD_XT_FRAMES if re.search(r"svd[_-]?xt", name.lower()) else SVD_FRAMES


def release_name(frames: int, hints: str = "") -> str:
    """"SVD", "SVD-XT" or "SVD-XT 1.1": the frames say which, a name or metadata text says 1.1."""
    names = {SVD_XT_FRAMES: "SVD-XT", SVD_FRAMES: "SVD"}
    name = names.get(frames, f"SVD-architecture ({frames} frames)")
    return name + (" 1.1" if re.search(r"(?<!\d)1[._-]1(?!\d)", hints) else "")


def _count(shapes: dict, pattern: str) -> int:
    found = {m[1] for name in shapes if (m := re.match(pattern, name))}
    return len(found)


def _need(shapes: dict, name: str, component: str) -> tuple[int, ...]:
    if name not in shapes:
        raise CheckpointError(f"the {component} has no {name}; is this an SVD checkpoint?")
    return tuple(shapes[name])


_FIRST_ATTENTION = r"down_blocks\.0\.attentions\.0"


def unet_config(shapes: dict[str, tuple[int, ...]], frames: int) -> dict:
    """A ``UNetSpatioTemporalConditionModel`` configuration from its tensors' shapes (diffusers names)."""
    levels = _count(shapes, r"down_blocks\.(\d+)\.")
    channels = [_need(shapes, f"down_blocks.{b}.resnets.0.spatial_res_block.conv1.weight",
                      "UNet")[0] for b in range(levels)]
    cross = [any(n.startswith(f"down_blocks.{b}.attentions.") for n in shapes) for b in range(levels)]
    up_cross = [any(n.startswith(f"up_blocks.{b}.attentions.") for n in shapes) for b in range(levels)]
    to_k = next((s for n, s in shapes.items() if n.endswith(".attn2.to_k.weight")), None)
    if to_k is None:
        raise CheckpointError("the UNet has no cross-attention; is this an SVD checkpoint?")
    added = _need(shapes, "add_embedding.linear_1.weight", "UNet")[1]
    if any(c % UNET_HEAD_CHANNELS for c in channels):
        raise CheckpointError(f"UNet channels {channels} are not multiples of SVD's {UNET_HEAD_CHANNELS}-channel "
                              "attention heads")
    return {
        "_class_name": "UNetSpatioTemporalConditionModel",
        "addition_time_embed_dim": added // 3,  # fps, motion bucket and noise augmentation, embedded side by side
        "block_out_channels": channels,
        "cross_attention_dim": to_k[1],
        "down_block_types": ["CrossAttnDownBlockSpatioTemporal" if c else "DownBlockSpatioTemporal" for c in cross],
        "in_channels": _need(shapes, "conv_in.weight", "UNet")[1],
        "layers_per_block": _count(shapes, r"down_blocks\.0\.resnets\.(\d+)\."),
        "num_attention_heads": [c // UNET_HEAD_CHANNELS for c in channels],
        "num_frames": frames,
        "out_channels": _need(shapes, "conv_out.weight", "UNet")[0],
        "projection_class_embeddings_input_dim": added,
        "sample_size": svd_xt_config("unet")["sample_size"],
        "transformer_layers_per_block": max(1, _count(shapes, rf"{_FIRST_ATTENTION}\.transformer_blocks\.(\d+)\.")),
        "up_block_types": ["CrossAttnUpBlockSpatioTemporal" if c else "UpBlockSpatioTemporal" for c in up_cross],
    }


def vae_config(shapes: dict[str, tuple[int, ...]]) -> dict:
    """An ``AutoencoderKLTemporalDecoder`` configuration from its tensors' shapes."""
    levels = _count(shapes, r"encoder\.down_blocks\.(\d+)\.")
    published = svd_xt_config("vae")
    return {
        "_class_name": "AutoencoderKLTemporalDecoder",
        "block_out_channels": [_need(shapes, f"encoder.down_blocks.{i}.resnets.0.conv1.weight",
                                     "VAE")[0] for i in range(levels)],
        "down_block_types": ["DownEncoderBlock2D"] * levels,
        "force_upcast": published["force_upcast"],
        "in_channels": _need(shapes, "encoder.conv_in.weight", "VAE")[1],
        "latent_channels": _need(shapes, "decoder.conv_in.weight", "VAE")[1],
        "layers_per_block": _count(shapes, r"encoder\.down_blocks\.0\.resnets\.(\d+)\."),
        "out_channels": _need(shapes, "decoder.conv_out.weight", "VAE")[0],
        "sample_size": published["sample_size"],
        "scaling_factor": published["scaling_factor"],
    }


def image_encoder_config(shapes: dict[str, tuple[int, ...]]) -> dict:
    """A ``CLIPVisionModelWithProjection`` configuration from its tensors' shapes."""
    width = _need(shapes, "vision_model.embeddings.class_embedding", "image encoder")[0]
    patch = _need(shapes, "vision_model.embeddings.patch_embedding.weight", "image encoder")
    positions = _need(shapes, "vision_model.embeddings.position_embedding.weight", "image encoder")[0]
    side = round((positions - 1) ** 0.5)
    if side * side != positions - 1:
        raise CheckpointError(f"the image encoder's {positions} positions are not a square grid plus a class token")
    return {
        "architectures": ["CLIPVisionModelWithProjection"],
        "hidden_act": "gelu",  # OpenCLIP's ViT-H/14 (not OpenAI's quick_gelu)
        "hidden_size": width,
        "image_size": side * patch[-1],
        "intermediate_size": _need(shapes, "vision_model.encoder.layers.0.mlp.fc1.weight", "image encoder")[0],
        "layer_norm_eps": 1e-05,
        "model_type": "clip_vision_model",
        "num_attention_heads": width // OPEN_CLIP_HEAD_WIDTH.get(width, 64),
        "num_channels": patch[1],
        "num_hidden_layers": _count(shapes, r"vision_model\.encoder\.layers\.(\d+)\."),
        "patch_size": patch[-1],
        "projection_dim": _need(shapes, "visual_projection.weight", "image encoder")[0],
    }


BOOKKEEPING = ("architectures", "image_processor_type")  # keys that name a class, not an argument of it


def constructor_kwargs(config: dict) -> dict:
    """A configuration as its class's keyword arguments: without the keys that name the class or the
    library version that wrote it (``_class_name``, ``_diffusers_version``, ``architectures``, ...)."""
    return {k: v for k, v in config.items() if not k.startswith("_") and k not in BOOKKEEPING}
