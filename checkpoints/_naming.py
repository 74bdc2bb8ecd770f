"""SVD UNet tensor names: the original SGM naming (single-file checkpoints, ComfyUI) <-> diffusers.

The block layout follows diffusers' own SVD conversion: ``input_blocks.{i}`` holds down block
``(i-1)//3``, slot ``(i-1)%3`` (``.0`` the resnet, ``.1`` the transformer; every third one a
downsampler), ``middle_block.{0,1,2}`` the mid block's resnet / transformer / resnet, and
``output_blocks.{i}`` up block ``i//3``, slot ``i%3`` (its last entry an upsampler).
Inside the blocks: ``time_stack`` is ``temporal_transformer_blocks`` (transformers) or
``temporal_res_block`` (resnets), and the resnets' layer names are ResBlock's.
"""

from __future__ import annotations

import dataclasses
import re

SGM_PREFIXES = ("model.diffusion_model.", "diffusion_model.")  # a Stability/ComfyUI file; ComfyUI's state dict

_RESNET_LAYERS = {  # SGM ResBlock -> diffusers resnet
    "in_layers.0.": "norm1.", "in_layers.2.": "conv1.", "emb_layers.1.": "time_emb_proj.",
    "out_layers.0.": "norm2.", "out_layers.3.": "conv2.", "skip_connection.": "conv_shortcut.",
}
_TOP = {  # whole-UNet layers
    "time_embed.0.": "time_embedding.linear_1.", "time_embed.2.": "time_embedding.linear_2.",
    "label_emb.0.0.": "add_embedding.linear_1.", "label_emb.0.2.": "add_embedding.linear_2.",
    "input_blocks.0.0.": "conv_in.", "out.0.": "conv_norm_out.", "out.2.": "conv_out.",
}


@dataclasses.dataclass(frozen=True)
class UnetLayout:
    """What the SGM indices depend on: resnets per down block, and which up blocks have transformers."""

    layers_per_block: int = 2
    up_attention: tuple[bool, ...] = (False, True, True, True)  # SVD: up block 0 has no transformers

    @classmethod
    def from_config(cls, config) -> UnetLayout:
        layers = config["layers_per_block"] if isinstance(config, dict) else config.layers_per_block
        ups = config["up_block_types"] if isinstance(config, dict) else config.up_block_types
        return cls(int(layers if isinstance(layers, int) else layers[0]), tuple(t.startswith("CrossAttn") for t in ups))


SVD_LAYOUT = UnetLayout()


class NamingError(ValueError):
    """A key that is not part of an SVD UNet in the expected naming."""


def _resnet(rest: str) -> str:
    if rest.startswith("time_mixer."):
        return rest
    if rest.startswith("time_stack."):
        inner, block = rest[len("time_stack."):], "temporal_res_block."
    else:
        inner, block = rest, "spatial_res_block."
    for old, new in _RESNET_LAYERS.items():
        if inner.startswith(old):
            return block + new + inner[len(old):]
    raise NamingError(f"unknown resnet layer {rest!r}")


def _transformer(rest: str) -> str:
    rest = rest.replace("time_stack.", "temporal_transformer_blocks.", 1)
    return re.sub(r"^time_pos_embed\.0\.", "time_pos_embed.linear_1.", re.sub(r"^time_pos_embed\.2\.", "time_pos_embed.linear_2.", rest))


