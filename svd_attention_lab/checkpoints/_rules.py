"""SGM names <-> diffusers / transformers names, as tables of rules: the UNet (see ``_naming``), the
temporal VAE and the OpenCLIP image encoder.

Each rule pairs two name templates, read in either direction. ``{i}`` and ``{j}`` are indices
kept as they are; ``{r}`` is an index counted from the other end (SGM builds the decoder's levels
from the lowest resolution up, diffusers from the highest down); ``{p}`` is ``weight`` or ``bias``;
``{x}`` is the rest of a name, kept as it is; ``{q}`` fans one fused tensor out to ``q``, ``k`` and
``v``. A rule's ``op`` says how the tensor
changes on the way: SGM's attention in the VAE uses 1x1 convolutions where diffusers uses linear
layers, OpenCLIP stores its projection transposed and its attention's q, k and v fused.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Iterable

import torch

from ._errors import CheckpointError

_PLACEHOLDERS = {"i": r"\d+", "j": r"\d+", "r": r"\d+", "p": "weight|bias", "q": "q|k|v", "x": r".+"}
QKV = ("q", "k", "v")


@dataclasses.dataclass(frozen=True)
class Rule:
    sgm: str
    diffusers: str
    op: str = "copy"  # "copy", "conv1x1" (weights: SGM [C, C, 1, 1] <-> diffusers [C, C]), "transpose", "qkv"

    def pattern(self, side: str) -> re.Pattern:
        return _compile(self.sgm if side == "sgm" else self.diffusers)


@functools.cache
def _compile(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w)\}", template)
    pattern = "".join(re.escape(p) if n % 2 == 0 else f"(?P<{p}>{_PLACEHOLDERS[p]})" for n, p in enumerate(parts))
    return re.compile(pattern + "$")


_VAE_RESNET = (("norm1", "norm1"), ("conv1", "conv1"), ("norm2", "norm2"), ("conv2", "conv2"),
               ("nin_shortcut", "conv_shortcut"))
_TIME_STACK = (("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("out_layers.0", "norm2"), ("out_layers.3", "conv2"))
_VAE_ATTENTION = (("norm", "group_norm", "copy"), ("q", "to_q", "conv1x1"), ("k", "to_k", "conv1x1"),
                  ("v", "to_v", "conv1x1"), ("proj_out", "to_out.0", "conv1x1"))


def _video_resnet(sgm: str, diffusers: str) -> list[Rule]:
    """SGM's VideoResBlock: a spatial ResnetBlock, a temporal ResBlock (``time_stack``) and their mix."""
    rules = [Rule(f"{sgm}.{a}.{{p}}", f"{diffusers}.spatial_res_block.{b}.{{p}}") for a, b in _VAE_RESNET]
    rules += [Rule(f"{sgm}.time_stack.{a}.{{p}}", f"{diffusers}.temporal_res_block.{b}.{{p}}") for a, b in _TIME_STACK]
    return rules + [Rule(f"{sgm}.mix_factor", f"{diffusers}.time_mixer.mix_factor")]


def _attention(sgm: str, diffusers: str) -> list[Rule]:
    return [Rule(f"{sgm}.{a}.{{p}}", f"{diffusers}.{b}.{{p}}", op) for a, b, op in _VAE_ATTENTION]


VAE_ENCODER_RULES = (  # the encoder and its quant_conv; names relative to the autoencoder
    Rule("encoder.conv_in.{p}", "encoder.conv_in.{p}"),
    *(Rule(f"encoder.down.{{i}}.block.{{j}}.{a}.{{p}}", f"encoder.down_blocks.{{i}}.resnets.{{j}}.{b}.{{p}}")
      for a, b in _VAE_RESNET),
    Rule("encoder.down.{i}.downsample.conv.{p}", "encoder.down_blocks.{i}.downsamplers.0.conv.{p}"),
    *(Rule(f"encoder.mid.block_1.{a}.{{p}}", f"encoder.mid_block.resnets.0.{b}.{{p}}") for a, b in _VAE_RESNET),
    *(Rule(f"encoder.mid.block_2.{a}.{{p}}", f"encoder.mid_block.resnets.1.{b}.{{p}}") for a, b in _VAE_RESNET),
    *_attention("encoder.mid.attn_1", "encoder.mid_block.attentions.0"),
    Rule("encoder.norm_out.{p}", "encoder.conv_norm_out.{p}"),
    Rule("encoder.conv_out.{p}", "encoder.conv_out.{p}"),
    Rule("quant_conv.{p}", "quant_conv.{p}"),
)

