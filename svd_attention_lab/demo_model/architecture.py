"""The embedded demo model's architecture: SVD's at toy size, small enough to ship in the repo.

``python -m svd_attention_lab.demo_model.build`` writes it as a diffusers folder of ``.safetensors`` and configs. The
architecture and conditioning are SVD's (spatio-temporal UNet with attn1/attn2 in spatial and
temporal blocks, temporal VAE decoder, CLIP image encoder, v-prediction Euler/Karras scheduler);
only the widths and the native resolution (64x64, 8 frames) are tiny.
"""

from __future__ import annotations

from pathlib import Path

import torch

from svd_attention_lab.engine import DEMO_FRAMES, DEMO_MODEL_DIR

DEMO_RESOLUTION = 64


def demo_scheduler():
    from diffusers import EulerDiscreteScheduler

    # SVD's scheduler configuration: EDM sigmas with Karras spacing, v-prediction, continuous timesteps.
    return EulerDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        interpolation_type="linear",
        prediction_type="v_prediction",
        sigma_max=700.0,
        sigma_min=0.002,
        steps_offset=1,
        timestep_spacing="leading",
        timestep_type="continuous",
        use_karras_sigmas=True,
    )


def demo_components(seed: int = 0) -> dict:
    """Fresh, seeded components with the demo architecture (random weights)."""
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(
        sample_size=DEMO_RESOLUTION // 4,
        in_channels=8,  # 4 noisy latent channels + 4 conditioning image latent channels
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal"),
        up_block_types=("CrossAttnUpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        cross_attention_dim=32,
        num_attention_heads=(2, 4),
        addition_time_embed_dim=16,
        projection_class_embeddings_input_dim=3 * 16,  # fps, motion_bucket_id, noise_aug_strength
        num_frames=DEMO_FRAMES,
    )
    vae = AutoencoderKLTemporalDecoder(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        # 3 levels: latents are 1/4 of the image size. The decoder's last GroupNorm has 32 groups; at 32
        # channels that is one channel a group, which erases every channel's mean and with it most
        # of the colour. 64 channels leave two a group, which keeps colour recoverable.
        block_out_channels=(64, 32, 64),
        layers_per_block=1,
        latent_channels=4,
        sample_size=DEMO_RESOLUTION,
    )
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            image_size=224,  # the pipeline always resizes to 224 for CLIP
            patch_size=32,
        )
    )
    feature_extractor = CLIPImageProcessorPil(crop_size=224, size=224)
    return {
        "unet": unet.eval(),
        "vae": vae.eval(),
        "image_encoder": image_encoder.eval(),
        "scheduler": demo_scheduler(),
        "feature_extractor": feature_extractor,
    }


def build_demo_pipeline(seed: int = 0):
    from diffusers import StableVideoDiffusionPipeline

    return StableVideoDiffusionPipeline(**demo_components(seed))


def save_demo_pipeline(pipe, out: Path = DEMO_MODEL_DIR) -> None:
    pipe.save_pretrained(out, safe_serialization=True)
