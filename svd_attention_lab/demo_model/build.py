"""``python -m svd_attention_lab.demo_model.build``: (re)build the embedded demo model folder from fixed seeds.

This writes the untrained architecture; ``python -m svd_attention_lab.demo_model.train`` trains it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from svd_attention_lab.engine import DEMO_MODEL_DIR

from .architecture import build_demo_pipeline, save_demo_pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m svd_attention_lab.demo_model.build", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEMO_MODEL_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="replace an existing model folder (e.g. the trained one)")
    args = parser.parse_args(argv)
    if (args.out / "model_index.json").exists() and not args.force:
        print(f"error: {args.out} already holds a model; pass --force to replace it", file=sys.stderr)
        return 2
    save_demo_pipeline(build_demo_pipeline(args.seed), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
