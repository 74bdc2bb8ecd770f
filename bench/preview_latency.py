"""Preview latency on the embedded demo model: first render, slider change (cached baseline), patch apply.

    python bench/preview_latency.py

Prints wall times measured in this one run and the ratio of a slider change to a first render
(about 0.5 when the baseline cache works: one render instead of two).
"""

import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from svd_attention_lab import engine  # noqa: E402
from patcher import Multipliers  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    (model, load_s) = timed(lambda: engine.load_model("demo"))
    previewer = engine.Previewer(model)
    settings = engine.preview_settings(model)
    image = Image.open(ROOT / "examples" / "shapes-1.png")
    _, first_s = timed(lambda: previewer.render(image, settings, Multipliers(self_temporal=0.5)))
    _, change_s = timed(lambda: previewer.render(image, settings, Multipliers(self_temporal=1.5)))
    _, apply_s = timed(lambda: [model.patch.apply(Multipliers(self_temporal=v)) for v in (0.5, 1.5)]
                       and model.patch.restore())
    print(f"model load {load_s:.2f} s on {model.device}")
    print(f"first render (baseline + patched) {first_s:.2f} s; slider change {change_s:.2f} s; "
          f"ratio {change_s / first_s:.2f}")
    print(f"two patch applies + restore {apply_s * 1000:.2f} ms ({model.patch.summary()['total']['tensors']} tensors)")


if __name__ == "__main__":
    main()
