"""Tiny, seeded models with the real SVD architectures, built from config (no downloads)."""

from __future__ import annotations

import torch
from diffusers import UNetSpatioTemporalConditionModel

from svd_attention_lab.checkpoints import UnetLayout, diffusers_to_sgm

# 6 spatio-temporal transformers (down 2, mid 1, up 3): 12 target tensors per multiplier.
TINY_TARGETS_PER_FIELD = 12


def tiny_unet(seed: int = 0, dtype: torch.dtype = torch.float32) -> UNetSpatioTemporalConditionModel:
    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=8,
        projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    # Randomise every parameter: zero-initialised ones (e.g. biases) would hide scaling mistakes.
    with torch.no_grad():
        for p in unet.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    return unet.to(dtype).eval()


def unet_inputs(seed: int = 1, frames: int = 3, dtype: torch.dtype = torch.float32) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        "sample": torch.randn(1, frames, 8, 16, 16, generator=g).to(dtype),
        "timestep": torch.tensor(0.5),
        "encoder_hidden_states": torch.randn(1, 1, 32, generator=g).to(dtype),
        "added_time_ids": torch.tensor([[6.0, 127.0, 0.02]]).to(dtype),
    }


def sgm_state_dict(unet: torch.nn.Module, prefix: str = "model.diffusion_model.") -> dict[str, torch.Tensor]:
    """The UNet's state dict under SGM/ComfyUI names, as a single-file checkpoint holds it."""
    layout = UnetLayout.from_config(unet.config)
    return {diffusers_to_sgm(k, layout, prefix): v for k, v in unet.state_dict().items()}


class UnetCalls:
    """Counts UNet forward passes through a hook."""

    def __init__(self, unet):
        self.count = 0
        self._handle = unet.register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        self.count += 1

    def remove(self):
        self._handle.remove()


def count_renders(monkeypatch) -> list[int]:
    """From now on (until ``monkeypatch`` undoes it), the videos each call of the GPU function renders:
    a baseline or a patched video each."""
    from svd_attention_lab.engine import _render

    counts = []
    real = _render.render_frames

    def counting(job, *args):
        counts.append(len(job.videos))
        return real(job, *args)

    monkeypatch.setattr(_render, "render_frames", counting)
    return counts
