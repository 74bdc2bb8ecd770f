"""SVD-XT's published configuration (``checkpoints/svd_xt/*.json``): components with random weights.

For benchmarks (speed does not depend on the weights) and for checks of the real architecture's
shapes, which cost no memory on the ``meta`` device.
"""

from __future__ import annotations

import torch

from svd_attention_lab.checkpoints import constructor_kwargs as public, svd_xt_config


def svd_xt_components(device: str | torch.device = "meta", dtype: torch.dtype = torch.float32) -> dict:
    """The five pipeline components with SVD-XT's architecture, weights random (or absent on ``meta``)."""
    from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModelWithProjection

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in ``dtype`` directly: no float32 copy of 1.5 B parameters
    try:
        with torch.device(device):
            unet = UNetSpatioTemporalConditionModel(**public(svd_xt_config("unet")))
            vae = AutoencoderKLTemporalDecoder(**public(svd_xt_config("vae")))
            image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(**public(svd_xt_config("image_encoder"))))
    finally:
        torch.set_default_dtype(previous)
    return {
        "unet": unet.eval(),
        "vae": vae.eval(),
        "image_encoder": image_encoder.eval(),
        "scheduler": EulerDiscreteScheduler.from_config(svd_xt_config("scheduler")),
        "feature_extractor": CLIPImageProcessorPil(**svd_xt_config("feature_extractor")),
    }
