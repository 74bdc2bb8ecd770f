"""The first screen at desktop and phone sizes, measured: what must be fully inside the viewport, the
phone's order, tables that keep their words whole, downloads with whole names, every tab in sight.
Screenshots are saved as artifacts (``SVD_LAB_ARTIFACTS``)."""

import pytest

from visitor import VIDEO_READY, open_page

pytestmark = pytest.mark.e2e

DESKTOP_ESSENTIALS = ["#input-image", "#slider-self_structural", "#slider-self_temporal", "#slider-cross_structural",
                      "#slider-cross_temporal", "#preview-button", "#stop-button", "#cost", "#side-by-side"]


def box(page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found is not None and found["height"] > 0, f"{selector} is not on the page"
    return found


def test_at_1400x900_the_essentials_are_whole_on_the_first_screen(page, app_url, artifacts):
    page.set_viewport_size({"width": 1400, "height": 900})
    open_page(page, app_url)
    for selector in DESKTOP_ESSENTIALS:
        b = box(page, selector)
        assert b["y"] >= 0 and b["y"] + b["height"] <= 900 and b["x"] + b["width"] <= 1400, (selector, b)
    assert page.locator("#cost").inner_text().strip()  # the cost line says something on a first visit
    page.screenshot(path=str(artifacts / "first-screen-1400x900.png"))
    page.set_viewport_size({"width": 1366, "height": 768})
    assert box(page, "#side-by-side")["y"] < 768  # the video's top is visible
    page.screenshot(path=str(artifacts / "first-screen-1366x768.png"))


def test_at_400x850_the_phone_order_is_image_preview_video_then_sliders(small_page, app_url, artifacts):
    page = small_page
    open_page(page, app_url)
    image, run, video, sliders = (box(page, s) for s in ("#input-image", "#preview-button", "#side-by-side",
                                                        "#slider-self_structural"))
    assert image["y"] < run["y"] < video["y"] < sliders["y"]
    assert video["y"] < 1.5 * 850  # within the first one and a half screens
    page.screenshot(path=str(artifacts / "first-screen-400x850.png"))
    page.screenshot(path=str(artifacts / "page-400x850.png"), full_page=True)
    # the tensor table keeps each word on one line (it scrolls sideways rather than break "multiplier")
    broken = page.evaluate("""() => [...document.querySelectorAll('#patch-summary th, #patch-summary td')]
        .filter(c => { const r = document.createRange(); r.selectNodeContents(c);
                       return new Set([...r.getClientRects()].map(q => Math.round(q.top))).size > 1; })
        .map(c => c.innerText)""")
    assert broken == []
    # ... and fits the phone's width whole: nothing hidden to the side
    assert page.locator("#patch-summary table").evaluate("t => t.scrollWidth <= t.clientWidth + 1")
    # downloads show whole names
    names = page.evaluate(r"""() => [...document.querySelectorAll('#downloads td.filename')].map(td => {
        const text = document.createRange(); text.selectNodeContents(td);
        const shown = text.getBoundingClientRect(), cell = td.getBoundingClientRect();
        const whole = [td, ...td.querySelectorAll('span')].every(e => e.scrollWidth <= e.clientWidth + 1)
                      && shown.right <= cell.right + 1 && shown.left >= cell.left - 1;
        return [td.textContent.replace(/\s+/g, ''), whole]; })""")
    assert sorted(names) == [["metrics.csv", True], ["metrics.json", True], ["side_by_side.webp", True]], names
    # the preset picker shows its whole value
    assert page.locator("#preset-picker input").evaluate("i => i.value && i.scrollWidth <= i.clientWidth")
    # every tab is reachable without an overflow menu
    assert page.locator("button[aria-label='More tabs']:visible").count() == 0
    for name in ("Compare", "Sweep", "Meter", "Motion", "Presets", "Side by side", "Baseline", "Patched",
                 "Difference ×4", "Contact sheet", "Per-frame plot"):
        assert page.get_by_role("tab", name=name, exact=True).is_visible(), name
    page.wait_for_function(VIDEO_READY)
