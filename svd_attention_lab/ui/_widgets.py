"""The app's Gradio pieces that are not layout: inputs that explain their own refusals, text made safe
for the page, the page's address, and the little CSS and JavaScript the page needs."""

from __future__ import annotations

import html
import os
import string

import gradio as gr
from gradio.processing_utils import move_files_to_cache
from pydantic import BaseModel

from svd_attention_lab import engine
from svd_attention_lab.controls import SETTINGS

CSS = """
.pixel-video video { image-rendering: pixelated; max-height: 62vh; object-fit: contain; }
#contact-sheet img { image-rendering: pixelated; }
#stale-note p { color: #b45309; margin: 0; }
#cost p { margin: 0; opacity: 0.8; }
#title p { font-size: 1.15em; margin: 0; }
#notice p, #stale-note p { margin: 0; }
"""
COPY_TO_CLIPBOARD = "(url) => { if (url) navigator.clipboard.writeText(url); }"


def open_with(component: gr.components.Component, value) -> None:
    """Make ``value`` what a built component shows when a page opens, processed as its constructor's
    ``value=`` is: files are copied into Gradio's cache and kept there for the server's lifetime."""
    shown = component.postprocess(value)
    if isinstance(shown, BaseModel):
        shown = shown.model_dump()
    component.value = move_files_to_cache(shown, component, postprocess=True, keep_in_cache=True)


def _refuse(message: str) -> gr.Error:
    return gr.Error(toast(message), print_exception=False)


def input_image(**kwargs) -> gr.Image:
    """``gr.Image`` whose refusals say, in plain words, why a file is not an image (never a server path,
    a component index or an exception's name). (Per instance: a subclass would make Gradio write a
    ``.pyi`` stub beside this file at import.)"""
    image = gr.Image(**kwargs)
    original = image.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception:  # Gradio's own decode failed: ask the project's reader why
            try:
                engine.load_image(payload.path)
            except engine.PreviewError as exc:
                raise _refuse(str(exc)) from None
            raise _refuse("cannot read the image: not an image Pillow can read") from None

    image.preprocess = preprocess
    return image


def named_number(*args, **kwargs) -> gr.Number:
    """``gr.Number`` whose refusals name the field: ``up · self temporal must be between 0 and 10, got -1``."""
    return _named(gr.Number(*args, **kwargs), optional=True)


def named_slider(*args, **kwargs) -> gr.Slider:
    """``gr.Slider`` whose refusals name the field."""
    return _named(gr.Slider(*args, **kwargs), optional=False)


def _named(component, optional: bool):
    original = component.preprocess

    def preprocess(payload):
        _check_bounds(component, payload, optional)
        return original(payload)

    component.preprocess = preprocess
    return component


def _check_bounds(component, payload, optional: bool) -> None:
    if payload is None and optional:
        return
    if isinstance(payload, bool) or not isinstance(payload, (int, float)):
        raise _refuse(f"{component.label} must be a number, got {payload!r:.40}")
    low, high = component.minimum, component.maximum
    if (low is not None and payload < low) or (high is not None and payload > high):
        raise _refuse(f"{component.label} must be between {_number(low)} and {_number(high)}, "
                      f"got {_number(payload)}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def toast(text: str) -> str:
    """Toasts render HTML: show visitors' text (link values, file contents) as text."""
    return html.escape(text, quote=False)


def markdown_text(text: str) -> str:
    """Text as itself inside Markdown: no links, images, HTML or formatting from a visitor's file or link."""
    entities = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
    return "".join(entities.get(c) or ("\\" + c if c in string.punctuation else c) for c in text)


def page_url(request: gr.Request | None) -> str:
    """The address a share link starts with: the Space's page, else the page the visitor is on."""
    space = os.environ.get("SPACE_ID")
    if space:  # the Space page forwards its query string to the app
        return f"https://huggingface.co/spaces/{space}"
    referer = request.headers.get("referer") if request is not None else None
    if referer:
        return referer.split("?", 1)[0]
    if request is not None:
        return f"{request.url.scheme}://{request.url.netloc}/"
    return "/"


def setting_inputs(defaults: engine.RenderSettings, table=SETTINGS) -> dict[str, gr.components.Component]:
    """One input per render setting, from the settings table: a slider, or a number field."""
    inputs = {}
    for s in table:
        value = getattr(defaults, s.name, s.default)
        if s.widget == "number":
            # precision=None: 1.5 reaches the checker and is refused, not rounded to 2
            inputs[s.name] = named_number(value, label=s.label, info=s.help, precision=None, step=1, minimum=s.low,
                                         maximum=s.high, elem_id=s.name)
        else:
            inputs[s.name] = named_slider(s.low, s.high, value, step=s.step, label=s.label, info=s.help,
                                         elem_id=s.name)
    return inputs
