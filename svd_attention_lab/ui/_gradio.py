"""Where the page leans on Gradio beyond its documented event API, in one place, each with the Gradio
behaviour it depends on; and the small text helpers every handler uses."""

from __future__ import annotations

import os
import string
from typing import Callable

import gradio as gr
from gradio.processing_utils import move_files_to_cache
from pydantic import BaseModel


def session(request: gr.Request | None) -> str:
    """The visitor's key for the model's line and for Stop (Gradio's session hash; "local" without one)."""
    return getattr(request, "session_hash", None) or "local"


def gone(demo: gr.Blocks | None, request: gr.Request | None) -> Callable[[], bool] | None:
    """A check that turns true once Gradio has dropped the request's event (its client cancelled it or
    closed the tab), polled by the render between the UNet's blocks.

    Depends on Gradio internals: ``Blocks._queue.active_jobs`` lists the running events, each with
    ``session_hash`` and ``alive`` (gradio/queueing.py). Gradio cancels the event's task but cannot stop
    the thread a render runs in, and has no public view of running events; without the internals the
    check is absent (None) and Stop still works."""
    key = getattr(request, "session_hash", None)
    events = getattr(demo, "_queue", None)
    if key is None or events is None or not hasattr(events, "active_jobs"):
        return None
    return lambda: not any(e.session_hash == key and e.alive for job in events.active_jobs if job for e in job)


def open_with(component: gr.components.Component, value) -> None:
    """Make ``value`` what a built component shows when a page opens, processed as its constructor's
    ``value=`` is. Depends on ``gradio.processing_utils.move_files_to_cache``, which copies a value's files
    into Gradio's cache (kept there for the server's lifetime) as Gradio does for constructor values."""
    if isinstance(component, gr.State):
        component.value = value
        return
    if isinstance(value, dict) and value.get("__type__") == "update":  # an update's value, as the page's first
        value = value.get("value")
    shown = component.postprocess(value)
    if isinstance(shown, BaseModel):
        shown = shown.model_dump()
    component.value = move_files_to_cache(shown, component, postprocess=True, keep_in_cache=True)


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


COPY_TO_CLIPBOARD = "(url) => { if (url) navigator.clipboard.writeText(url); }"
