"""``python -m svd_attention_lab.demo_model.evaluate``: measure the embedded demo model on held-out generated images.

What it measures, averaged over a fixed test set that training never saw:

- fidelity: PSNR of frame 0 of the baseline against the input image;
- motion: mean temporal change (|frame[t+1] - frame[t]|) and first-to-last-frame difference of the
  baseline at three ``motion_bucket_id`` values;
- each multiplier matters: mean change against the baseline at 0.0 and at 2.0, next to the
  run-to-run noise floor (the same render twice);
- temporal consistency, of the baseline and with ``self_temporal=0`` at each bucket: flicker
  (the second difference over time of each frame's mean colour), the measure this reports as
  consistency, and jitter (mean |f[t+1] - 2 f[t] + f[t-1]| per pixel), with the motion
  (temporal change, first-to-last difference) at bucket 127;
- how far frames 1.. stray from the true clip (the toy world's rules fix it), for the baseline
  and with ``self_temporal=0``;
- for reference, the same figures for the true clips the generator draws from each held-out
  image. They show why flicker, not jitter, measures consistency here: sharp edges that move a
  pixel or more a frame give a second difference as large as the first, so the true clips'
  jitter grows with the motion, while their flicker stays near zero at every speed.

Writes the figures as JSON and, with ``--plot``, a small PNG chart.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from svd_attention_lab.controls import FIELDS, Multipliers

from svd_attention_lab.engine import Previewer, RenderSettings, load_model, preview_settings
from svd_attention_lab.outputs import flicker, jitter, mean_abs_diff, temporal_change

from .synthetic import held_out_clips, held_out_images

BUCKETS = (20, 127, 255)
PROBE_VALUES = (0.0, 2.0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _first_last(frames: np.ndarray) -> float:
    return float(mean_abs_diff(frames[-1], frames[0]))


def _error_after_first(frames: np.ndarray, clip: np.ndarray) -> float:
    """Mean |frame - true frame| over frames 1.. (frame 0 is the input's own reconstruction)."""
    if frames.shape != clip.shape:
        return float("nan")  # renders at another size than the generator's clips
    return float(mean_abs_diff(frames[1:], clip[1:]))


def _paired(baseline: list[float], off: list[float]) -> dict:
    """Means over every image and bucket, their ratio, and how many renders came out higher off."""
    return {"baseline": float(np.mean(baseline)), "self_temporal=0": float(np.mean(off)),
            "ratio": float(np.mean(off) / np.mean(baseline)),
            "renders": len(baseline), "higher_with_self_temporal=0": sum(o > b for b, o in zip(baseline, off))}


def reference_motion(count: int, frames: int) -> dict:
    """Motion figures of the true clips behind the held-out images, per bucket."""
    out = {}
    for bucket in BUCKETS:
        clips = held_out_clips(count, bucket, frames)
        out[str(bucket)] = {
            "temporal_change": float(np.mean([temporal_change(c).mean() for c in clips])),
            "first_last_difference": float(np.mean([_first_last(c) for c in clips])),
            "jitter": float(np.mean([jitter(c).mean() for c in clips])),
            "flicker": float(np.mean([flicker(c).mean() for c in clips])),
        }
    return out


def evaluate(previewer: Previewer, images: list[Image.Image], settings: RenderSettings) -> dict:
    frame0_psnr, floor = [], []
    motion = {b: [] for b in BUCKETS}
    first_last = {b: [] for b in BUCKETS}
    change = {f"{field}={v:g}": [] for field in FIELDS for v in PROBE_VALUES}
    consistency = {(metric, video): [] for metric in ("flicker", "jitter") for video in ("baseline", "self_temporal=0")}
    motion_off, first_last_off, truth_base, truth_off = [], [], [], []
    clips = held_out_clips(len(images), settings.motion_bucket_id, settings.frames)
    for image, clip in zip(images, clips):
        off = {}  # the self_temporal=0 videos by bucket: the probe at the settings' own bucket is one of them
        for bucket in BUCKETS:
            s = settings.replace(motion_bucket_id=bucket)
            comparison = previewer.render(image, s, Multipliers(self_temporal=0.0))
            off[bucket] = comparison.patched
            base = comparison.baseline
            motion[bucket].append(float(temporal_change(base).mean()))
            first_last[bucket].append(_first_last(base))
            for video, frames in (("baseline", base), ("self_temporal=0", comparison.patched)):
                consistency["flicker", video].append(float(flicker(frames).mean()))
                consistency["jitter", video].append(float(jitter(frames).mean()))
        base = previewer.render(image, settings, Multipliers()).baseline
        prepared = np.asarray(image.convert("RGB").resize(base.shape[2:0:-1], Image.Resampling.LANCZOS))
        frame0_psnr.append(psnr(base[0], prepared))
        previewer.clear_cache()
        again = previewer.render(image, settings, Multipliers()).baseline
        floor.append(float(mean_abs_diff(again, base)))
        for field in FIELDS:
            for value in PROBE_VALUES:
                temporal_off = (field, value) == ("self_temporal", 0.0)
                if temporal_off and settings.motion_bucket_id in off:
                    patched = off[settings.motion_bucket_id]
                else:
                    patched = previewer.render(image, settings, Multipliers(**{field: value})).patched
                change[f"{field}={value:g}"].append(float(mean_abs_diff(patched, base)))
                if temporal_off:
                    motion_off.append(float(temporal_change(patched).mean()))
                    first_last_off.append(_first_last(patched))
                    truth_off.append(_error_after_first(patched, clip))
        truth_base.append(_error_after_first(base, clip))

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    return {
        "images": len(images),
        "settings": settings.as_dict(),
        "frame0_psnr_db": {"mean": mean(frame0_psnr), "min": float(np.min(frame0_psnr))},
        "temporal_change_by_bucket": {str(b): mean(v) for b, v in motion.items()},
        "first_last_difference_by_bucket": {str(b): mean(v) for b, v in first_last.items()},
        "noise_floor": mean(floor),
        "change_vs_baseline": {k: mean(v) for k, v in change.items()},
        "temporal_consistency": {metric: _paired(consistency[metric, "baseline"],
                                                 consistency[metric, "self_temporal=0"])
                                 for metric in ("flicker", "jitter")},
        "self_temporal=0 motion": {"temporal_change": mean(motion_off), "first_last_difference": mean(first_last_off)},
        "error_vs_true_clip": {"baseline": mean(truth_base), "self_temporal=0": mean(truth_off)},
        "true_clips": reference_motion(len(images), settings.frames),
        "units": "PSNR in dB; the rest are mean absolute differences in 8-bit levels (0-255)",
    }


def plot(results: dict, path: Path) -> None:
    """Three small bar charts: motion against motion_bucket_id, change per multiplier value, and
    flicker of the baseline, with self_temporal=0 and of the true clips."""
    width, height, pad = 1200, 340, 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)

    def bars(x0: int, x1: int, title: str, items: list[tuple[str, float]], colour: str) -> None:
        top, bottom = pad + 10, height - pad - 20
        draw.text((x0, 10), title, fill="black", font=font)
        peak = max(v for _, v in items) or 1.0
        step = (x1 - x0) / len(items)
        for i, (label, value) in enumerate(items):
            left = x0 + i * step + step * 0.15
            right = x0 + (i + 1) * step - step * 0.15
            y = bottom - (bottom - top) * value / peak
            draw.rectangle((left, y, right, bottom), fill=colour)
            draw.text((left, y - 16), f"{value:.1f}", fill="black", font=font)
            for j, part in enumerate(label.split("\n")):
                draw.text((left, bottom + 4 + 14 * j), part, fill="black", font=font)
        draw.line((x0, bottom, x1, bottom), fill="black")

    motion = [(f"bucket\n{b}", v) for b, v in results["temporal_change_by_bucket"].items()]
    bars(pad, 280, "Baseline motion (temporal change)", motion, "#5b6ee1")
    short = {"self_structural": "self-S", "self_temporal": "self-T", "cross_structural": "cross-S",
             "cross_temporal": "cross-T"}
    change = []
    for key, value in results["change_vs_baseline"].items():
        field, multiplier = key.split("=")
        change.append((f"{short[field]}\nx{multiplier}", value))
    bars(330, 900, "Change vs baseline per multiplier value (noise floor "
         f"{results['noise_floor']:.1f})", change, "#e15b8c")
    flicker_figures = results["temporal_consistency"]["flicker"]
    truth = np.mean([bucket["flicker"] for bucket in results["true_clips"].values()])
    consistency = [("baseline", flicker_figures["baseline"]), ("self-T\nx0", flicker_figures["self_temporal=0"]),
                   ("true\nclips", truth)]
    bars(950, width - pad, "Flicker (lower is steadier)", consistency, "#3c9d5d")
    image.save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m svd_attention_lab.demo_model.evaluate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo", help="pipeline folder (default: the embedded demo model)")
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--plot", type=Path, help="write a PNG chart here")
    parser.add_argument("--threads", type=int, default=2,
                        help="CPU threads (part of the numerics; the recorded figures use 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model, device="cpu", dtype="float32")
    previewer = Previewer(model, cache_size=4)
    results = evaluate(previewer, held_out_images(args.images), preview_settings(model))
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
