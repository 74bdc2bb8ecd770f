"""Single-file SGM checkpoints, as ComfyUI users hold them: the UNet read lazily into a pipeline.

The file's UNet tensors (``model.diffusion_model.``, ComfyUI's ``diffusion_model.`` or no prefix)
are renamed to diffusers' names and read one at a time, with plain file reads, into an already
built UNet: peak memory stays near the model itself plus one tensor. (A memory map would leave
every page it touched resident: measured at 2.15x the model's size for SVD-XT's UNet.)
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from patcher import NamingError, PatchError, UnetLayout, read_header, read_tensor, sgm_to_diffusers

from ._errors import ModelLoadError

logger = logging.getLogger(__name__)

UNET_PREFIXES = ("model.diffusion_model.", "diffusion_model.")
_BARE_UNET = ("input_blocks.", "middle_block.", "output_blocks.", "time_embed.", "label_emb.", "out.")


def split_keys(names: list[str]) -> tuple[list[str], list[str]]:
    """(the UNet's keys, everything else: VAE, conditioner, ...)."""
    unet = [n for n in names if n.startswith(UNET_PREFIXES) or n.startswith(_BARE_UNET)]
    return unet, [n for n in names if n not in set(unet)]


@torch.no_grad()
def load_unet_weights(unet: torch.nn.Module, path: str | Path) -> list[str]:
    """Copy the file's UNet weights into ``unet``; return the file's other keys (not read)."""
    try:
        header = read_header(path)  # refuses pickles and truncated files first
    except PatchError as exc:
        raise ModelLoadError(str(exc)) from None
    infos = {t.name: t for t in header.tensors}
    names = list(infos)
    unet_keys, others = split_keys(names)
    if not unet_keys:
        raise ModelLoadError(f"{Path(path).name} holds no SVD UNet tensors (model.diffusion_model.*); "
                             f"its first keys are {', '.join(names[:3]) or 'none'}")
    layout = UnetLayout.from_config(unet.config)
    try:
        renamed = {sgm_to_diffusers(k, layout): k for k in unet_keys}
    except NamingError as exc:
        raise ModelLoadError(f"{Path(path).name} is not an SVD checkpoint: {exc}") from None
    targets = dict(unet.named_parameters()) | dict(unet.named_buffers())
    missing, unexpected = sorted(set(targets) - set(renamed)), sorted(set(renamed) - set(targets))
    if missing or unexpected:
        raise ModelLoadError(
            f"{Path(path).name} does not fit an SVD UNet: {len(missing)} tensors missing"
            f"{' (' + ', '.join(missing[:3]) + ', ...)' if missing else ''}, {len(unexpected)} unexpected"
            f"{' (' + ', '.join(renamed[k] for k in unexpected[:3]) + ', ...)' if unexpected else ''}")
    with open(path, "rb") as f:
        for name, key in renamed.items():
            target = targets[name]
            if tuple(infos[key].shape) != tuple(target.shape):
                raise ModelLoadError(f"{key} has shape {tuple(infos[key].shape)}; this UNet expects {tuple(target.shape)}")
            target.copy_(read_tensor(f, header, infos[key]))  # copy_ casts, so an fp16 file fills a float32 UNet
    return others
