"""Single-file SGM checkpoints, as ComfyUI users hold them: diffusers components built from one file.

``plan_read`` routes every tensor (UNet, temporal VAE, OpenCLIP image encoder) to its
diffusers name and gives each component's configuration (the file's metadata, else the ``--base``
model's, else what the shapes imply). Each component is built without weights (``meta``) and its
tensors are read one at a time with plain file reads, cast, and assigned: peak memory stays near
the loaded model itself. (A memory map would leave every page it touched resident.)
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ._convert import TensorFiles
from ._errors import CheckpointError
from ._fit import COMPONENTS, LABELS, check_fits
from ._svd_file import plan_parts, plan_read, scheduler_config

logger = logging.getLogger(__name__)


def build_single_file(path: str | Path, dtype: torch.dtype, *, frames: int | None = None,
                     defaults: dict[str, dict] | None = None, has_base: bool = False) -> tuple[dict, dict,
                                                                                               dict[str, str]]:
    """The components a file holds (``unet``, and ``vae`` / ``image_encoder`` where it has them)
    in ``dtype`` on the CPU, the configurations of those it does not (``scheduler``, its sampling
    range from the file where it holds one; ...) where it says, and its metadata. Without ``has_base``
    a file must hold the whole pipeline."""
    path = Path(path)
    with TensorFiles([("", path)]) as tensors:
        missing = [LABELS[c] for c in COMPONENTS if c not in plan_parts(tensors.shapes)]
        if missing and not has_base:
            plan_read(tensors.shapes, tensors.metadata, filename=str(path),
                      derive=False)  # a wrong file says so first
            raise CheckpointError(f"{path} holds no {' or '.join(missing)}: pass --base FOLDER_OR_HUB_ID for the "
                                 "parts it lacks (an SVD or SVD-XT diffusers folder, or its Hub id)")
        plan = plan_read(tensors.shapes, tensors.metadata, filename=str(path), frames=frames, defaults=defaults)
        if plan.ignored:
            logger.info("%s: %d tensors not read (%s, ...)", path.name, len(plan.ignored), next(iter(plan.ignored)))
        components = {c: _load_component(c, plan, tensors, dtype, str(path)) for c in plan.components}
        configs = {k: v for k, v in plan.configs.items() if k not in components}
        configs["scheduler"] = scheduler_config(plan, tensors.read, str(path))
    return components, configs, tensors.metadata


def _load_component(component: str, plan, tensors: TensorFiles, dtype: torch.dtype, filename: str) -> torch.nn.Module:
    model = check_fits(component, plan.configs[component], plan.shapes[component], filename)
    state = {m.target: m.apply([tensors.read(s) for s in m.sources]).to(dtype) for m in plan.moves[component]}
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()
