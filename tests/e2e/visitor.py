"""What a visitor's browser sees, read the way a test needs it: the display state, the message line,
Gradio's error styling, the result on screen."""

from __future__ import annotations

import json

# Debian's chromium, as the tests, bench/first_visit.py and docs/figures.py launch it
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
VIDEO_READY = ("() => { const v = document.querySelector('#side-by-side video');"
               " return v && v.readyState >= 2 && v.videoWidth > 0; }")
# no event in flight: Gradio shows a status tracker's timer or progress text on an event's outputs until it ends
PAGE_IDLE = ("() => ![...document.querySelectorAll('.progress-text, .meta-text, .meta-text-center, .eta-bar')]"
             ".some(e => e.checkVisibility())")
FIELDS = ("self_structural", "self_temporal", "cross_structural", "cross_temporal")
# Gradio's error styling: the "Error" pill on an output, error toasts, red borders (any class naming an error)
ERROR_STYLING = """() => [...document.querySelectorAll('*')].filter(e => e.checkVisibility() && (
    [...e.classList].some(c => /(^|-)error($|-)/i.test(c))
    || (e.children.length === 0 && e.textContent.trim() === 'Error')
  )).map(e => e.outerHTML.slice(0, 120))"""


def open_page(page, url: str) -> str:
    """Open the page and wait for its comparison and for its load event to end (a value typed before
    then may be overwritten); the side-by-side video's source."""
    page.goto(url)
    page.wait_for_function(VIDEO_READY, timeout=120_000)
    page.wait_for_function(PAGE_IDLE, timeout=120_000)
    return video_source(page)


def video_source(page) -> str:
    return page.locator("#side-by-side video").evaluate("v => v.currentSrc")


def state(page) -> dict:
    """The page's display state (the hidden JSON the page derives its lines from)."""
    return json.loads(page.locator("#display-state textarea").input_value())


def slider_value(page, field: str) -> float:
    return float(page.locator(f"#slider-{field} input[type=number]").input_value())


def type_into(page, selector: str, value) -> None:
    box = page.locator(selector)
    box.fill(str(value))
    box.press("Enter")


def set_slider(page, field: str, value: float) -> None:
    type_into(page, f"#slider-{field} input[type=number]", value)


def wait_for_text(page, selector: str, text: str, timeout: int = 60_000) -> str:
    page.wait_for_function("([s, t]) => document.querySelector(s)?.innerText.includes(t)", arg=[selector, text],
                           timeout=timeout)
    return page.locator(selector).inner_text()


def error_styling(page) -> list[str]:
    return page.evaluate(ERROR_STYLING)


def elements_saying(page, text: str) -> int:
    """How many visible elements say ``text`` in their own text (not only through a child)."""
    return page.evaluate("""(t) => [...document.querySelectorAll('body *')].filter(e => e.checkVisibility()
        && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.includes(t))).length""", text)


def open_section(page, title: str, field: str) -> None:
    """Open the accordion titled ``title`` (if closed) and wait until ``field`` in it takes input.
    Gradio renders an accordion's components when it first opens, and a value typed the moment they
    appear can be lost (the field shows the old value again and no event carries the typed one); this
    waits as a visitor's click does, until the field is stable, enabled and receives pointer events."""
    box = page.locator(field)
    if not box.is_visible():
        page.get_by_text(title).click()
    box.click(trial=True)


def open_settings(page) -> None:
    open_section(page, "Generation settings", "#frames input[type=number]")
