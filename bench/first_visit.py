"""How soon a first visitor sees the showcase play, in Chromium, on the embedded demo model.

    python bench/first_visit.py [--visits 8]

Serves the app twice in this process: as ``--preload`` does (the showcase rendered at start-up and put
into the page itself) and as a plain ``python app.py`` (rendered by the page-load event, then cached).
Visiting each in turn in fresh browser contexts, it prints the seconds from the page's load event to
the video's first frame and to it playing, and the ratio of the medians. Needs Debian's ``chromium``
and the ``playwright`` package.
"""

import argparse
import socket
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]  # run as a script from anywhere; the browser tests' helpers

import app  # noqa: E402
from svd_attention_lab import engine, hosting, outputs  # noqa: E402
from visitor import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PLAYING = "() => { const v = document.querySelector('#side-by-side video'); return v && v.currentTime > 0; }"


def serve(preload: bool) -> tuple:
    studio = hosting.Studio(engine.ModelHolder(), outputs.OutputDir(tempfile.mkdtemp()))
    demo = app.build_demo(studio)
    if preload:
        app.preload(demo)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.queue(max_size=16)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


def seconds_to_play(browser, url: str) -> tuple[float, float]:
    """Seconds from the load event to the video's first frame shown, and to it playing."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(url, wait_until="load")
        loaded = page.evaluate("() => performance.now()")
        page.wait_for_function("() => document.querySelector('#side-by-side video')?.readyState >= 2",
                               timeout=120_000)
        shown = page.evaluate("() => performance.now()")
        page.locator("#side-by-side video").evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function(PLAYING, timeout=30_000)
        return (shown - loaded) / 1000, (page.evaluate("() => performance.now()") - loaded) / 1000
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=8)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    servers = {"in the page (--preload)": serve(preload=True), "by the page-load event": serve(preload=False)}
    times = {label: [] for label in servers}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for _, url in servers.values():
                seconds_to_play(browser, url)  # a warm-up; the plain app renders the showcase here, once
            for _ in range(args.visits):  # alternating, so the machine's noise falls on both alike
                for label, (_, url) in servers.items():
                    times[label].append(seconds_to_play(browser, url))
        finally:
            browser.close()
            for demo, _ in servers.values():
                demo.close()
    for label, pairs in times.items():
        for i, what in enumerate(("first frame shown", "playing")):
            seconds = [pair[i] for pair in pairs]
            print(f"showcase {label}: load to {what} {', '.join(f'{x:.2f}' for x in seconds)} s "
                  f"(median {statistics.median(seconds):.2f} s)")
    shown = [statistics.median(pair[0] for pair in pairs) for pairs in times.values()]
    print(f"first frame shown, ratio in the page / by the load event: {shown[0] / shown[1]:.2f}")


if __name__ == "__main__":
    main()
