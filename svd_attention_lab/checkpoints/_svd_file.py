"""A whole SVD checkpoint in one file (Stability's layout, what ComfyUI loads) <-> diffusers' components.

Stability's files hold the UNet (``model.diffusion_model.``), the temporal VAE (``first_stage_model.``)
and the conditioner: OpenCLIP ViT-H/14 (``conditioner.embedders.0.open_clip.model.``, whose text
tower was deleted but a few of its tensors remain) and a second copy of the VAE encoder
(``conditioner.embedders.3.encoder.``). SVD encodes its conditioning frame with that copy, which
also carries the ``quant_conv`` that diffusers' VAE applies, so diffusers' VAE encoder comes from
there; ``first_stage_model.encoder`` is not read. A file without the copy (as ComfyUI saves them)
uses ``first_stage_model.encoder`` and an identity ``quant_conv``: the same numbers, since sgm's
autoencoder has no such layer.

ComfyUI's save node (``ImageOnlyCheckpointSave``) writes such files: the image encoder under OpenCLIP's
prefix but with transformers' names (``…visual.vision_model.encoder.layers.N.…``), and its sampling
range as ``edm_vpred.sigma_max`` / ``edm_vpred.sigma_min``, which become the scheduler's.

Written the other way, the encoder goes to both places: as it is (with ``quant_conv``) into the
conditioner's copy, and with ``quant_conv`` folded into its last convolution into
``first_stage_model.encoder``, so ComfyUI's VAE (which has no ``quant_conv``) encodes the same.
"""

from __future__ import annotations

import dataclasses
import math
import re

from ._configs import (
    check_configs,
    frames_from_name,
    image_encoder_config,
    svd_xt_config,
    unet_config,
    vae_config,
)
from ._errors import CheckpointError
from ._fit import COMPONENTS, parse_json_object
from ._naming import NamingError, UnetLayout, diffusers_to_sgm, sgm_to_diffusers
from ._rules import (
    IMAGE_ENCODER_RULES,
    TRANSFORMERS_IMAGE_ENCODER_RULES,
    VAE_DECODER_RULES,
    VAE_ENCODER_RULES,
    Move,
    to_diffusers,
    to_sgm,
)

UNET_PREFIXES = ("model.diffusion_model.", "diffusion_model.")
_BARE_UNET = ("input_blocks.", "middle_block.", "output_blocks.", "time_embed.", "label_emb.", "out.")
VAE_PREFIX = "first_stage_model."
CONDITIONING_VAE_PREFIX = "conditioner.embedders.3.encoder."
OPEN_CLIP_PREFIX = "conditioner.embedders.0.open_clip.model."
IMAGE_ENCODER_PREFIX = OPEN_CLIP_PREFIX + "visual."
SAMPLING_KEYS = {"edm_vpred.sigma_max": "sigma_max", "edm_vpred.sigma_min": "sigma_min"}  # ComfyUI's, one value each
CONFIGS_METADATA_KEY = "diffusers_configs"  # the source folder's configurations, written by the converter
MAX_LAYERS_PER_BLOCK, MAX_LEVELS = 16, 8  # far past SVD's 2 and 4: bounds what a file's indices can make us build


@dataclasses.dataclass
class ReadPlan:
    """How to build diffusers' components from one file's tensors."""

    moves: dict[str, list[Move]]  # component -> moves to its diffusers names; only components the file has
    shapes: dict[str, dict[str, tuple[int, ...]]]  # component -> diffusers name -> shape
    configs: dict[str, dict]  # every component the file has, plus scheduler/feature extractor if it says
    ignored: dict[str, str]  # file key -> why it is not read
    sampling: dict[str, str] = dataclasses.field(default_factory=dict)  # scheduler option -> the file key holding it

    @property
    def components(self) -> list[str]:
        return [c for c in COMPONENTS if c in self.moves]


_BLOCK_INDEX = re.compile(r"(input_blocks|output_blocks)\.(\d+)\.(\d+)\.")


