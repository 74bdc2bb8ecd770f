"""``python -m svd_attention_lab``: render a baseline | patched comparison (or a sweep) to a video file.

``--motion-target 0.6`` first finds the multiplier (``--motion-knob``, default self_temporal) whose
optical-flow motion is 0.6 × the baseline's, then writes that setting's comparison.

Batch plans have their own command: ``python -m svd_attention_lab.batch run PLAN``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from svd_attention_lab.controls import (
    FIELDS,
    add_multiplier_options,
    add_setting_options,
    multipliers_from_args,
    settings_from_args,
)
from svd_attention_lab.files import atomic_write_bytes
from patcher import PatchError

from svd_attention_lab.engine import (
    PreviewError,
    Previewer,
    add_model_options,
    full_settings,
    load_model,
    model_options,
    preview_settings,
    resolve_source,
)
from svd_attention_lab.outputs import Metrics, side_by_side, write_mp4, write_png, write_webp
from svd_attention_lab.studies import (
    DEFAULT_BUDGET,
    DEFAULT_KNOB,
    MotionTarget,
    find_motion_target,
    parse_sweep,
    parse_target,
    sweep,
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m svd_attention_lab", description=__doc__)
    p.add_argument("--image", required=True, help="input image (PNG, JPEG, WebP, ...)")
    p.add_argument("--out", required=True, type=Path, help="output .mp4 (or .webp / .png contact sheet)")
    add_model_options(p)
    add_multiplier_options(p)
    add_setting_options(p)
    p.add_argument("--full", action="store_true",
                   help="full quality (native size and frames, 25 steps) instead of preview")
    p.add_argument("--metrics", type=Path, help="write metrics here (.json or .csv)")
    p.add_argument("--sweep", help="sweep one multiplier, e.g. self_temporal=0,0.5,1,1.5,2")
    p.add_argument("--motion-target", type=parse_target, metavar="RATIO",
                   help="find the setting whose optical-flow motion is RATIO x the baseline's (e.g. 0.6), then "
                        "render it; the other multipliers stay as given")
    p.add_argument("--motion-knob", choices=FIELDS, default=DEFAULT_KNOB, help="the multiplier the target moves")
    p.add_argument("--motion-budget", type=int, default=DEFAULT_BUDGET, help="renders the search may spend")
    p.add_argument("--force", action="store_true", help="replace --out / --metrics if they exist")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        for target in (args.out, args.metrics):
            if target is not None and target.exists() and not args.force:
                raise PreviewError(f"{target} already exists; pass --force to replace it")
        multipliers = multipliers_from_args(args)
        sweep_spec = parse_sweep(args.sweep) if args.sweep else None
        target = (MotionTarget(args.motion_target, args.motion_knob, budget=args.motion_budget)
                  if args.motion_target is not None else None)
        if target and sweep_spec:
            raise PreviewError("--motion-target and --sweep do not combine; run them one at a time")
        model = load_model(resolve_source(args.model), **model_options(args))
        settings = (full_settings if args.full else preview_settings)(model, **settings_from_args(args))
        previewer = Previewer(model)
        with tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {elapsed}") as bar:
            def progress(fraction: float, text: str) -> None:
                bar.n = round(fraction * 100)
                bar.set_description(text)
                bar.refresh()

            if sweep_spec:
                result = sweep(previewer, args.image, settings, *sweep_spec, base=multipliers, progress=progress)
            else:
                if target:
                    found = find_motion_target(previewer, args.image, settings, target, multipliers, progress)
                    multipliers = found.multipliers  # rendered once more for the files (only baselines are cached)
                comparison = previewer.render(args.image, settings, multipliers, progress=progress)
        if sweep_spec:
            frames, table = result.grid(), result.table()
            metrics_text = json.dumps({"model": model.key, "numerics": model.numerics, "field": result.field,
                                       "rows": table}, indent=2)
        else:
            frames = side_by_side(comparison.baseline, comparison.patched, "baseline", multipliers.label())
            metrics = Metrics.compare(comparison.baseline, comparison.patched, settings.fps)
            context = {"model": model.key, "numerics": model.numerics}
            if target:
                context["motion_target"] = found.as_dict()
            metrics_text = (metrics.to_csv() if args.metrics and args.metrics.suffix == ".csv"
                            else metrics.to_json(**context))
            table = [metrics.summary()]
        _write(frames, args.out, settings.fps)
        if args.metrics:
            atomic_write_bytes(args.metrics, metrics_text.encode(), replace=True)
    except (PreviewError, PatchError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if target:
        print(found.sentence().replace("**", ""))
        print("  " + ", ".join(f"{p.value:.2f} -> x{p.ratio:.3f}" for p in found.points))
    print(f"wrote {args.out} ({model.describe()}, seed {settings.seed})")
    for row in table:
        print("  " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    return 0


def _write(frames, out: Path, fps: int) -> None:
    if out.suffix == ".webp":
        write_webp(frames, out, fps)
    elif out.suffix == ".png":
        write_png(frames[0], out)
    else:
        write_mp4(frames, out, fps)


if __name__ == "__main__":
    raise SystemExit(main())
