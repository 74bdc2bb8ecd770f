"""What a page opens with: the showcase comparison (rendered once, put into the page itself by
``open_with_showcase``), or a share link's setting on its example; a link that cannot be applied keeps
the showcase and says which key was wrong."""

from __future__ import annotations

import logging

import presets
from svd_attention_lab.engine import PreviewError

from ._gradio import markdown_text, open_with
from ._state import Display, Setup

logger = logging.getLogger("app")
SHOWCASE = "Temporal self-attention off (diagnostic)"  # the first visit's comparison: a difference anyone sees


def rendered(page, image: str, preset, message: str = "") -> tuple[Display, dict]:
    """A comparison rendered without the page's controls (the showcase, a link's), as the page's outputs:
    the image, the controls set to what it was rendered from, the results and the display state."""
    settings = page.studio.default_settings().replace(**preset.settings)
    outcome = page.studio.showcase(image, preset.multipliers, settings)
    digest, name = page.image_setup(image)
    shown = Setup(digest, name, preset.multipliers, tuple(outcome.comparison.settings.as_dict().items()), image)
    display = Display(controls=shown, shown=shown)
    c = page.c
    return display, {c["image"]: image, **page.set_numbers(shown), **page.results(outcome),
                     c["message"]: message}


def showcase(page) -> tuple[Display, dict]:
    return rendered(page, next(iter(page.examples.values())), presets.get_builtin(SHOWCASE))


def open_with_showcase(page) -> None:
    """Render the showcase now and make it what every page without a link opens with, in the page
    itself: a first visitor sees it without a request, even while the model renders for another."""
    display, values = showcase(page)
    for component, value in {**values, **page.view(display)}.items():
        open_with(component, value)
    page.opens_with_showcase = True


def opening(page, display: Display, user_presets, params: dict) -> dict:
    """The page-load event's outputs for these query parameters."""
    example = page.examples.get(params.pop("image", None) or "")
    params = presets.link_params(params)
    c = page.c
    try:
        preset, warnings = presets.from_link(params) if params else (None, [])
    except ValueError as exc:
        logger.info("share link not applied: %s", exc)
        preset, warnings = None, [f"Share link not applied: {exc}. Showing the showcase instead."]
    if preset is None:  # no link, or one that cannot be applied: the showcase
        if page.opens_with_showcase:
            out = {}
        else:
            display, out = _or_message(lambda: showcase(page), display)
        message = markdown_text(" ".join(warnings))
        return {**out, **page.view(display, user_presets), c["message"]: message}
    said = " ".join(["Settings restored from the link.", *warnings])
    if example:
        display, out = _or_message(lambda: rendered(page, example, preset, markdown_text(said)), display)
        return {**out, **page.view(display, user_presets)}
    said += " The image is not part of a link: upload one (or pick an example) and press Preview."
    from ._page import with_preset
    controls = with_preset(display.controls, preset)
    changed = display.replace(controls=controls)
    return {**page.set_numbers(controls), **page.view(changed, user_presets), c["message"]: markdown_text(said)}


def _or_message(render, display: Display) -> tuple[Display, dict]:
    try:
        return render()
    except (PreviewError, presets.PresetError, ValueError) as exc:
        logger.info("could not render the opening comparison: %s", exc)
        return display, {}

