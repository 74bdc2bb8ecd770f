"""One wording for what a request costs and why one was refused, the same on the cost line, for a
Preview, a sweep and the motion meter: how many renders, of what, how long here, and the host's limit."""

from __future__ import annotations

import functools
import html
import inspect
import logging
from typing import Mapping

import gradio as gr

import presets

from svd_attention_lab.engine import PreviewError, RenderCancelled, RenderSettings
from svd_attention_lab.hosting import OverBudget, RenderWithdrawn, duration

from ._gradio import markdown_text

logger = logging.getLogger("app")
REFUSED = (PreviewError, presets.PresetError, ValueError, RenderCancelled)  # said to the visitor, never raised


def work(estimate) -> str:
    """``2 renders of 256×256 × 8 frames × 10 steps ≈ 12 s here``."""
    renders = f"{estimate.videos} render" + ("s" if estimate.videos != 1 else "")
    width, height = estimate.size
    return (f"{renders} of {width}×{height} × {estimate.frames} frames × {estimate.steps} steps "
            f"≈ {duration(estimate.seconds)} here")


def over(estimate, limit_s: float | None) -> bool:
    return limit_s is not None and estimate.seconds > limit_s


def limit_words(limit_s: float) -> str:
    return f"this Space allows {duration(limit_s)} per request"


def cost_line(studio, values: Mapping[str, float]) -> str:
    """The cost of a Preview at these settings (the baseline and the patched video), shown by the button."""
    try:
        estimate = studio.estimate(RenderSettings(**{k: v for k, v in values.items()}))
    except (ValueError, TypeError):  # an impossible combination is said by the check that refuses it
        return ""
    if estimate is None:
        return "Cost: known once the model is loaded (with the first render)."
    line = f"Preview: {work(estimate)}"
    if studio.budget_s is not None:
        line += f" · {limit_words(studio.budget_s)}" + (": too long, lower the size, frames or steps"
                                                       if over(estimate, studio.budget_s) else "")
    return markdown_text(line)


def refusal(exc: Exception) -> str:
    """A refused request's one message, as plain text."""
    if isinstance(exc, OverBudget):
        text = f"Refused: {work(exc.estimate)}; {limit_words(exc.limit_s)}: lower the size, frames or steps."
    elif isinstance(exc, RenderWithdrawn):
        text = "Withdrawn: your render had not started, and will not."
    elif isinstance(exc, RenderCancelled):
        text = f"Stopped ({exc}); the result before it stays on screen."
    else:
        text = str(exc)
    return text


def said(exc: Exception) -> str:
    """``refusal`` for the page (Markdown that shows the text as itself)."""
    return markdown_text(refusal(exc))


def api_refusals(fn):
    """An API endpoint whose refusals reach its client as Gradio errors in the same words (one log line,
    no traceback); a Stop ends it with no outputs rather than an error."""

    @functools.wraps(fn)  # keeps the named parameters' signature
    def endpoint(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RenderCancelled:
            return gr.skip()
        except REFUSED as exc:
            logger.info("refused %s: %s", fn.__name__, exc)
            raise gr.Error(html.escape(refusal(exc), quote=False), print_exception=False) from None

    endpoint.__signature__ = inspect.signature(fn)  # a bound method's, without ``self``
    return endpoint


def on_page(handler, message, *args, **kwargs) -> dict:
    """``handler``'s outputs, or a refusal as the one message in ``message`` (logged once, no traceback)."""
    try:
        return handler(*args, **kwargs)
    except REFUSED as exc:
        logger.info("refused %s: %s", handler.__name__, exc)
        return {message: said(exc)}
