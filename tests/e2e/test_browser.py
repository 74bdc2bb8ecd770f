"""The app in a real browser: Debian's chromium driven by Playwright."""

import contextlib
import json
import time
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.utils import Status

from app_server import connect
from visitor import (PAGE_IDLE, VIDEO_READY, open_page, open_section, open_settings, set_slider, slider_value,
                     type_into)

pytestmark = pytest.mark.e2e

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "shapes-3.png")
SLOW_RENDER = {"width": 1024, "height": 576, "frames": 14, "steps": 4}  # about a minute on the demo model here


def assert_shows_content(path: Path) -> None:
    """A screenshot that holds a page, not a blank or single-colour area."""
    from PIL import Image

    with Image.open(path) as shot:
        colours = shot.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 200, f"{path.name} has only {len(colours)} colours"


def video_frame_difference(page, selector: str = "#side-by-side video") -> float:
    """The current frame drawn into a canvas: mean |left half - right half| (baseline vs patched), 0-255."""
    return page.evaluate(
        """(sel) => { const v = document.querySelector(sel); const c = document.createElement('canvas');
        c.width = v.videoWidth; c.height = v.videoHeight; const g = c.getContext('2d'); g.drawImage(v, 0, 0);
        const half = Math.floor(c.width / 2), top = Math.floor(c.height * 0.2);
        const a = g.getImageData(0, top, half, c.height - top).data;
        const b = g.getImageData(half, top, half, c.height - top).data;
        let sum = 0;
        for (let i = 0; i < a.length; i++) if (i % 4 !== 3) sum += Math.abs(a[i] - b[i]);
        return sum / (3 * a.length / 4); }""", selector)


def wait_for_first_visit(page) -> None:
    page.wait_for_function("() => document.querySelector('#patch-summary')?.innerText.includes('tensors')",
                           timeout=120_000)
    page.wait_for_function(PAGE_IDLE, timeout=120_000)  # the load event has ended


def test_slider_preview_plays_side_by_side(page, app_url, tmp_path):
    page.goto(app_url)
    wait_for_first_visit(page)
    page.locator("#input-image input[type=file]").set_input_files(EXAMPLE)
    set_slider(page, "self_temporal", 0.3)
    page.locator("#preview-button").click()
    page.wait_for_function("() => document.querySelector('#patch-summary').innerText.includes('0.30')",
                           timeout=120_000)
    video = page.locator("#side-by-side video")
    video.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => { const v = document.querySelector('#side-by-side video');"
        " return v && v.readyState >= 2 && v.duration > 0 && v.videoWidth > 0; }",
        timeout=120_000,
    )
    state = video.evaluate("v => ({w: v.videoWidth, h: v.videoHeight, d: v.duration, src: v.currentSrc})")
    assert state["w"] == 512 and state["d"] > 0 and state["src"].endswith(".mp4")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('#side-by-side video').currentTime > 0", timeout=30_000)
    assert "self_temporal | 0.30 |" in page.locator("#patch-summary").inner_text().replace("\t", " | ")
    assert video_frame_difference(page) > 0.5  # the patched half differs from the baseline half
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)
    assert_shows_content(tmp_path / "preview.png")


def test_share_link_sets_the_sliders(page, app_url):
    page.goto(app_url + "?self_temporal=0.45&cross_structural=2.5&seed=1234&end=0.5&up.self_temporal=0.3")
    page.wait_for_function(
        "() => { const el = document.querySelector('#slider-self_temporal input[type=number]');"
        " return el && el.value === '0.45'; }",
        timeout=30_000,
    )
    assert slider_value(page, "self_temporal") == 0.45
    assert slider_value(page, "cross_structural") == 2.5
    assert slider_value(page, "self_structural") == 1.0
    open_settings(page)  # the seed lives in a closed accordion
    assert page.locator("#seed input").input_value() == "1234"
    assert page.locator("#end input[type=number]").input_value() == "0.5"
    open_section(page, "Per-region factors (advanced)", "#region-up-self_temporal input")
    assert page.locator("#region-up-self_temporal input").input_value() == "0.3"
    assert page.locator("[data-testid='toast-body']").count() == 0