def sgm_to_diffusers(key: str, layout: UnetLayout = SVD_LAYOUT) -> str:
    """A UNet key in SGM naming (with or without its prefix) as diffusers names it."""
    per = layout.layers_per_block + 1  # SGM entries per block: the resnets and a down- or upsampler
    for prefix in SGM_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    for old, new in _TOP.items():
        if key.startswith(old):
            return new + key[len(old):]
    if m := re.match(r"input_blocks\.(\d+)\.(\d+)\.(.*)$", key):
        i, part, rest = int(m[1]), int(m[2]), m[3]
        block, slot = (i - 1) // per, (i - 1) % per
        if slot == per - 1 and part == 0 and rest.startswith("op."):  # each block's last entry: the downsampler
            return f"down_blocks.{block}.downsamplers.0.conv.{rest[3:]}"
        if part == 0:
            return f"down_blocks.{block}.resnets.{slot}.{_resnet(rest)}"
        return f"down_blocks.{block}.attentions.{slot}.{_transformer(rest)}"
    if m := re.match(r"middle_block\.(\d)\.(.*)$", key):
        part, rest = int(m[1]), m[2]
        if part == 1:
            return f"mid_block.attentions.0.{_transformer(rest)}"
        return f"mid_block.resnets.{part // 2}.{_resnet(rest)}"
    if m := re.match(r"output_blocks\.(\d+)\.(\d+)\.(.*)$", key):
        i, part, rest = int(m[1]), int(m[2]), m[3]
        block, slot = i // per, i % per
        if rest.startswith("conv."):  # the upsampler closes every up block but the last
            return f"up_blocks.{block}.upsamplers.0.conv.{rest[5:]}"
        if part == 0:
            return f"up_blocks.{block}.resnets.{slot}.{_resnet(rest)}"
        return f"up_blocks.{block}.attentions.{slot}.{_transformer(rest)}"
    raise NamingError(f"{key!r} is not an SVD UNet key in SGM naming")


def _resnet_back(rest: str) -> str:
    if rest.startswith("time_mixer."):
        return rest
    for block, stack in (("spatial_res_block.", ""), ("temporal_res_block.", "time_stack.")):
        if rest.startswith(block):
            inner = rest[len(block):]
            for old, new in _RESNET_LAYERS.items():
                if inner.startswith(new):
                    return stack + old + inner[len(new):]
    raise NamingError(f"unknown resnet layer {rest!r}")


def _transformer_back(rest: str) -> str:
    rest = rest.replace("temporal_transformer_blocks.", "time_stack.", 1)
    return re.sub(r"^time_pos_embed\.linear_(\d)\.", lambda m: f"time_pos_embed.{2 * int(m[1]) - 2}.", rest)


def diffusers_to_sgm(key: str, layout: UnetLayout = SVD_LAYOUT, prefix: str = "model.diffusion_model.") -> str:
    """A diffusers UNet key in SGM naming, as Stability's single files (``prefix``) and ComfyUI name it."""
    per = layout.layers_per_block + 1
    for old, new in _TOP.items():
        if key.startswith(new):
            return prefix + old + key[len(new):]
    if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions|downsamplers)\.(\d+)\.(.*)$", key):
        block, kind, slot, rest = int(m[1]), m[2], int(m[3]), m[4]
        if kind == "downsamplers":
            return f"{prefix}input_blocks.{per * block + per}.0.op.{rest.removeprefix('conv.')}"
        i = per * block + slot + 1
        return f"{prefix}input_blocks.{i}.0.{_resnet_back(rest)}" if kind == "resnets" else \
            f"{prefix}input_blocks.{i}.1.{_transformer_back(rest)}"
    if m := re.match(r"mid_block\.(resnets|attentions)\.(\d)\.(.*)$", key):
        kind, slot, rest = m[1], int(m[2]), m[3]
        if kind == "attentions":
            return f"{prefix}middle_block.1.{_transformer_back(rest)}"
        return f"{prefix}middle_block.{2 * slot}.{_resnet_back(rest)}"
    if m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions|upsamplers)\.(\d+)\.(.*)$", key):
        block, kind, slot, rest = int(m[1]), m[2], int(m[3]), m[4]
        if kind == "upsamplers":  # after the last resnet (and its transformer, where the block has them)
            part = 2 if layout.up_attention[block] else 1
            return f"{prefix}output_blocks.{per * block + per - 1}.{part}.{rest}"
        i = per * block + slot
        return f"{prefix}output_blocks.{i}.0.{_resnet_back(rest)}" if kind == "resnets" else \
            f"{prefix}output_blocks.{i}.1.{_transformer_back(rest)}"
    raise NamingError(f"{key!r} is not an SVD UNet key in diffusers naming")
