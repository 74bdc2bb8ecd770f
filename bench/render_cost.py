"""What a render costs on this machine, against the cost model the app estimates with (hosting/_budget.py).

    python bench/render_cost.py          # the demo model on the CPU: 64², 256², 512² x 2, 8 frames x 1, 3 steps
    python bench/render_cost.py --quick  # 64² and 256² only

Renders one complete video per case (the best of two runs), fits the model's terms to the
measurements (per video: a constant, then per frame ``steps x (a·P + b·P²) + c·P + d·P²`` for a
frame of P pixels; non-negative least squares on relative error), and prints, per case, the
seconds measured, the fitted model's and the app's current constants' predictions, and their
ratios. The app's CPU constants (``CPU_UNET``, ``CPU_DECODE``, ``CPU_VIDEO``) are this fit's.
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

from svd_attention_lab import engine  # noqa: E402
from svd_attention_lab.controls import Multipliers  # noqa: E402
from svd_attention_lab.engine import RenderJob, RenderSettings, prepare_image, render_frames  # noqa: E402
from svd_attention_lab.hosting import CostModel  # noqa: E402
from svd_attention_lab.engine import register_model  # noqa: E402


def measure(model, image, size: int, frames: int, steps: int, repeats: int = 2) -> float:
    settings = RenderSettings(frames=frames, steps=steps, width=size, height=size, decode_chunk_size=frames)
    job = RenderJob(register_model(model), np.asarray(prepare_image(image, size, size)), settings, (Multipliers(),))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        render_frames(job)
        best = min(best, time.perf_counter() - start)
    return best


def fit(cases: list[tuple[int, int, int, float]]) -> np.ndarray:
    """(e, a, b, c, d) minimising the relative error, all non-negative."""
    from scipy.optimize import nnls

    rows = [[1.0, f * s * p, f * s * p * p, f * p, f * p * p] for p, f, s, _ in cases]
    seconds = np.array([t for *_, t in cases])
    scale = np.array([1.0, 1e-6, 1e-11, 1e-6, 1e-11])  # columns of comparable size for the solver
    coefficients, _ = nnls(np.array(rows) / scale / seconds[:, None], np.ones(len(cases)))
    return coefficients / scale


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64² and 256² only")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (the project's machine has 2 cores)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = engine.load_model("demo", device="cpu", dtype="float32")
    image = ROOT / "examples" / "shapes-1.png"
    sizes = (64, 256) if args.quick else (64, 256, 512)
    measure(model, image, 64, 2, 1)  # warm-up
    cases = [(size * size, frames, steps, measure(model, image, size, frames, steps))
             for size in sizes for frames in (2, 8) for steps in (1, 3)]
    e, a, b, c, d = fit(cases)
    app = CostModel("cpu", sum(p.numel() for p in model.pipe.unet.parameters()))
    print(f"fit: per video {e:.3g} s; per frame: steps x ({a:.3g}·P + {b:.3g}·P²) + {c:.3g}·P + {d:.3g}·P²")
    print(f"{'case':>22} {'measured':>9} {'fit':>8} {'fit/meas':>8} {'app':>8} {'app/meas':>8}")
    rows = []
    for pixels, frames, steps, seconds in cases:
        fitted = e + frames * (steps * (a * pixels + b * pixels ** 2) + c * pixels + d * pixels ** 2)
        side = int(round(pixels ** 0.5))
        ours = app.work_seconds((side, side), frames, steps, 1)
        rows.append({"size": side, "frames": frames, "steps": steps, "seconds": seconds, "fit": fitted, "app": ours})
        print(f"{f'{side}² x {frames} f x {steps} st':>22} {seconds:9.3f} {fitted:8.3f} {fitted / seconds:8.2f} "
              f"{ours:8.3f} {ours / seconds:8.2f}")
    worst = max(abs(r["app"] / r["seconds"] - 1) for r in rows)
    print(f"the app's model is within {worst:.0%} of every measurement")
    return rows


if __name__ == "__main__":
    main()
