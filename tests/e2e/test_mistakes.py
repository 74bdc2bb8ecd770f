"""A visitor's mistakes, in a real browser: each is one plain message naming the problem, the result
before it stays on screen, nothing wears Gradio's error styling, and the server answers no request
with a 5xx."""

from pathlib import Path

import pytest
from PIL import Image

from visitor import (elements_saying, error_styling, open_page, open_settings, set_slider, slider_value, type_into,
                     video_source, wait_for_text)

pytestmark = pytest.mark.e2e

WORKFLOW = Path(__file__).resolve().parents[1] / "fixtures" / "real" / \
    "svd_comfyui_examples__workflow_image_to_video.json"


def upload_image(page, path) -> None:
    page.locator("#input-image input[type=file]").set_input_files(str(path))


def not_an_image(page, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    upload_image(page, path)
    return "#message", "Input image refused"


def svg(page, tmp_path):
    path = tmp_path / "drawing.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle r="20"/></svg>')
    upload_image(page, path)
    return "#message", "Input image refused"


def huge_image(page, tmp_path):
    path = tmp_path / "huge.png"
    Image.new("RGB", (8000, 6000), (10, 20, 30)).save(path)  # 48 megapixels, a small file
    upload_image(page, path)
    return "#message", "megapixels"


def typed_11(page, tmp_path):
    set_slider(page, "self_temporal", 11)
    return "#message", "self temporal is at most 10: 11 is set to 10"


def typed_minus_1(page, tmp_path):
    set_slider(page, "cross_structural", -1)
    return "#message", "cross structural is at least 0: -1 is set to 0"


def fractional_frames(page, tmp_path):
    open_settings(page)
    type_into(page, "#frames input[type=number]", 1.5)
    return "#message", "frames takes whole numbers: 1.5 is set to 2"


def preview_without_an_image(page, tmp_path):
    page.locator("#input-image button[aria-label='Remove Image']").click()
    page.locator("#preview-button").click()
    return "#message", "upload an image first"


def workflow_as_preset(page, tmp_path):
    page.get_by_role("tab", name="Presets").click()
    page.locator("#upload-preset input[type=file]").set_input_files(str(WORKFLOW))
    return "#presets-message", "is a ComfyUI workflow, not a preset"


def stop_with_nothing_running(page, tmp_path):
    page.locator("#stop-button").click()
    return "#message", "Nothing to stop"


MISTAKES = [not_an_image, svg, huge_image, typed_11, typed_minus_1, fractional_frames, preview_without_an_image,
            workflow_as_preset, stop_with_nothing_running]


def assert_quietly_refused(page, before: str, where: str, says: str) -> None:
    wait_for_text(page, where, says)
    assert elements_saying(page, says) == 1, f"{says!r} is said more than once"
    assert video_source(page) == before  # the last good result stays
    assert error_styling(page) == []
    assert page.server_errors == []


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.__name__ for m in MISTAKES])
def test_a_mistake_is_one_message_and_the_result_stays(page, app_url, tmp_path, mistake):
    before = open_page(page, app_url)
    where, says = mistake(page, tmp_path)
    assert_quietly_refused(page, before, where, says)
    if mistake in UPLOADS:  # the image before it is back in the box, as the message says
        page.wait_for_function(IMAGE_KEPT, timeout=30_000)
        assert page.locator("#input-image img").count() == 1


UPLOADS = (not_an_image, svg, huge_image)
IMAGE_KEPT = """() => { const i = document.querySelector('#input-image img');
    const s = JSON.parse(document.querySelector('#display-state textarea').value);
    return i && i.complete && i.naturalWidth > 0 && s.controls.image_name === 'shapes-1'; }"""


def test_a_number_beyond_the_nodes_bounds_reads_the_same_in_field_slider_and_message(page, app_url, tmp_path):
    open_page(page, app_url)
    typed_11(page, tmp_path)
    wait_for_text(page, "#message", "set to 10")
    assert slider_value(page, "self_temporal") == 10
    assert float(page.locator("#slider-self_temporal input[type=range]").input_value()) == 10


def test_a_share_link_with_a_bad_value_opens_to_the_showcase_and_names_the_key(page, app_url):
    open_page(page, app_url + "?self_temporal=fast&seed=7")
    assert_quietly_refused(page, video_source(page), "#message", "Share link not applied")
    assert "self_temporal" in page.locator("#message").inner_text()
    assert "Temporal self-attention off" in page.locator("#showing").inner_text()


def test_an_over_budget_setting_on_a_public_host_is_refused_in_words(page, lab_app):
    import app

    lab, url = lab_app
    lab.studio.budget_s = app.hosting_budget(False, None, env={"SPACE_ID": "someone/svd-lab"})
    try:
        before = open_page(page, url)
        open_settings(page)
        type_into(page, "#steps input[type=number]", 100)
        type_into(page, "#width input[type=number]", 1024)
        wait_for_text(page, "#cost", "too long")
        page.locator("#preview-button").click()
        assert_quietly_refused(page, before, "#message", "Refused: 2 renders of 1024×")
        assert "this Space allows 60 s per request" in page.locator("#message").inner_text()
    finally:
        lab.studio.budget_s = None


def test_saving_a_preset_says_so(page, app_url):
    open_page(page, app_url)
    page.get_by_role("tab", name="Presets").click()
    type_into(page, "#preset-name input, #preset-name textarea", "Calm")
    page.locator("#save-preset").click()
    wait_for_text(page, "#presets-message", "Saved preset 'Calm'")
    assert error_styling(page) == [] and page.server_errors == []
    said = page.locator("#presets-message").bounding_box()  # in sight, where the button was pressed
    assert said["y"] >= 0 and said["y"] + said["height"] <= page.viewport_size["height"], said