def test_uploaded_preset_is_applied(page, app_url, tmp_path):
    preset = tmp_path / "calm.json"
    preset.write_text(json.dumps({
        "format": "svd-attention-preset", "version": 2, "name": "Calm", "description": "",
        "multipliers": {"self_structural": 1.0, "self_temporal": 0.7, "cross_structural": 1.0, "cross_temporal": 1.3},
    }))
    page.goto(app_url)
    page.get_by_role("tab", name="Presets").click()
    page.locator("#upload-preset input[type=file]").set_input_files(str(preset))
    page.wait_for_function(
        "() => document.querySelector('#slider-cross_temporal input[type=number]').value === '1.3'",
        timeout=30_000,
    )
    assert slider_value(page, "self_temporal") == 0.7


def test_html_in_a_share_link_never_reaches_the_page_as_html(page, app_url):
    page.goto(app_url + "?self_temporal=%3Ca%20href%3Dhttps%3A%2F%2Fevil.invalid%2F%3Eclick%20here%3C%2Fa%3E"
                        "&%3Cimg%20src%3Dx%20id%3Dinjected%3E=1")
    page.get_by_text("click here", exact=False).first.wait_for(timeout=30_000)  # the toast, as text
    assert page.locator("a[href*='evil.invalid']").count() == 0
    assert page.locator("img#injected").count() == 0
    assert "<a href=https://evil.invalid/>click here</a>" in page.locator("body").inner_text()


def test_the_first_visit_shows_a_comparison_without_a_click(page, app_url, tmp_path):
    page.goto(app_url)
    page.wait_for_function(
        "() => { const v = document.querySelector('#side-by-side video');"
        " return v && v.readyState >= 2 && v.videoWidth > 0; }",
        timeout=120_000,
    )
    assert page.locator("#input-image img").count() == 1  # the first example is selected
    assert slider_value(page, "self_temporal") == 0.0  # and the showcase setting it is shown with
    assert "self_temporal | 0.00 |" in page.locator("#patch-summary").inner_text().replace("\t", " | ")
    assert page.locator("[data-testid='toast-body']").count() == 0  # no handler failed while the page loaded
    page.screenshot(path=str(tmp_path / "first-visit.png"), full_page=True)
    assert_shows_content(tmp_path / "first-visit.png")


def test_nothing_covers_the_label_bar_of_the_side_by_side_video(page, app_url, tmp_path):
    """Gradio draws a label chip and buttons over a video's top corners and its controls over the bottom on
    hover; the side-by-side video has neither chip nor buttons, so its label bar on top stays clear."""
    page.goto(app_url)
    video = page.locator("#side-by-side video")
    page.wait_for_function("() => { const v = document.querySelector('#side-by-side video');"
                           " return v && v.readyState >= 2 && v.videoHeight > 0; }", timeout=120_000)
    video.hover()  # show whatever the player shows on hover
    box = video.bounding_box()
    height = video.evaluate("v => v.videoHeight")
    bar_bottom = box["y"] + box["height"] * 22 / height  # the 22-pixel bar, at the display scale
    overlays = page.locator("#side-by-side button, #side-by-side label, #side-by-side [data-testid='block-label']")
    for i in range(overlays.count()):
        other = overlays.nth(i).bounding_box()
        if other is None or other["height"] == 0:
            continue
        overlaps_x = other["x"] < box["x"] + box["width"] and other["x"] + other["width"] > box["x"]
        overlaps_y = other["y"] < bar_bottom and other["y"] + other["height"] > box["y"]
        html = overlays.nth(i).evaluate("e => e.outerHTML")[:120]
        assert not (overlaps_x and overlaps_y), f"{html} covers the labels"
    page.locator("#side-by-side").screenshot(path=str(tmp_path / "side-by-side.png"))
    assert_shows_content(tmp_path / "side-by-side.png")


