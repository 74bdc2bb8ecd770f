"""How far the multipliers move the demo model's motion: the least and the most optical-flow motion,
as × the baseline's, on each example image, measured in one run.

    python bench/motion_reach.py [--values 0 0.25 0.5 2 3 5]

Each knob alone over the values (the knob map, on the previewer's cached baseline), then both temporal
knobs at 0 together. The table says which motion targets a one-knob search can reach on this model.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from svd_attention_lab.controls import FIELDS, Multipliers  # noqa: E402
from svd_attention_lab.engine import Previewer, load_model, preview_settings  # noqa: E402
from svd_attention_lab.outputs import measure_flow  # noqa: E402
from svd_attention_lab.studies import knob_map  # noqa: E402

EXAMPLES = ROOT / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=float, nargs="+", default=[0.0, 0.25, 0.5, 2.0, 3.0, 5.0])
    args = parser.parse_args()
    model = load_model("demo", device="cpu", dtype="float32")
    previewer, settings = Previewer(model, cache_size=64), preview_settings(model)
    print(f"values {args.values}; preview settings {settings.width or 'native'} px, {settings.frames} frames, "
          f"{settings.steps} steps, seed {settings.seed}")
    print("| image | least, one knob | most, one knob | both temporal knobs at 0 |")
    print("| --- | --- | --- | --- |")
    for image in sorted(EXAMPLES.glob("*.png")):
        found = knob_map(previewer, str(image), settings, values=args.values)
        points = [(ratio, knob, value) for knob in FIELDS for value, ratio in zip(found.values, found.motion[knob])]
        least, most = min(points), max(points)
        both = previewer.render(str(image), settings, Multipliers(self_temporal=0.0, cross_temporal=0.0))
        ratio = measure_flow(both.patched, settings.fps).motion / measure_flow(both.baseline, settings.fps).motion
        print(f"| {image.stem} | ×{least[0]:.2f} ({least[1]} {least[2]:g}) | ×{most[0]:.2f} ({most[1]} {most[2]:g}) "
              f"| ×{ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
