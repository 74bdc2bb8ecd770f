"""``python -m svd_attention_lab.batch run PLAN`` and ``python -m svd_attention_lab.batch report RESULTS``."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from patcher import PatchError

from svd_attention_lab.engine import PreviewError, add_model_options, model_options

from ._engines import ENGINES, estimate, run_batch
from ._plan import load_plan


def batch_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m svd_attention_lab.batch run",
                                description="Run a batch plan: images x seeds x "
                                "multipliers, locally or on a Ray cluster; re-running it resumes.")
    p.add_argument("plan", type=Path, help="plan file (.toml or .json)")
    p.add_argument("--engine", choices=ENGINES, default="local", help="local: one model in this process; "
                   "ray: one actor per GPU (or per CPU worker), on this machine or the cluster at --address")
    p.add_argument("--address", help="Ray cluster address (ray://host:10001 or auto); default: a local Ray")
    p.add_argument("--workers", type=int, help="Ray actors (default: one per GPU, else CPUs / the plan's threads)")
    p.add_argument("--save-videos", action="store_true", help="also write each job's baseline | patched mp4")
    p.add_argument("--out", type=Path, help="results folder (overrides the plan's output)")
    p.add_argument("--dry-run", action="store_true", help="check the plan and print the counts; write nothing")
    add_model_options(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    options = model_options(args)
    try:
        plan = load_plan(args.plan)
        if args.out is not None:
            plan = dataclasses.replace(plan, output=args.out.resolve())
        counts = estimate(plan, args.model, options)
        print(f"{args.plan}: {counts['jobs']} jobs ({len(plan.images)} images x {len(plan.seeds)} seeds x "
              f"{len(plan.grid)} multiplier settings), {counts['to_do']} to do; {counts['renders']} renders with "
              f"baseline reuse ({counts['renders_without_reuse']} without); results in {plan.output}")
        if args.dry_run:
            return 0
        report = run_batch(plan, engine=args.engine, model=args.model, model_options=options, address=args.address,
                           workers=args.workers, save_videos=args.save_videos)
    except (PreviewError, PatchError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state = "interrupted; run it again to resume" if report.interrupted else "done"
    print(f"{state}: {report.done} jobs in {report.seconds:.1f} s ({report.renders} renders), "
          f"{report.already_done} done before; table: {report.table}")
    return 130 if report.interrupted else 0


def report_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m svd_attention_lab.batch report",
                                description="Write a static HTML report of a "
                                "batch's results: each multiplier's metrics against its value, with 95% intervals.")
    p.add_argument("results", type=Path, help="a batch's results folder (or its results.csv / results.parquet)")
    p.add_argument("--out", type=Path, help="the HTML file (default: RESULTS/report.html)")
    p.add_argument("--figure", type=Path, help="also write the plots as one PNG here")
    args = p.parse_args(argv)
    from ._report import write_report  # matplotlib: only when reporting

    try:
        path = write_report(args.results, args.out, figure=args.figure)
    except (PreviewError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
