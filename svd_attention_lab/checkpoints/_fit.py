"""The one rule for accepting a pipeline part's tensors: exactly the parameters and buffers its
architecture has, each of its shape, whatever the source (a single file, a diffusers folder, a file
about to be converted). The loader and the converter both apply it before anything is built or
written, so a model never runs with a tensor no file provided (transformers and diffusers would fill
it with random values, or leave it on ``meta``), and ``convert`` accepts exactly what the loader does.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ._errors import CheckpointError
from svd_attention_lab.files import regular_file

COMPONENTS = ("unet", "vae", "image_encoder")  # the parts that carry weights
LABELS = {"unet": "UNet", "vae": "VAE", "image_encoder": "image encoder"}



def empty_component(component: str, config: dict, where: str) -> torch.nn.Module:
    """The part ``component`` built from ``config`` with its parameters on ``meta`` (no memory)."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    try:
        with init_empty_weights():  # parameters on ``meta``; buffers (CLIP's position ids) real
            if component == "unet":
                return UNetSpatioTemporalConditionModel.from_config(config)
            if component == "vae":
                return AutoencoderKLTemporalDecoder.from_config(config)
            return CLIPVisionModelWithProjection(CLIPVisionConfig.from_dict(config))
    except Exception as exc:  # a configuration diffusers or transformers refuses
        raise CheckpointError(f"{where}: cannot build its {LABELS[component]} ({' '.join(str(exc).split())})") from None


def check_fits(component: str, config: dict, shapes: dict[str, tuple[int, ...]], where: str) -> torch.nn.Module:
    """Refuse ``shapes`` (tensor name -> shape, diffusers names) unless they are exactly the part's own;
    returns the part, built empty, for the caller to fill."""
    model = empty_component(component, config, where)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing, unexpected = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
    wrong = sorted(k for k in set(expected) & set(shapes) if expected[k] != tuple(shapes[k]))
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{where}: its {LABELS[component]} does not fit SVD's architecture: {len(missing)} tensors missing"
            f"{_some(missing)}, {len(unexpected)} unexpected{_some(unexpected)}, "
            f"{len(wrong)} of another shape{_some(wrong)}")
    return model


def _some(names: list[str]) -> str:
    return f" ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})" if names else ""


def parse_json_object(text: str | bytes, where: str) -> dict:
    """A JSON object, or a ``CheckpointError`` naming ``where``: never Python's own parser text or a
    recursion error."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError(f"{where} is not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise CheckpointError(f"{where} is nested too deeply to be a configuration") from None
    except ValueError as exc:  # a number past Python's digit limit
        raise CheckpointError(f"{where} holds a number too long to read ({str(exc).split('(')[0].strip()})") from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{where} must hold a JSON object, not {type(doc).__name__}")
    return doc


def read_json_object(path: Path, what: str = "configuration file") -> dict:
    return parse_json_object(regular_file(path, what).read_bytes(), str(path))
