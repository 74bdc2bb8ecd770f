"""What the optical-flow motion measures cost per frame, next to one render step of the demo model.

    python bench/flow_cost.py          # 64² and 576x1024 (SVD's size): a few minutes on 2 CPU cores
    python bench/flow_cost.py --quick  # 64² only

Per size, in one run: ``measure_flow`` (DIS flow, warping error, VBench's dynamic degree and
flickering) on an 8-frame synthetic pan, per frame pair (best of 3), and the DIS flow alone; then the
demo model's fastest UNet call in a real render at that size (one denoising step: batch 2 for
guidance), per frame. Prints milliseconds and the ratio of the measures to a render step. A render of F frames
and S steps makes S steps per frame, and a comparison measures both its videos (2 x (F - 1) pairs).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from svd_attention_lab.controls import Multipliers  # noqa: E402
from svd_attention_lab.engine import RenderJob, RenderSettings, load_model, prepare_image, register_model  # noqa: E402
from svd_attention_lab.engine import render_frames  # noqa: E402
from svd_attention_lab.outputs import measure_flow, pair_flows  # noqa: E402
from tests.motion_clips import clip  # noqa: E402

FRAMES = 8


def best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def unet_step_seconds(model, image: Path, height: int, width: int, frames: int, steps: int) -> float:
    """Seconds of the fastest UNet call (one denoising step) in a render of ``steps`` steps at this size."""
    unet, times, started = model.pipe.unet, [], []
    pre = unet.register_forward_pre_hook(lambda *_: started.append(time.perf_counter()))
    post = unet.register_forward_hook(lambda *_: times.append(time.perf_counter() - started[-1]))
    try:
        settings = RenderSettings(frames=frames, steps=steps, width=width, height=height, decode_chunk_size=frames)
        job = RenderJob(register_model(model), np.asarray(prepare_image(image, width, height)), settings,
                        (Multipliers(),))
        render_frames(job)
    finally:
        pre.remove()
        post.remove()
    return min(times)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64² only")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (the project's machine has 2 cores)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model("demo", device="cpu", dtype="float32")
    image = ROOT / "examples" / "shapes-1.png"
    sizes = [(64, 64)] if args.quick else [(64, 64), (576, 1024)]
    unet_step_seconds(model, image, 64, 64, 2, 1)  # warm-up
    rows = []
    print(f"{'size':>10} {'measures':>12} {'flow only':>12} {'render step':>13} {'measures / step':>16}")
    for height, width in sizes:
        frames, _ = clip("translate 1 px", height, width, frames=FRAMES)
        pairs = FRAMES - 1
        measures = best_of(lambda: measure_flow(frames, 7)) / pairs
        flow = best_of(lambda: pair_flows(frames)) / pairs
        small = height * width <= 256 * 256
        step_frames, steps = (FRAMES, 4) if small else (2, 2)  # the demo model at SVD's size: 2 frames, 2 steps
        step = unet_step_seconds(model, image, height, width, step_frames, steps) / step_frames
        rows.append({"size": f"{width}x{height}", "measures_ms": measures * 1e3, "flow_ms": flow * 1e3,
                     "step_ms": step * 1e3, "ratio": measures / step})
        print(f"{width}x{height:<5} {measures * 1e3:9.1f} ms {flow * 1e3:9.1f} ms {step * 1e3:10.1f} ms "
              f"{measures / step:15.2%}   (per frame)")
    return rows


if __name__ == "__main__":
    main()