def _unet_layout(keys: list[str], filename: str) -> UnetLayout:
    """Resnets per down block and which up blocks hold transformers, from the SGM indices."""
    stripped = [k.split("diffusion_model.", 1)[-1] for k in keys]
    for key in stripped:
        if key.startswith(("input_blocks.", "output_blocks.")) and not _BLOCK_INDEX.match(key):
            raise CheckpointError(f"{filename} is not an SVD checkpoint: {key!r} has no numeric block index")
    downsamplers = sorted(int(k.split(".")[1]) for k in stripped if k.startswith("input_blocks.") and ".0.op." in k)
    inputs = {int(k.split(".")[1]) for k in stripped if k.startswith("input_blocks.")}
    per = downsamplers[0] if downsamplers else max(inputs, default=0) + 1  # entries per block: resnets + downsampler
    if per < 1:  # a downsampler at input_blocks.0, where conv_in belongs
        raise CheckpointError(f"{filename} is not an SVD checkpoint: input_blocks.0 holds a downsampler (op)")
    levels = len(downsamplers) + 1
    if per > MAX_LAYERS_PER_BLOCK + 1 or levels > MAX_LEVELS:
        raise CheckpointError(f"{filename} is not an SVD checkpoint: its block indices imply {per - 1} resnets per "
                              f"block and {levels} levels (at most {MAX_LAYERS_PER_BLOCK} and {MAX_LEVELS})")
    up = tuple(any(k.startswith(f"output_blocks.{per * b}.1.") for k in stripped) for b in range(levels))
    return UnetLayout(per - 1, up)


