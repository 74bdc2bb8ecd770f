"""``python -m svd_attention_lab.demo_model.train``: train the embedded demo model on procedurally generated videos.

Three stages, from fixed seeds, on the CPU:

1. the VAE (encoder + temporal decoder) as an autoencoder, first of single frames, then of whole
   videos (decoding the posterior mean, with a small KL term), then its
   latent scaling factor from the latents' spread, as Stable Diffusion's VAEs do;
2. the UNet with SVD's objective: EDM preconditioning for v-prediction, matching what diffusers'
   ``EulerDiscreteScheduler(prediction_type="v_prediction", timestep_type="continuous")`` does at
   inference (c_in = 1/sqrt(s^2+1), c_skip = 1/(s^2+1), c_out = -s/sqrt(s^2+1), c_noise = log(s)/4),
   conditioned as SVD is: CLIP image embedding for cross-attention, the noise-augmented first-frame
   latents concatenated to every frame, and (fps-1, motion_bucket_id, noise_aug_strength) time ids.
   Conditioning is dropped 10% of the time so classifier-free guidance works;
3. the VAE decoder alone, encoder frozen, in stages: first on clean latents, so frames get sharper
   without moving the latent space the UNet learned, then on latents carrying fresh noise in every
   frame, as sampled ones do, so the temporal decoder learns to smooth out frame-to-frame flicker.

The CLIP image encoder stays at its seeded random initialisation: a fixed random projection of the
conditioning image, which the UNet learns to read. Writes the pipeline folder and a JSON report.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from svd_attention_lab.engine import DEMO_FRAMES, DEMO_MODEL_DIR

from .architecture import DEMO_RESOLUTION, demo_components
from .synthetic import make_batch

logger = logging.getLogger(__name__)

FPS_ID = 6  # the pipeline passes fps - 1; the demo is trained at its default fps of 7
CFG_DROPOUT = 0.1
P_MEAN, P_STD = 0.5, 1.8  # log-normal training sigmas, wide enough for SVD's sigma_max of 700


def to_tensor(videos: np.ndarray) -> torch.Tensor:
    """(B, F, H, W, 3) uint8 -> (B, F, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(videos).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0


def clip_embeddings(image_encoder, first: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, 1, D), preprocessed as the pipeline's ``_encode_image`` does."""
    from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import _resize_with_antialiasing

    image = _resize_with_antialiasing(first, (224, 224))
    image = (image + 1.0) / 2.0
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
    return image_encoder((image - mean) / std).image_embeds.unsqueeze(1)


def cosine_lr(step: int, total: int, peak: float, warmup: int = 100) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


class LossCurve:
    """Averages the loss over every ``every`` steps, prints it, and keeps the curve for the report."""

    def __init__(self, name: str, total: int, every: int) -> None:
        self.name, self.total, self.every = name, total, every
        self.points: list[dict] = []
        self._running: list[float] = []

    def record(self, step: int, loss: float, note: str = "") -> None:
        self._running.append(loss)
        if (step + 1) % self.every == 0 or step + 1 == self.total:
            self.points.append({"step": step + 1, "loss": float(np.mean(self._running))})
            print(f"{self.name:4s} step {step + 1:5d}/{self.total}{note}  loss {self.points[-1]['loss']:.5f}",
                  flush=True)
            self._running = []


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def train_vae(vae, rng, image_steps: int, video_steps: int, images: int, lr: float, log_every: int) -> list[dict]:
    """Two phases: ``images`` distinct single frames a step, then whole 8-frame videos.

    Single frames teach the spatial autoencoder on many different images for the cost of one
    video; the video steps train the temporal decoder's time mixing on real clips.
    """
    vae.train()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    total = image_steps + video_steps
    curve = LossCurve("vae", total, log_every)
    for step in range(total):
        if step < image_steps:
            videos, _ = make_batch(rng, images, 1, DEMO_RESOLUTION)
        else:
            videos, _ = make_batch(rng, max(1, images // DEMO_FRAMES), DEMO_FRAMES, DEMO_RESOLUTION)
        frames = videos.shape[1]
        x = to_tensor(videos).flatten(0, 1)  # (B*F, 3, H, W)
        posterior = vae.encode(x).latent_dist
        # Decoding the posterior's mean (its mode), as the pipeline does at inference; the small KL term
        # keeps the latents near unit scale. Sampling would slow training a lot for a model this small.
        recon = vae.decode(posterior.mode(), num_frames=frames).sample
        rec_loss = F.mse_loss(recon, x) + 0.5 * F.l1_loss(recon, x)
        loss = rec_loss + 1e-6 * posterior.kl().mean()
        optimizer_step(opt, loss, vae.parameters(), cosine_lr(step, total, lr))
        curve.record(step, rec_loss.item(), " (images)" if step < image_steps else " (videos)")
    vae.eval()
    return curve.points


def train_decoder(vae, rng, steps: int, videos_per_step: int, lr: float, log_every: int,
                  latent_noise: float = 0.0) -> list[dict]:
    """Fine-tune only the temporal decoder on whole videos, with the encoder frozen.

    The UNet has learned the encoder's latent space, which this leaves untouched; a sharper
    decoder then improves every frame the pipeline produces. With ``latent_noise`` (a standard
    deviation in the UNet's scaled latent units) the decoder reconstructs clean videos from
    latents that carry fresh noise in every frame, as sampled latents do, and so learns to
    smooth frame-to-frame flicker out: the job SVD's temporal decoder was made for.
    """
    vae.requires_grad_(False)
    vae.decoder.requires_grad_(True)
    vae.decoder.train()
    opt = torch.optim.AdamW(vae.decoder.parameters(), lr=lr, weight_decay=0.0)
    curve = LossCurve("dec", steps, log_every)
    noise = torch.Generator().manual_seed(int(rng.integers(2**31))) if latent_noise else None
    for step in range(steps):
        videos, _ = make_batch(rng, videos_per_step, DEMO_FRAMES, DEMO_RESOLUTION)
        x = to_tensor(videos).flatten(0, 1)
        with torch.no_grad():
            latents = vae.encode(x).latent_dist.mode()
            if latent_noise:
                latents = perturb_latents(latents, latent_noise / vae.config.scaling_factor, noise)
        recon = vae.decode(latents, num_frames=DEMO_FRAMES).sample
        loss = F.mse_loss(recon, x) + 0.5 * F.l1_loss(recon, x)
        optimizer_step(opt, loss, vae.decoder.parameters(), cosine_lr(step, steps, lr, warmup=20))
        curve.record(step, loss.item())
    vae.requires_grad_(False)
    vae.eval()
    return curve.points


def perturb_latents(latents: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """Add noise of the kind a sampled video's latents carry, drawn afresh for every frame: a
    per-pixel part and a per-channel offset of half its size (its colour shifting from frame to frame)."""
    frames, channels = latents.shape[:2]
    pixels = torch.randn(latents.shape, generator=generator)
    offset = torch.randn(frames, channels, 1, 1, generator=generator)
    return latents + std * (pixels + 0.5 * offset)


@torch.no_grad()
def latent_scale(vae, rng, batches: int = 8) -> float:
    latents = [vae.encode(to_tensor(make_batch(rng, 4)[0]).flatten(0, 1)).latent_dist.mode() for _ in range(batches)]
    return float(1.0 / torch.cat(latents).std())


def train_unet(unet, vae, image_encoder, rng, steps: int, batch: int, lr: float, log_every: int) -> list[dict]:
    scale = vae.config.scaling_factor
    unet.train()
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.01)
    curve = LossCurve("unet", steps, log_every)
    for step in range(steps):
        videos, buckets = make_batch(rng, batch, DEMO_FRAMES, DEMO_RESOLUTION)
        x = to_tensor(videos)  # (B, F, 3, H, W)
        b = x.shape[0]
        with torch.no_grad():
            x0 = vae.encode(x.flatten(0, 1)).latent_dist.mode().unflatten(0, (b, DEMO_FRAMES)) * scale
            first = x[:, 0]
            aug = torch.from_numpy(rng.uniform(0.0, 0.1, b)).float()
            cond = vae.encode(first + aug.view(b, 1, 1, 1) * torch.randn_like(first)).latent_dist.mode()
            emb = clip_embeddings(image_encoder, first)
            keep = (torch.rand(b) > CFG_DROPOUT).float()
            cond = cond * keep.view(b, 1, 1, 1)
            emb = emb * keep.view(b, 1, 1)
            cond = cond.unsqueeze(1).expand(-1, DEMO_FRAMES, -1, -1, -1)  # (B, F, 4, h, w)

        sigma = torch.exp(P_MEAN + P_STD * torch.randn(b))
        s = sigma.view(b, 1, 1, 1, 1)
        noisy = x0 + s * torch.randn_like(x0)
        c_in, c_skip, c_out = 1 / (s**2 + 1).sqrt(), 1 / (s**2 + 1), -s / (s**2 + 1).sqrt()
        time_ids = torch.stack([torch.full((b,), float(FPS_ID)), torch.from_numpy(buckets).float(), aug], dim=1)
        model_out = unet(
            torch.cat([noisy * c_in, cond], dim=2),
            0.25 * sigma.log(),
            encoder_hidden_states=emb,
            added_time_ids=time_ids,
        ).sample
        # EDM's loss weight (s^2+1)/s^2 on the denoised latents is exactly a plain MSE on this target.
        target = (x0 - c_skip * noisy) / c_out
        loss = F.mse_loss(model_out, target)
        optimizer_step(opt, loss, unet.parameters(), cosine_lr(step, steps, lr))
        curve.record(step, loss.item())
    unet.eval()
    return curve.points


def decoder_stage(report: dict) -> tuple[str, int]:
    """The report key and number of the next decoder stage: decoder, then decoder_2, decoder_3..."""
    runs = 1 + sum(key == "decoder" or key.startswith("decoder_") for key in report)
    return ("decoder" if runs == 1 else f"decoder_{runs}"), runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m svd_attention_lab.demo_model.train",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEMO_MODEL_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vae-steps", type=int, default=1300, help="steps on single frames")
    parser.add_argument("--vae-video-steps", type=int, default=200, help="then steps on whole videos")
    parser.add_argument("--vae-images", type=int, default=8, help="frames a VAE step (single images, or one video)")
    parser.add_argument("--unet-steps", type=int, default=2800)
    parser.add_argument("--batch", type=int, default=4, help="videos a UNet step")
    parser.add_argument("--vae-lr", type=float, default=2e-3)
    parser.add_argument("--unet-lr", type=float, default=1e-3)
    # the decoder-only stages that come last: one value per stage in each of these three
    parser.add_argument("--decoder-steps", type=int, nargs="+", default=[2000, 1500, 1500],
                        help="steps of each decoder-only stage, on whole videos")
    parser.add_argument("--decoder-lr", type=float, nargs="+", default=[1e-3, 5e-4, 5e-4])
    parser.add_argument("--latent-noise", type=float, nargs="+", default=[0.0, 0.0, 0.1],
                        help="per-frame noise on each stage's latents (scaled units), to train flicker out")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--decoder-only", type=Path, metavar="DIR",
                        help="run only the decoder stages, on the pipeline in DIR (its report is extended)")
    args = parser.parse_args(argv)
    lengths = {len(args.decoder_steps), len(args.decoder_lr), len(args.latent_noise)}
    if len(lengths) > 1:
        parser.error("--decoder-steps, --decoder-lr and --latent-noise need one value per decoder stage, "
                     f"got {len(args.decoder_steps)}, {len(args.decoder_lr)} and {len(args.latent_noise)}")

    from diffusers import StableVideoDiffusionPipeline

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    report: dict = {}
    if args.decoder_only:
        pipe = StableVideoDiffusionPipeline.from_pretrained(args.decoder_only, use_safetensors=True)
        components = {name: getattr(pipe, name) for name in ("unet", "vae", "image_encoder", "scheduler",
                                                             "feature_extractor")}
        vae = components["vae"]
        previous = args.decoder_only / "training_report.json"
        report = json.loads(previous.read_text()) if previous.is_file() else {}
    else:
        components = demo_components(args.seed)
        vae, unet, image_encoder = components["vae"], components["unet"], components["image_encoder"]
        image_encoder.requires_grad_(False)

        # 1. VAE
        vae_curve = train_vae(vae, rng, args.vae_steps, args.vae_video_steps, args.vae_images, args.vae_lr,
                              args.log_every)
        vae.requires_grad_(False)
        vae.register_to_config(scaling_factor=latent_scale(vae, rng))
        vae_seconds = time.perf_counter() - started
        print(f"vae done in {vae_seconds:.0f}s, latent scaling factor {vae.config.scaling_factor:.4f}", flush=True)

        # 2. UNet
        unet_curve = train_unet(unet, vae, image_encoder, rng, args.unet_steps, args.batch, args.unet_lr,
                                args.log_every)
        report = {
            "settings": vars(args) | {"out": str(args.out), "p_mean": P_MEAN, "p_std": P_STD,
                                      "cfg_dropout": CFG_DROPOUT,
                                      "resolution": DEMO_RESOLUTION, "frames": DEMO_FRAMES, "fps_id": FPS_ID},
            "vae": {"final_recon_loss": vae_curve[-1]["loss"], "scaling_factor": vae.config.scaling_factor,
                    "curve": vae_curve},
            "unet": {"final_loss": unet_curve[-1]["loss"], "curve": unet_curve},
            "seconds": {"vae": round(vae_seconds, 1), "unet": round(time.perf_counter() - started - vae_seconds, 1)},
        }

    # 3. Decoder fine-tuning, encoder frozen.
    for steps, lr, noise in zip(args.decoder_steps, args.decoder_lr, args.latent_noise):
        stage, runs = decoder_stage(report)
        if runs > 1:
            # each later stage draws from a stream of its own, so running it here or
            # separately with --decoder-only trains the same weights
            rng = np.random.default_rng(args.seed + runs)
        stage_start = time.perf_counter()
        decoder_curve = train_decoder(vae, rng, steps, 1, lr, args.log_every, noise)
        report[stage] = {"final_recon_loss": decoder_curve[-1]["loss"], "curve": decoder_curve,
                         "steps": steps, "lr": lr, "latent_noise": noise,
                         "run": "separately, with --decoder-only" if args.decoder_only else "with the stages above"}
        report.setdefault("seconds", {})[stage] = round(time.perf_counter() - stage_start, 1)
    report["seconds"]["total"] = round(sum(v for k, v in report["seconds"].items() if k != "total"), 1)
    report["torch"] = torch.__version__

    # 4. Save the pipeline and the report.
    StableVideoDiffusionPipeline(**components).save_pretrained(args.out, safe_serialization=True)
    (args.out / "training_report.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {args.out}; training took {report['seconds']['total'] / 60:.1f} min in all", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