VAE_DECODER_RULES = (  # SGM's VideoDecoder -> diffusers' TemporalDecoder
    Rule("decoder.conv_in.{p}", "decoder.conv_in.{p}"),
    *_video_resnet("decoder.mid.block_1", "decoder.mid_block.resnets.0"),
    *_video_resnet("decoder.mid.block_2", "decoder.mid_block.resnets.1"),
    *_attention("decoder.mid.attn_1", "decoder.mid_block.attentions.0"),
    *_video_resnet("decoder.up.{r}.block.{j}", "decoder.up_blocks.{r}.resnets.{j}"),
    Rule("decoder.up.{r}.upsample.conv.{p}", "decoder.up_blocks.{r}.upsamplers.0.conv.{p}"),
    Rule("decoder.norm_out.{p}", "decoder.conv_norm_out.{p}"),
    Rule("decoder.conv_out.time_mix_conv.{p}", "decoder.time_conv_out.{p}"),
    Rule("decoder.conv_out.{p}", "decoder.conv_out.{p}"),
)

_LAYER = "vision_model.encoder.layers.{i}"
IMAGE_ENCODER_RULES = (  # OpenCLIP's VisionTransformer -> transformers' CLIPVisionModelWithProjection
    Rule("conv1.weight", "vision_model.embeddings.patch_embedding.weight"),
    Rule("class_embedding", "vision_model.embeddings.class_embedding"),
    Rule("positional_embedding", "vision_model.embeddings.position_embedding.weight"),
    Rule("ln_pre.{p}", "vision_model.pre_layrnorm.{p}"),
    Rule("transformer.resblocks.{i}.ln_1.{p}", f"{_LAYER}.layer_norm1.{{p}}"),
    Rule("transformer.resblocks.{i}.attn.in_proj_{p}", f"{_LAYER}.self_attn.{{q}}_proj.{{p}}", "qkv"),
    Rule("transformer.resblocks.{i}.attn.out_proj.{p}", f"{_LAYER}.self_attn.out_proj.{{p}}"),
    Rule("transformer.resblocks.{i}.ln_2.{p}", f"{_LAYER}.layer_norm2.{{p}}"),
    Rule("transformer.resblocks.{i}.mlp.c_fc.{p}", f"{_LAYER}.mlp.fc1.{{p}}"),
    Rule("transformer.resblocks.{i}.mlp.c_proj.{p}", f"{_LAYER}.mlp.fc2.{{p}}"),
    Rule("ln_post.{p}", "vision_model.post_layernorm.{p}"),
    Rule("proj", "visual_projection.weight", "transpose"),
)
# The same encoder as ComfyUI's save node writes it under OpenCLIP's prefix: transformers' own names.
TRANSFORMERS_IMAGE_ENCODER_RULES = (
    Rule("vision_model.{x}", "vision_model.{x}"),
    Rule("visual_projection.weight", "visual_projection.weight"),
)


