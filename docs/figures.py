"""The docs' figures, measured on the embedded demo model.

    python docs/figures.py schedule     # docs/schedule-end-sweep.png: the schedule's end swept
    python docs/figures.py meter        # docs/motion-meter.png: the motion meter's curve
    python docs/figures.py layout       # docs/page-layout.png: the Compare tab at 1400×900

Needs matplotlib (requirements-batch.txt); the layout needs Debian's chromium and playwright.
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from svd_attention_lab import engine, hosting, outputs, studies  # noqa: E402
from svd_attention_lab.controls import Multipliers  # noqa: E402

IMAGES = [ROOT / "examples" / f"shapes-{n}.png" for n in (1, 2, 3)]
SEEDS = (0, 1, 2)


def schedule_figure(out: Path) -> None:
    """Sweep the schedule's end with temporal self-attention damped: how much of the effect the
    first steps carry. Mean and spread over 3 images x 3 seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = engine.load_model("demo", device="cpu")
    previewer = engine.Previewer(model, cache_size=16)
    multipliers = Multipliers(self_temporal=0.3)
    ends = [0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
    change, motion = np.zeros((len(ends), len(IMAGES) * len(SEEDS))), np.zeros((len(ends), len(IMAGES) * len(SEEDS)))
    for j, (image, seed) in enumerate((i, s) for i in IMAGES for s in SEEDS):
        settings = engine.preview_settings(model, seed=seed)
        for i, end in enumerate(ends):
            c = previewer.render(image, settings.replace(end=end), multipliers)
            summary = outputs.Metrics.compare(c.baseline, c.patched).summary()
            change[i, j], motion[i, j] = summary["mean_change_vs_baseline"], summary["temporal_change_ratio"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, values, label in ((axes[0], change, "change vs baseline (levels)"),
                              (axes[1], motion, "motion: patched / baseline")):
        mean, spread = values.mean(axis=1), values.std(axis=1)
        ax.fill_between(ends, mean - spread, mean + spread, alpha=0.25, linewidth=0)
        ax.plot(ends, mean, "o-", markersize=4)
        ax.set_xlabel("schedule end (fraction of steps), start 0")
        ax.set_title(label, fontsize=10)
    fig.suptitle("self_temporal 0.3 acting in the first steps only (demo model, 3 images x 3 seeds, 10 steps)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    for end, c, m in zip(ends, change.mean(axis=1), motion.mean(axis=1)):
        print(f"end {end:.1f}: change {c:.2f} levels, motion ratio {m:.3f}")


def meter_figure(out: Path) -> None:
    """The motion meter on one image and seed: the baseline's motion at five buckets, and where
    three self_temporal settings land on that curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = engine.load_model("demo", device="cpu")
    previewer = engine.Previewer(model, cache_size=16)
    settings = engine.preview_settings(model, seed=0)
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    reading = None
    for value, colour in ((0.3, "tab:orange"), (0.6, "tab:green"), (1.6, "tab:red")):
        reading = studies.read_motion(previewer, IMAGES[1], settings, Multipliers(self_temporal=value))
        ax.axhline(reading.patched_motion, color=colour, linewidth=0.8, linestyle="--")
        where = f"≈ bucket {reading.estimate:.0f}" if reading.inside else "beyond every measured bucket"
        ax.plot([reading.estimate], [reading.patched_motion], "o" if reading.inside else ">", color=colour,
                label=f"self_temporal {value}: {where}")
        print(reading.sentence())
    ax.plot(reading.buckets, reading.motions, "o-", color="tab:blue", label="baseline at each bucket")
    ax.set_xlabel("motion_bucket_id")
    ax.set_ylabel("motion (levels between frames)")
    ax.set_title(f"Motion meter (demo model, seed 0, baseline at bucket {reading.bucket})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def layout_figure(out: Path) -> None:
    """The Compare tab as a first visitor sees it at 1400×900, the showcase in the page (--preload)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    import app

    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from visitor import CHROMIUM, CHROMIUM_ARGS, open_page  # the browser tests' visitor

    studio = hosting.Studio(engine.ModelHolder(), outputs.OutputDir(tempfile.mkdtemp()))
    demo = app.build_demo(studio)
    app.preload(demo)
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **app.launch_options(studio))  # as app.py does
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            open_page(page, url)  # the showcase ready and the load event ended
            page.wait_for_timeout(1000)  # a frame into the loop
            page.screenshot(path=str(out))
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "schedule":
        schedule_figure(ROOT / "docs" / "schedule-end-sweep.png")
    elif what == "meter":
        meter_figure(ROOT / "docs" / "motion-meter.png")
    elif what == "layout":
        layout_figure(ROOT / "docs" / "page-layout.png")
    else:
        raise SystemExit(__doc__)
