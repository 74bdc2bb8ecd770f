"""A patched render whose step schedule starts at ``--start`` resumes from the baseline's latents:
its cost against a plain diffusers call, and the UNet calls saved.

    python bench/schedule_resume.py [--model demo] [--start 0.5] [--steps 20] [--repeats 3]

Times, in this one run (median of ``--repeats``): a plain ``StableVideoDiffusionPipeline`` call with
the multipliers applied for every step, the scheduled render denoising from scratch, and the same
render resumed from the cached baseline; prints UNet calls and the ratios (about the share of steps
from the schedule's first patched step on expected for the resumed render, decoding aside) and checks
the two scheduled renders are bitwise equal.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from svd_attention_lab import engine  # noqa: E402
from svd_attention_lab.controls import Multipliers, patched_steps  # noqa: E402

IMAGE = ROOT / "examples" / "shapes-2.png"
M = Multipliers(self_temporal=0.5, cross_temporal=1.3)


def median_seconds(fn, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--start", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    model = engine.load_model(args.model)
    previewer = engine.Previewer(model)
    settings = engine.preview_settings(model, steps=args.steps, seed=1)
    scheduled = settings.replace(start=args.start)
    width, height = settings.resolved_size(model)
    prepared = engine.prepare_image(IMAGE, width, height)

    def plain():
        with model.patch.applied(M):
            return model.pipe(prepared, height=height, width=width, num_frames=settings.frames,
                              num_inference_steps=settings.steps, min_guidance_scale=settings.min_guidance,
                              max_guidance_scale=settings.max_guidance, fps=settings.fps,
                              motion_bucket_id=settings.motion_bucket_id,
                              noise_aug_strength=settings.noise_aug_strength,
                              decode_chunk_size=settings.decode_chunk_size,
                              generator=torch.Generator().manual_seed(settings.seed), output_type="np").frames[0]

    previewer.render(prepared, settings, Multipliers())  # the baseline, cached with its latents
    plain()  # warm-up
    _, plain_s = median_seconds(plain, args.repeats)

    previewer.resume = False
    full, full_s = median_seconds(lambda: previewer.render(prepared, scheduled, M).patched, args.repeats)
    full_calls = previewer.unet_calls
    previewer.resume = True
    resumed, resumed_s = median_seconds(lambda: previewer.render(prepared, scheduled, M).patched, args.repeats)
    resumed_calls = previewer.unet_calls

    first_on = range(patched_steps(args.start, 1.0, settings.steps, *model.sigma_range).start, settings.steps)
    print(f"{model.describe()}; {settings.frames} frames at {width}x{height}, {settings.steps} steps, "
          f"start {args.start}")
    print(f"plain diffusers call (patched every step): {plain_s:.3f} s, {settings.steps} UNet calls")
    print(f"scheduled, from scratch:                   {full_s:.3f} s, {full_calls} UNet calls")
    print(f"scheduled, resumed from the baseline:      {resumed_s:.3f} s, {resumed_calls} UNet calls")
    print(f"resumed / plain: {resumed_s / plain_s:.2f}; resumed / from scratch: {resumed_s / full_s:.2f}; "
          f"UNet calls {resumed_calls}/{full_calls} = {resumed_calls / full_calls:.2f} "
          f"(steps from the first patched one: {len(first_on)}/{settings.steps})")
    print(f"bitwise equal frames: {np.array_equal(full, resumed)}")


if __name__ == "__main__":
    main()
