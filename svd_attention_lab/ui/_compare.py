"""Preview: the page's (streamed: its place in line, then the sampling frames, then the results) and the
API's (``/preview``, named parameters, refusals as errors). On the page a refusal is one message and
the last good result stays; a withdrawn or stopped render says so."""

from __future__ import annotations

import logging
import queue
import threading

import gradio as gr

from svd_attention_lab.controls import with_named_parameters
from svd_attention_lab.engine import MAX_LIVE_FRAMES

from ._gradio import gone, session
from ._inputs import payload_path, read_numbers, typed_settings
from ._live import strip_html, waiting_html
from ._page import Page
from ._state import Display
from ._words import REFUSED, api_refusals, said

logger = logging.getLogger("app")
POLL_S = 0.5  # how often a waiting Preview says its place in line


class Compare:
    """Preview's handlers, for one ``Page``."""

    def __init__(self, page: Page, demo: gr.Blocks | None = None) -> None:
        self.page, self.demo = page, demo

    @property
    def page_outputs(self) -> list:
        c = self.page.c
        return [*self.page.result_outputs, c["live"], c["message"], *c["numbers"], *self.page.view_outputs]

    def preview_page(self, request: gr.Request, display: Display, user_presets, image, *raw):
        """The page's Preview: ``stream``."""
        yield from self.stream(request, display, user_presets, image, *raw)

    def preview_auto(self, request: gr.Request, display: Display, user_presets, image, *raw):
        """A slider's change with auto-preview on (the last input): ``stream``; nothing with it off."""
        *raw, auto = raw
        if auto:
            yield from self.stream(request, display, user_presets, image, *raw)
        else:
            yield gr.skip()  # a generator that yields nothing would empty its outputs

    def stream(self, request, display: Display, user_presets, image, *raw):
        """The render in a worker thread; this generator streams its place in line, then its frames, then
        the results, or the one message saying why there are none."""
        *numbers, randomize = raw
        c = self.page.c
        values, corrected, notes = read_numbers(numbers, display.controls)
        controls = self.page.setup(payload_path(image), values)
        display = display.replace(controls=controls)
        settings = typed_settings(controls.values)
        events: queue.SimpleQueue = queue.SimpleQueue()

        def work():
            try:
                events.put(("done", self.page.studio.preview(
                    controls.path or None, settings, controls.multipliers, session(request),
                    lambda fraction, text: events.put(("progress", text)), gone(self.demo, request),
                    bool(randomize), lambda strip, caption: events.put(("strip", (strip, caption))))))
            except REFUSED as exc:
                events.put(("refused", exc))
            except BaseException as exc:  # noqa: BLE001 - raised again below, where Gradio reports it
                events.put(("error", exc))

        threading.Thread(target=work, name="preview", daemon=True).start()
        frames = min(MAX_LIVE_FRAMES, int(settings["frames"]))
        yield {c["live"]: gr.update(value=waiting_html(self.place()), visible=True),
               c["message"]: " · ".join(notes), **{c["numbers"][i]: v for i, v in corrected.items()}}
        sampling = False
        while True:
            try:
                kind, value = events.get(timeout=POLL_S)
            except queue.Empty:
                if not sampling:
                    yield {c["live"]: waiting_html(self.place())}
                continue
            while kind in ("strip", "progress") and not events.empty():  # only the newest is worth showing
                newer = events.get()
                if newer[0] == "progress" and kind == "strip":
                    continue
                kind, value = newer
            if kind == "strip":
                sampling = True
                yield {c["live"]: strip_html(value[0], frames, value[1])}
            elif kind == "progress" and not sampling:
                yield {c["live"]: waiting_html(value)}
            elif kind == "refused":
                logger.info("refused preview: %s", value)
                yield {c["live"]: gr.update(visible=False), c["message"]: said(value),
                       **self.page.view(display, user_presets)}
                return
            elif kind == "error":
                raise value
            elif kind == "done":
                seed = value.comparison.settings.seed
                shown = controls.replace(settings=tuple({**controls.values, "seed": seed}.items()))
                yield {**self.page.results(value), c["live"]: gr.update(visible=False), c["message"]: "",
                       c["numbers"][self.page.seed_index]: seed,
                       **self.page.view(display.replace(controls=shown, shown=shown), user_presets)}
                return

    def place(self) -> str:
        """A waiting Preview's place: how many requests are ahead of it at the model."""
        ahead = self.page.studio.gate.waiting()
        if ahead <= 0:
            return "Starting…"
        return f"Waiting for the model: {ahead} request{'s' if ahead != 1 else ''} in line (yours included)."

    def preview_api(self, image, multipliers, settings, randomize_seed=False, request: gr.Request = None):
        """Render baseline and patched videos from the same seed; return the comparison and its numbers."""
        outcome = self.page.studio.preview(payload_path(image), settings, multipliers, session(request), None,
                                           gone(self.demo, request), randomize_seed)
        return self.page.results(outcome)

    def api(self):
        """``preview_api`` with one named parameter per knob (Gradio's API page and clients name each one)."""
        return api_refusals(with_named_parameters(self.preview_api))