def plan_parts(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """The components a file has tensors for (cheap: by prefix only)."""
    names = list(shapes)
    found = {"unet": any(map(_is_unet, names)),
             "vae": any(n.startswith((VAE_PREFIX, CONDITIONING_VAE_PREFIX)) for n in names),
             "image_encoder": any(n.startswith(IMAGE_ENCODER_PREFIX) for n in names)}
    return [c for c in COMPONENTS if found[c]]


def plan_read(shapes: dict[str, tuple[int, ...]], metadata: dict[str, str], *, filename: str,
              frames: int | None = None, defaults: dict[str, dict] | None = None, derive: bool = True) -> ReadPlan:
    """Route every tensor of a single file, or say why not: unknown keys are an error, never dropped.

    Configurations: the file's metadata (the converter writes them), else ``defaults`` (a base
    model's), else what the shapes imply (``derive``). ``frames`` overrides the UNet's."""
    names = list(shapes)
    unet_keys = [n for n in names if _is_unet(n)]
    if not unet_keys:
        raise CheckpointError(f"{filename} holds no SVD UNet tensors (model.diffusion_model.*); its first keys are "
                         f"{', '.join(names[:3]) or 'none'}")
    moves: dict[str, list[Move]] = {}
    layout = _unet_layout(unet_keys, filename)
    try:
        moves["unet"] = [Move(sgm_to_diffusers(k, layout), (k,)) for k in unet_keys]
    except NamingError as exc:
        raise CheckpointError(f"{filename} is not an SVD checkpoint: {exc}") from None
    rest = [n for n in names if not _is_unet(n)]
    ignored: dict[str, str] = {}

    conditioning = [n for n in rest if n.startswith(CONDITIONING_VAE_PREFIX)]
    first_stage = [n for n in rest if n.startswith(VAE_PREFIX)]
    decoder, unknown = to_diffusers(VAE_DECODER_RULES,
                                    [n for n in first_stage if n.startswith(VAE_PREFIX + "decoder.")],
                                    levels=_levels(names, VAE_PREFIX + "decoder.up."), prefix=VAE_PREFIX)
    own_encoder = [n for n in first_stage if n.startswith(VAE_PREFIX + "encoder.")]
    if conditioning:
        encoder, unknown_encoder = to_diffusers(VAE_ENCODER_RULES, conditioning, prefix=CONDITIONING_VAE_PREFIX)
        second_copy = "the VAE encoder's second copy; the conditioner's (with quant_conv) is read"
        ignored |= dict.fromkeys(own_encoder, second_copy)
    else:
        encoder, unknown_encoder = to_diffusers(VAE_ENCODER_RULES, own_encoder, prefix=VAE_PREFIX)
        conv_out = VAE_PREFIX + "encoder.conv_out.weight"
        if conv_out in shapes:  # an identity quant_conv, as wide as the encoder's output
            encoder += [Move("quant_conv.weight", (conv_out,), "identity"),
                        Move("quant_conv.bias", (conv_out,), "zeros")]
    unknown += unknown_encoder + [n for n in first_stage if not n.startswith((VAE_PREFIX + "decoder.",
                                                                              VAE_PREFIX + "encoder."))]
    if decoder or encoder:
        moves["vae"] = encoder + decoder

    clip = [n for n in rest if n.startswith(IMAGE_ENCODER_PREFIX)]
    if clip:
        moves["image_encoder"], unknown_clip = to_diffusers(_image_encoder_rules(clip, filename), clip,
                                                            prefix=IMAGE_ENCODER_PREFIX)
        unknown += unknown_clip
    sampling = {SAMPLING_KEYS[n]: n for n in rest if n in SAMPLING_KEYS}
    for name in sampling.values():
        if shapes[name] not in ((), (1,)):
            raise CheckpointError(f"{filename}: {name} must hold one number, not a tensor of shape {shapes[name]}")
    ignored |= {n: "OpenCLIP's text tower (SVD uses the image tower only)"
                for n in rest if n.startswith(OPEN_CLIP_PREFIX) and not n.startswith(IMAGE_ENCODER_PREFIX)}
    unknown += [n for n in rest if not n.startswith((CONDITIONING_VAE_PREFIX, VAE_PREFIX, OPEN_CLIP_PREFIX))
                and n not in SAMPLING_KEYS]
    if unknown:
        raise CheckpointError(f"{filename} has {len(unknown)} tensors that are not part of SVD: "
                         f"{', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''}")

    shapes_out = {c: {m.target: m.shape(shapes) for m in ms} for c, ms in moves.items()}
    configs = (defaults or {}) | _file_configs(metadata, filename)
    check_configs(configs, filename)  # before anything is derived from them or built
    derived = {"unet": lambda s: unet_config(s, frames or frames_from_name(filename)), "vae": vae_config,
               "image_encoder": image_encoder_config}
    for component in moves:
        if component not in configs and derive:
            try:
                configs[component] = derived[component](shapes_out[component])
            except CheckpointError as exc:
                raise CheckpointError(f"{filename}: {exc}") from None
    if frames is not None and "unet" in configs:
        configs["unet"] = configs["unet"] | {"num_frames": frames}
    check_configs(configs, filename)
    return ReadPlan(moves, shapes_out, configs, ignored, sampling)


def _image_encoder_rules(names: list[str], filename: str) -> tuple:
    """OpenCLIP's names (Stability's files) or transformers' (ComfyUI's save node); never both."""
    transformers_names = ("vision_model.", "visual_projection.")
    ours = [n for n in names if n.removeprefix(IMAGE_ENCODER_PREFIX).startswith(transformers_names)]
    if not ours:
        return IMAGE_ENCODER_RULES
    if len(ours) < len(names):
        other = next(n for n in names if n not in set(ours))
        raise CheckpointError(f"{filename} names its image encoder both ways, OpenCLIP's ({other}) and transformers' "
                              f"({ours[0]}); a file holds one of them")
    return TRANSFORMERS_IMAGE_ENCODER_RULES


def scheduler_config(plan: ReadPlan, read, filename: str) -> dict:
    """The scheduler's configuration: the file's (its metadata), else SVD's, with the sampling range
    the file holds (ComfyUI's ``edm_vpred.sigma_*``), checked. ``read(name)`` gives a tensor."""
    config = dict(plan.configs.get("scheduler") or svd_xt_config("scheduler"))
    for option, name in plan.sampling.items():
        value = float(str(read(name).reshape(()).float().numpy()))  # float32's shortest text: 0.002, not 0.0020000001
        if not math.isfinite(value) or value <= 0:
            raise CheckpointError(f"{filename}: {name} is {value}; a noise level must be a positive number")
        if not math.isclose(value, config.get(option, 0.0), rel_tol=1e-6):  # not the same number stored in float32
            config[option] = value
    if config.get("sigma_min", 0.0) >= config.get("sigma_max", math.inf):
        raise CheckpointError(f"{filename}: the sampling range is empty: sigma_min {config['sigma_min']:g} is not "
                              f"below sigma_max {config['sigma_max']:g}")
    return config


def _is_unet(name: str) -> bool:
    return name.startswith(UNET_PREFIXES + _BARE_UNET)


def _levels(names: list[str], prefix: str) -> int:
    indices = (n[len(prefix):].split(".")[0] for n in names if n.startswith(prefix))
    return 1 + max((int(i) for i in indices if i.isdecimal()), default=-1)  # others are unknown keys, named later


def _file_configs(metadata: dict[str, str], filename: str) -> dict[str, dict]:
    if CONFIGS_METADATA_KEY not in metadata:
        return {}
    configs = parse_json_object(metadata[CONFIGS_METADATA_KEY], f"{filename}: metadata {CONFIGS_METADATA_KEY}")
    if not all(isinstance(v, dict) for v in configs.values()):
        raise CheckpointError(f"{filename}: metadata {CONFIGS_METADATA_KEY} must map component names to configurations")
    return configs


def plan_write(shapes: dict[str, dict[str, tuple[int, ...]]], configs: dict[str, dict]) -> list[Move]:
    """Moves that build Stability's single-file layout from diffusers components; sources are
    named ``component/name``."""
    moves: list[Move] = []
    unet = shapes["unet"]
    layout = UnetLayout.from_config(configs["unet"])
    moves += [Move(diffusers_to_sgm(k, layout), (f"unet/{k}",)) for k in unet]

    vae = list(shapes.get("vae", {}))
    if vae:
        levels = len(configs["vae"]["block_out_channels"])
        decoder = [k for k in vae if k.startswith("decoder.")]
        encoder = [k for k in vae if not k.startswith("decoder.")]
        for move in to_sgm(VAE_DECODER_RULES, decoder, levels=levels, prefix=VAE_PREFIX):
            moves.append(_sourced(move, "vae"))
        for move in to_sgm(VAE_ENCODER_RULES, encoder, prefix=CONDITIONING_VAE_PREFIX):
            moves.append(_sourced(move, "vae"))
            if move.target.startswith(CONDITIONING_VAE_PREFIX + "encoder."):
                moves.append(_first_stage_copy(_sourced(move, "vae")))
    clip = list(shapes.get("image_encoder", {}))
    if clip:
        moves += [_sourced(m, "image_encoder") for m in to_sgm(IMAGE_ENCODER_RULES, clip, prefix=IMAGE_ENCODER_PREFIX)]
    return moves


def _sourced(move: Move, component: str) -> Move:
    return dataclasses.replace(move, sources=tuple(f"{component}/{s}" for s in move.sources))


def _first_stage_copy(move: Move) -> Move:
    """The encoder as ``first_stage_model.encoder``: with ``quant_conv`` folded into ``conv_out``."""
    target = VAE_PREFIX + move.target.removeprefix(CONDITIONING_VAE_PREFIX)
    if move.target.endswith("encoder.conv_out.weight"):
        return Move(target, move.sources + ("vae/quant_conv.weight",), "fold_weight")
    if move.target.endswith("encoder.conv_out.bias"):
        return Move(target, move.sources + ("vae/quant_conv.weight", "vae/quant_conv.bias"), "fold_bias")
    return dataclasses.replace(move, target=target)

