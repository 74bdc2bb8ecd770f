"""While a Preview waits or samples: its place in line, then a live strip the visitor can read; Stop
withdraws a render still waiting for another visitor's, which then never starts."""

import re

import pytest

from visitor import VIDEO_READY, open_page, open_settings, set_slider, type_into, wait_for_text

pytestmark = pytest.mark.e2e


def test_the_live_strip_is_readable_and_keeps_the_videos_aspect(page, app_url):
    open_page(page, app_url)
    open_settings(page)
    type_into(page, "#steps input[type=number]", 40)  # long enough to look at
    set_slider(page, "self_temporal", 0.55)
    page.locator("#preview-button").click()
    page.locator("#live-preview img").first.wait_for(timeout=120_000)
    frames = page.evaluate("""() => [...document.querySelectorAll('#live-preview img')].map(i => {
        const r = i.getBoundingClientRect(); return {w: r.width, h: r.height}; })""")
    caption = page.locator("#live-preview .live-caption").inner_text()
    assert "step" in caption and "of 40" in caption and "colours approximate" in caption
    page.locator("#stop-button").click()
    wait_for_text(page, "#message", "Stopped")
    page.wait_for_function("() => !document.querySelector('#live-preview')?.checkVisibility()")  # gone again
    summary = page.locator("#patch-summary").inner_text()
    size = re.search(r"frames at (\d+)x(\d+)", summary)  # the shown video's
    assert size, summary
    width, height = int(size[1]), int(size[2])  # the same image and size as the stopped render's
    assert len(frames) == 8
    for f in frames:
        assert f["h"] >= min(96, height), f  # readable: at least 96 px (or the video's own height) tall
        assert abs((f["w"] / f["h"]) / (width / height) - 1) < 0.05, (f, width, height)


def test_stop_withdraws_a_render_waiting_behind_another_visitors(page, second_page, lab_app):
    lab, url = lab_app
    previewer = lab.studio.previewer()
    started, real = [], previewer.render

    def counted(*args, **kwargs):
        started.append(args[2])  # the multipliers of each render that starts
        return real(*args, **kwargs)

    previewer.render = counted
    try:
        open_page(page, url)  # visitor A: a long render
        open_settings(page)
        type_into(page, "#steps input[type=number]", 100)
        type_into(page, "#width input[type=number]", 256)  # minutes here: it is still rendering when B waits
        set_slider(page, "self_temporal", 0.65)
        page.locator("#preview-button").click()
        page.locator("#live-preview img").first.wait_for(timeout=120_000)

        open_page(second_page, url)  # visitor B: queued behind A
        set_slider(second_page, "cross_temporal", 1.4)
        second_page.locator("#preview-button").click()
        wait_for_text(second_page, "#live-preview", "Waiting for the model")
        second_page.locator("#stop-button").click()
        wait_for_text(second_page, "#message", "Withdrawn")
        second_page.wait_for_function(VIDEO_READY)

        page.locator("#stop-button").click()
        wait_for_text(page, "#message", "Stopped")
    finally:
        previewer.render = real
    assert [m.cross_temporal for m in started] == [1.0]  # A's render only: B's never started
    assert second_page.server_errors == [] and page.server_errors == []
