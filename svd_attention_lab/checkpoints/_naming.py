"""SVD UNet tensor names: the original SGM naming (single-file checkpoints, ComfyUI) <-> diffusers.

The block layout follows diffusers' own SVD conversion: ``input_blocks.{i}`` holds down block
``(i-1)//3``, slot ``(i-1)%3`` (``.0`` the resnet, ``.1`` the transformer; every third one a
downsampler), ``middle_block.{0,1,2}`` the mid block's resnet / transformer / resnet, and
``output_blocks.{i}`` up block ``i//3``, slot ``i%3`` (its last entry an upsampler).
Inside the blocks: ``time_stack`` is ``temporal_transformer_blocks`` (transformers) or
``temporal_res_block`` (resnets), and the resnets' layer names are ResBlock's.

The names are mapped by the same rule tables as the VAE's and the image encoder's (``_rules``),
with SGM's running block indices spelled out for the UNet's layout.
"""

from __future__ import annotations

import dataclasses
import functools

from ._rules import Rule, fill, match

SGM_PREFIXES = ("model.diffusion_model.", "diffusion_model.")  # a Stability/ComfyUI file; ComfyUI's state dict

_RESNET_LAYERS = (  # SGM ResBlock -> diffusers resnet
    ("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("emb_layers.1", "time_emb_proj"),
    ("out_layers.0", "norm2"), ("out_layers.3", "conv2"), ("skip_connection", "conv_shortcut"),
)
_TOP = (  # whole-UNet layers
    ("time_embed.0", "time_embedding.linear_1"), ("time_embed.2", "time_embedding.linear_2"),
    ("label_emb.0.0", "add_embedding.linear_1"), ("label_emb.0.2", "add_embedding.linear_2"),
    ("input_blocks.0.0", "conv_in"), ("out.0", "conv_norm_out"), ("out.2", "conv_out"),
)


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


def _resnet(sgm: str, diffusers: str) -> list[Rule]:
    """A spatio-temporal resnet: SGM's ResBlock, its ``time_stack`` twin and their mix."""
    rules = [Rule(f"{sgm}.{a}.{{p}}", f"{diffusers}.spatial_res_block.{b}.{{p}}") for a, b in _RESNET_LAYERS]
    rules += [Rule(f"{sgm}.time_stack.{a}.{{p}}", f"{diffusers}.temporal_res_block.{b}.{{p}}")
              for a, b in _RESNET_LAYERS]
    return rules + [Rule(f"{sgm}.time_mixer.{{x}}", f"{diffusers}.time_mixer.{{x}}")]


def _transformer(sgm: str, diffusers: str) -> list[Rule]:
    """A spatio-temporal transformer: the same names inside, but for ``time_stack`` and the frame embedding."""
    return [
        Rule(f"{sgm}.time_pos_embed.0.{{p}}", f"{diffusers}.time_pos_embed.linear_1.{{p}}"),
        Rule(f"{sgm}.time_pos_embed.2.{{p}}", f"{diffusers}.time_pos_embed.linear_2.{{p}}"),
        Rule(f"{sgm}.time_stack.{{x}}", f"{diffusers}.temporal_transformer_blocks.{{x}}"),
        Rule(f"{sgm}.{{x}}", f"{diffusers}.{{x}}"),
    ]


@functools.cache
def unet_rules(layout: UnetLayout) -> tuple[Rule, ...]:
    """The whole UNet's table for one layout: SGM's running block indices spelled out per block."""
    per = layout.layers_per_block + 1  # SGM entries per block: the resnets and a down- or upsampler
    levels = len(layout.up_attention)
    rules = [Rule(f"{a}.{{p}}", f"{b}.{{p}}") for a, b in _TOP]
    for block in range(levels):
        for slot in range(layout.layers_per_block):
            i = per * block + slot + 1
            rules += _resnet(f"input_blocks.{i}.0", f"down_blocks.{block}.resnets.{slot}")
            rules += _transformer(f"input_blocks.{i}.1", f"down_blocks.{block}.attentions.{slot}")
        if block < levels - 1:  # each block's last entry but the deepest's: the downsampler
            rules.append(Rule(f"input_blocks.{per * block + per}.0.op.{{p}}",
                              f"down_blocks.{block}.downsamplers.0.conv.{{p}}"))
    rules += _resnet("middle_block.0", "mid_block.resnets.0") + _transformer("middle_block.1", "mid_block.attentions.0")
    rules += _resnet("middle_block.2", "mid_block.resnets.1")
    for block in range(levels):
        if block < levels - 1:  # after the last resnet (and its transformer, where the block has them);
            part = 2 if layout.up_attention[block] else 1  # listed first: a transformer's {x} would take it
            rules.append(Rule(f"output_blocks.{per * block + per - 1}.{part}.conv.{{p}}",
                              f"up_blocks.{block}.upsamplers.0.conv.{{p}}"))
        for slot in range(per):
            i = per * block + slot
            rules += _resnet(f"output_blocks.{i}.0", f"up_blocks.{block}.resnets.{slot}")
            rules += _transformer(f"output_blocks.{i}.1", f"up_blocks.{block}.attentions.{slot}")
    return tuple(rules)


def sgm_to_diffusers(key: str, layout: UnetLayout = SVD_LAYOUT) -> str:
    """A UNet key in SGM naming (with or without its prefix) as diffusers names it."""
    for prefix in SGM_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    found = match(unet_rules(layout), "sgm", key)
    if found is None:
        raise NamingError(f"{key!r} is not an SVD UNet key in SGM naming")
    return fill(found[0].diffusers, found[1], 0)


def diffusers_to_sgm(key: str, layout: UnetLayout = SVD_LAYOUT, prefix: str = "model.diffusion_model.") -> str:
    """A diffusers UNet key in SGM naming, as Stability's single files (``prefix``) and ComfyUI name it."""
    found = match(unet_rules(layout), "diffusers", key)
    if found is None:
        raise NamingError(f"{key!r} is not an SVD UNet key in diffusers naming")
    return prefix + fill(found[0].sgm, found[1], 0)