def set_advanced_and_preview(page, app_url, section: str, selector: str, value: float, summary_text: str) -> str:
    """Open a collapsed section, type a value into one of its inputs, preview; the summary once it says
    ``summary_text``."""
    page.goto(app_url)
    wait_for_first_visit(page)
    open_section(page, section, selector)
    type_into(page, selector, value)
    page.locator("#preview-button").click()
    page.wait_for_function(f"() => document.querySelector('#patch-summary').innerText.includes({summary_text!r})",
                           timeout=120_000)
    return page.locator("#patch-summary").inner_text()


def test_the_step_schedule_control_limits_the_patch_to_early_steps(page, app_url):
    from svd_attention_lab.controls import patched_steps

    window = patched_steps(0.0, 0.3, 10)  # ComfyUI's sigma-space rule
    summary = set_advanced_and_preview(page, app_url, "Generation settings", "#end input[type=number]", 0.3,
                                       f"steps {window.start + 1}–{window.stop} of 10")
    assert "(start 0.00, end 0.30)" in summary


def test_a_region_factor_reaches_the_render(page, app_url):
    summary = set_advanced_and_preview(page, app_url, "Per-region factors (advanced)", "#region-up-self_temporal input",
                                       0.25, "up.self_temporal ×0.25")
    assert "Per-region factors: up.self_temporal ×0.25." in summary


def test_the_first_visit_plays_the_showcase_while_the_model_renders_for_another_visitor(page, app_url):
    """With --preload the showcase is in the page itself: no request, so no wait behind a long render.
    (How soon it plays: bench/first_visit.py.)"""
    client = connect(app_url)
    busy = client.submit(image=handle_file(EXAMPLE), self_temporal=0.5, api_name="/preview", **SLOW_RENDER)
    try:
        deadline = time.monotonic() + 120
        while busy.status().code not in (Status.PROCESSING, Status.PROGRESS):
            assert time.monotonic() < deadline and not busy.done(), "the long render never started"
            time.sleep(0.2)
        page.goto(app_url, wait_until="load")
        page.wait_for_function(VIDEO_READY, timeout=30_000)
        page.locator("#side-by-side video").evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function("() => document.querySelector('#side-by-side video').currentTime > 0", timeout=10_000)
        assert not busy.done(), "the other visitor's render ended first: this checked nothing"
        assert video_frame_difference(page) > 2.0  # the showcase's difference is there to see
        assert "Temporal self-attention off" in page.locator("#showing").inner_text()
    finally:
        client.predict(api_name="/cancel")
        with contextlib.suppress(Exception):  # the cancelled render ends with a notice, not a result
            busy.result(timeout=60)


def test_a_live_preview_of_the_patched_video_changes_while_it_samples(page, app_url):
    open_page(page, app_url)
    page.evaluate("""() => { window.liveSeen = new Set(); window.liveCaptions = new Set();
        const record = () => { const box = document.querySelector('#live-preview');
            const img = box?.querySelector('img');
            if (img?.src) { window.liveSeen.add(img.src); window.liveCaptions.add(box.innerText.trim()); } };
        new MutationObserver(record).observe(document.body, {subtree: true, childList: true, attributes: true}); }""")
    set_slider(page, "self_temporal", 0.6)  # the baseline is cached: one 10-step patched render
    page.locator("#preview-button").click()
    page.wait_for_function("() => document.querySelector('#patch-summary').innerText.includes('0.60')",
                           timeout=120_000)
    assert page.evaluate("() => window.liveSeen.size") >= 2  # different strips: each file is named by its content
    assert any("patched · step" in caption and "of 10" in caption
               for caption in page.evaluate("() => [...window.liveCaptions]"))
    page.wait_for_function("() => !document.querySelector('#live-preview img')?.checkVisibility()", timeout=10_000)


