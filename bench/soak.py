"""Memory over a long soak: the app on the demo model, served and called over HTTP, many renders.

    python bench/soak.py                 # 200 renders through /preview; RSS every 20
    python bench/soak.py --renders 400

Varies the multipliers and seeds, so caches fill and turn over, and prints the process's resident
memory after every 20 renders and the growth after the first 40 (the caches' warm-up) as a ratio.
The app's target: under 5 %.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the tests' in-process launcher

from gradio_client import handle_file  # noqa: E402

from app_server import connect, launch_app  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="svd-lab-soak-") as outputs:
        lab, demo, url = launch_app(outputs)
        client = connect(url)
        image = handle_file(str(ROOT / "examples" / "shapes-1.png"))
        started, readings = time.perf_counter(), {}
        try:
            for i in range(args.renders):
                client.predict(image=image, self_temporal=0.5 + (i % 7) * 0.1, seed=i % 5, frames=2, steps=1,
                               api_name="/preview")
                if (i + 1) % 20 == 0:
                    gc.collect()
                    readings[i + 1] = rss_mib()
                    print(f"{i + 1} renders: RSS {readings[i + 1]:.1f} MiB, {time.perf_counter() - started:.0f} s",
                          flush=True)
        finally:
            demo.close()
    growth = readings[max(readings)] / readings[40] - 1
    print(f"RSS growth after the first 40 renders: {growth:+.1%} (target: under 5 %)")
    return {"readings": readings, "growth": growth}


if __name__ == "__main__":
    main()
