"""The lines the page says about itself agree with its display state, and the state with what is on
screen, after each kind of event: first visit, Preview, Reset, a preset, a share link, an upload."""

from pathlib import Path

import pytest

from visitor import FIELDS, VIDEO_READY, open_page, set_slider, slider_value, state, wait_for_text

pytestmark = pytest.mark.e2e

SHOWCASE = "Temporal self-attention off (diagnostic)"
EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "shapes-3.png")


def settled(page) -> dict:
    """The display state once it has caught up with the sliders and the page's lines show it."""
    page.wait_for_function("""(fields) => {
        const s = JSON.parse(document.querySelector('#display-state textarea').value);
        const slider = f => parseFloat(document.querySelector(`#slider-${f} input[type=number]`).value);
        const picker = document.querySelector('#preset-picker input').value;
        const showing = document.querySelector('#showing').innerText.trim();
        const stale = document.querySelector('#stale-note').innerText.trim() !== '';
        return fields.every(f => slider(f) === s.controls.multipliers[f])
            && picker === s.preset && showing === s.showing && stale === s.stale; }""", arg=list(FIELDS),
                           timeout=60_000)
    return state(page)


def assert_agrees(page) -> dict:
    """The state agrees with the page: the sliders, the summary's values, the picker, the two lines."""
    s = settled(page)
    assert [slider_value(page, f) for f in FIELDS] == [s["controls"]["multipliers"][f] for f in FIELDS]
    if s["shown"] is not None:
        summary = page.locator("#patch-summary").inner_text().replace("\t", " | ")
        for f in FIELDS:
            assert f"{f} | {s['shown']['multipliers'][f]:.2f} |" in summary, (f, summary)
    assert s["stale"] == (s["shown"] != s["controls"])
    return s


def test_first_visit(page, app_url):
    open_page(page, app_url)
    s = assert_agrees(page)
    assert s["preset"] == SHOWCASE and not s["stale"] and s["showing"] == f"Showing: {SHOWCASE}, on shapes-1."


def test_preview_then_reset_then_a_preset(page, app_url):
    open_page(page, app_url)
    set_slider(page, "self_temporal", 0.35)
    s = assert_agrees(page)
    assert s["preset"] == "Custom" and s["stale"]
    page.locator("#preview-button").click()
    wait_for_text(page, "#patch-summary", "0.35", timeout=120_000)
    s = assert_agrees(page)
    assert not s["stale"] and s["showing"] == "Showing: a custom setting, on shapes-1."

    page.locator("#reset-button").click()
    page.wait_for_function("() => document.querySelector('#slider-self_temporal input[type=number]').value === '1'")
    s = assert_agrees(page)
    assert s["preset"] == "Identity" and s["stale"]  # the controls are Identity; the result is still 0.35

    page.locator("#preset-picker input").click()
    page.get_by_role("option", name=SHOWCASE).click()
    page.wait_for_function("() => document.querySelector('#slider-self_temporal input[type=number]').value === '0'")
    s = assert_agrees(page)
    assert s["preset"] == SHOWCASE and s["stale"] and "a custom setting" in s["showing"]


def test_share_link(page, app_url):
    open_page(page, app_url + "?self_temporal=0.45&seed=7&image=shapes-2")
    wait_for_text(page, "#patch-summary", "0.45", timeout=120_000)
    s = assert_agrees(page)
    assert not s["stale"] and s["shown"]["settings"]["seed"] == 7 and s["showing"].endswith("on shapes-2.")


def test_upload(page, app_url):
    open_page(page, app_url)
    page.locator("#input-image input[type=file]").set_input_files(EXAMPLE)
    page.wait_for_function("() => JSON.parse(document.querySelector('#display-state textarea').value)"
                           ".controls.image_name === 'shapes-3'", timeout=30_000)
    s = assert_agrees(page)
    assert s["stale"] and s["shown"]["image_name"] == "shapes-1"
    page.wait_for_function(VIDEO_READY)