def test_with_auto_preview_a_typed_value_renders_and_stop_stops_it(page, app_url):
    open_page(page, app_url)
    page.locator("#auto-preview input[type=checkbox]").check()
    set_slider(page, "self_temporal", 0.7)  # no Preview click
    page.wait_for_function("() => document.querySelector('#patch-summary').innerText.includes('0.70')",
                           timeout=120_000)
    open_settings(page)
    type_into(page, "#steps input[type=number]", 100)
    set_slider(page, "self_temporal", 0.4)
    page.locator("#live-preview img").first.wait_for(timeout=60_000)  # it samples
    page.locator("#stop-button").click()  # the release's render is this tab's: Stop finds it
    page.wait_for_function("() => document.querySelector('#message').innerText.includes('Stopped')", timeout=60_000)
    assert "0.70" in page.locator("#patch-summary").inner_text()


def test_a_bad_preset_upload_leaves_no_error_styling(page, app_url, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "svd-attention-preset", "version": 3, "name": "x", '
                   '"multipliers": {"self_temporal": 99}}')
    open_page(page, app_url)
    page.get_by_role("tab", name="Presets").click()
    page.locator("#upload-preset input[type=file]").set_input_files(str(bad))
    page.wait_for_function("() => document.querySelector('#presets-message').innerText.includes('Not loaded')",
                           timeout=30_000)
    assert "self_temporal" in page.locator("#presets-message").inner_text()
    page.get_by_role("tab", name="Compare").click()
    for field in ("self_structural", "self_temporal", "cross_structural", "cross_temporal"):
        assert page.locator(f"#slider-{field} .error").count() == 0
        assert "Error" not in page.locator(f"#slider-{field}").inner_text()


def test_stop_keeps_the_last_result_and_is_no_error(page, app_url):
    open_page(page, app_url)
    before = page.locator("#side-by-side video").evaluate("v => v.currentSrc")
    open_settings(page)
    type_into(page, "#steps input[type=number]", 100)
    page.locator("#preview-button").click()
    page.locator("#live-preview img").first.wait_for(timeout=60_000)  # it samples
    page.locator("#stop-button").click()
    page.wait_for_function("() => document.querySelector('#message').innerText.includes('Stopped')", timeout=60_000)
    page.wait_for_function("() => !document.querySelector('#live-preview')?.checkVisibility()", timeout=10_000)
    assert page.locator("#side-by-side video").evaluate("v => v.currentSrc") == before
    assert page.get_by_text("Error", exact=True).count() == 0


def test_a_share_link_with_an_example_opens_to_its_rendered_comparison(page, app_url):
    page.goto(app_url + "?self_temporal=0.4&seed=7&image=shapes-2")
    page.wait_for_function(VIDEO_READY, timeout=120_000)
    page.wait_for_function("() => document.querySelector('#patch-summary').innerText.includes('0.40')",
                           timeout=120_000)
    assert slider_value(page, "self_temporal") == 0.4
    assert "Settings restored from the link" in page.locator("#message").inner_text()
    assert page.locator("#seed-used input").input_value() == "7"


def test_copy_share_link_puts_the_link_on_the_clipboard(page, app_url):
    open_page(page, app_url)
    page.get_by_role("tab", name="Presets").click()
    page.locator("#share-button").click()
    page.wait_for_function("() => document.querySelector('#share-url textarea, #share-url input').value.includes('?')",
                           timeout=30_000)
    link = page.locator("#share-url textarea, #share-url input").first.input_value()
    assert "image=shapes-1" in link and "self_temporal=0" in link and "width=" not in link  # no defaults
    page.wait_for_function("async (link) => (await navigator.clipboard.readText()) === link", arg=link,
                           timeout=10_000)


def test_the_results_say_when_the_controls_differ_from_them(page, app_url):
    open_page(page, app_url)
    # the page's load event may still be running (its timer shows in the line); once done, the line is empty
    page.wait_for_function("() => document.querySelector('#stale-note').innerText.trim() === ''", timeout=60_000)
    set_slider(page, "cross_temporal", 1.3)
    page.wait_for_function("() => document.querySelector('#stale-note').innerText.includes('differ')",
                           timeout=30_000)