@dataclasses.dataclass(frozen=True)
class Move:
    """One output tensor: made from ``sources`` (input names) by ``op``.

    Besides renaming, reshaping, splitting and fusing, two ops stand in for the VAE's ``quant_conv``
    where a file has none: ``identity`` / ``zeros`` make an identity 1x1 convolution's weight / bias as
    wide as their one source (the encoder's ``conv_out`` weight). ``fold_weight`` / ``fold_bias`` fold
    ``quant_conv`` into the convolution before it (sources: conv weight or bias, then quant weight
    [and bias]): one convolution with weight Q.W and bias Q.b + q, computed in float64.
    """

    target: str
    sources: tuple[str, ...]
    op: str = "copy"  # "copy", "squeeze", "unsqueeze", "transpose", "chunk" (part ``part`` of 3), "cat",
    # "identity", "zeros", "fold_weight", "fold_bias"
    part: int = 0

    def shape(self, shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
        first = tuple(shapes[self.sources[0]])
        if self.op == "squeeze":
            return first[:2]
        if self.op == "unsqueeze":
            return first + (1, 1)
        if self.op == "transpose":
            return first[::-1]
        if self.op == "chunk":
            return (first[0] // 3,) + first[1:]
        if self.op == "cat":
            return (sum(shapes[s][0] for s in self.sources),) + first[1:]
        if self.op == "identity":
            return (first[0], first[0], 1, 1)
        if self.op == "zeros":
            return (first[0],)
        return first

    def apply(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        t = tensors[0]
        if self.op == "squeeze":
            return t.reshape(t.shape[:2])
        if self.op == "unsqueeze":
            return t.reshape(tuple(t.shape) + (1, 1))
        if self.op == "transpose":
            return t.t().contiguous()
        if self.op == "chunk":
            return t.chunk(3, dim=0)[self.part].clone()  # its own memory, not a view of all three
        if self.op == "cat":
            return torch.cat(tensors, dim=0)
        if self.op == "identity":
            return torch.eye(t.shape[0], dtype=t.dtype).reshape(t.shape[0], t.shape[0], 1, 1)
        if self.op == "zeros":
            return torch.zeros(t.shape[0], dtype=t.dtype)
        if self.op == "fold_weight":
            conv, quant = (x.double() for x in tensors)
            return torch.einsum("oc,cikl->oikl", quant[:, :, 0, 0], conv).to(t.dtype)
        if self.op == "fold_bias":
            bias, quant, quant_bias = (x.double() for x in tensors)
            return (quant[:, :, 0, 0] @ bias + quant_bias).to(t.dtype)
        return t


def fill(template: str, groups: dict[str, str], levels: int) -> str:
    values = dict(groups)
    if "r" in values:
        values["r"] = str(levels - 1 - int(values["r"]))
    return re.sub(r"\{(\w)\}", lambda m: values[m[1]], template)


def match(rules: Iterable[Rule], side: str, name: str) -> tuple[Rule, dict[str, str]] | None:
    for rule in rules:
        if m := rule.pattern(side).match(name):
            return rule, m.groupdict()
    return None


def to_diffusers(rules: Iterable[Rule], names: Iterable[str], *, levels: int = 0,
                 prefix: str = "") -> tuple[list[Move], list[str]]:
    """Moves that build the diffusers tensors from SGM ``names`` (each starting with ``prefix``),
    and the names no rule knows. ``levels``: the VAE's resolution levels (for ``{r}``)."""
    rules, moves, unknown = tuple(rules), [], []
    for name in names:
        found = match(rules, "sgm", name.removeprefix(prefix)) if name.startswith(prefix) else None
        if found is None:
            unknown.append(name)
            continue
        rule, groups = found
        target = fill(rule.diffusers, groups | {"q": "{q}"}, levels)
        if rule.op == "qkv":
            moves += [Move(target.replace("{q}", q), (name,), "chunk", n) for n, q in enumerate(QKV)]
        elif rule.op == "conv1x1" and groups["p"] == "weight":
            moves.append(Move(target, (name,), "squeeze"))
        else:
            moves.append(Move(target, (name,), "transpose" if rule.op == "transpose" else "copy"))
    return moves, unknown


def to_sgm(rules: Iterable[Rule], names: Iterable[str], *, levels: int = 0, prefix: str = "") -> list[Move]:
    """Moves that build the SGM tensors (named with ``prefix``) from diffusers ``names``; every name must be known."""
    rules, moves, fused = tuple(rules), [], {}
    for name in names:
        found = match(rules, "diffusers", name)
        if found is None:
            raise CheckpointError(f"{name!r} has no SGM name")
        rule, groups = found
        target = prefix + fill(rule.sgm, groups, levels)
        if rule.op == "qkv":
            fused.setdefault(target, {})[groups["q"]] = name
        elif rule.op == "conv1x1" and groups["p"] == "weight":
            moves.append(Move(target, (name,), "unsqueeze"))
        else:
            moves.append(Move(target, (name,), "transpose" if rule.op == "transpose" else "copy"))
    for target, parts in fused.items():
        if set(parts) != set(QKV):
            raise CheckpointError(f"{target}: q, k and v are needed to fuse it; found {', '.join(sorted(parts))}")
        moves.append(Move(target, tuple(parts[q] for q in QKV), "cat"))
    return moves
