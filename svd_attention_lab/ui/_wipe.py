"""The wipe comparison: baseline and patched in one player, a divider between them.

One video carries both: the baseline on top of the patched video, stacked (``stacked``). The page
decodes it once and paints, on a canvas, the top half left of the divider and the bottom half right
of it, from the same decoded frame, so both sides always show the same frame. The divider follows
the mouse (press and drag anywhere on the picture) and the keyboard (it is a focusable slider: the
arrow keys move it 2 %, with Shift 10 %, Home and End to the edges); the video loops; a button
pauses and plays it.

A ``gr.HTML`` component (Gradio's own HTML templates and ``js_on_load``): ``gradio-videoslider``
(1.0.0, on the package index) was evaluated against Gradio 6.31 and not used: it keeps two video
elements in step only within 0.2 s (more than a frame at SVD's 7 fps), has no keyboard control, and
offers uploads the page does not want.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np

from svd_attention_lab.outputs import write_mp4

MAX_WIPE_BYTES = 24 * 1024 * 1024  # the stacked video travels in the page as a data URI

__all__ = ["MAX_WIPE_BYTES", "stacked", "wipe_player", "wipe_value"]


def stacked(baseline: np.ndarray, patched: np.ndarray) -> np.ndarray:
    """(F, 2H, W, 3): each baseline frame above the same patched frame."""
    if baseline.shape != patched.shape:
        raise ValueError(f"baseline {baseline.shape} and patched {patched.shape} differ in shape")
    return np.concatenate([baseline, patched], axis=1)


def wipe_value(baseline: np.ndarray, patched: np.ndarray, fps: int, path: str | os.PathLike | None = None) -> str:
    """The player's value: the stacked video as a ``data:`` URI (written to ``path`` too when given)."""
    frames = stacked(baseline, patched)
    if path is None:
        with tempfile.TemporaryDirectory() as tmp:
            data = write_mp4(frames, Path(tmp) / "wipe.mp4", fps).read_bytes()
    else:
        data = write_mp4(frames, path, fps).read_bytes()
    if len(data) > MAX_WIPE_BYTES:
        raise ValueError(f"the wipe video is {len(data) / 2**20:.0f} MB; the player takes up to "
                         f"{MAX_WIPE_BYTES / 2**20:.0f} MB: lower the size or frames")
    return "data:video/mp4;base64," + base64.b64encode(data).decode("ascii")


_TEMPLATE = """
<div class="svd-wipe" data-ready="false">
  {{#if value}}
  <div class="wipe-stage">
    <video class="wipe-source" src="{{value}}" muted loop playsinline autoplay preload="auto"></video>
    <canvas class="wipe-canvas" role="img" aria-label="baseline left of the divider, patched right of it"></canvas>
    <div class="wipe-divider" role="slider" tabindex="0" aria-label="Wipe divider (arrow keys move it)"
         aria-valuemin="0" aria-valuemax="100" aria-valuenow="50" aria-orientation="horizontal"></div>
    <span class="wipe-tag wipe-left">baseline</span><span class="wipe-tag wipe-right">patched</span>
  </div>
  <button type="button" class="wipe-play">Pause</button>
  {{else}}
  <p class="wipe-empty">Render a comparison to see it here as a wipe.</p>
  {{/if}}
</div>
"""

_CSS = """
.svd-wipe .wipe-stage { position: relative; width: 100%; touch-action: none; cursor: ew-resize; user-select: none; }
.svd-wipe .wipe-canvas { display: block; width: 100%; height: auto; image-rendering: pixelated; background: #000; }
.svd-wipe .wipe-source { position: absolute; width: 1px; height: 1px; opacity: 0; pointer-events: none; }
.svd-wipe .wipe-divider { position: absolute; top: 0; bottom: 0; left: 50%; width: 4px; margin-left: -2px;
  background: #fff; box-shadow: 0 0 0 1px #000; }
.svd-wipe .wipe-divider:focus-visible { outline: 3px solid var(--color-accent, #f97316); outline-offset: 2px; }
.svd-wipe .wipe-tag { position: absolute; top: 4px; padding: 0 6px; font-size: 12px; color: #fff;
  background: rgba(0, 0, 0, 0.55); border-radius: 4px; pointer-events: none; }
.svd-wipe .wipe-left { left: 4px; }
.svd-wipe .wipe-right { right: 4px; }
.svd-wipe .wipe-play { margin-top: 4px; }
"""

_JS = """
let split = 50;  // percent of the width shown as baseline
let token = 0;
function setup() {
  const root = element.querySelector('.svd-wipe');
  const video = element.querySelector('.wipe-source');
  if (!root || !video) return;
  const mine = ++token;
  const stage = root.querySelector('.wipe-stage');
  const canvas = root.querySelector('.wipe-canvas');
  const divider = root.querySelector('.wipe-divider');
  const play = root.querySelector('.wipe-play');
  const ctx = canvas.getContext('2d');
  // The video's current frame, taken once per paint: a playing video can move to its next frame between
  // two drawImage calls on it, which would paint the halves from different frames.
  const frame = document.createElement('canvas');
  const grab = frame.getContext('2d');
  function draw(mediaTime) {
    const w = video.videoWidth, h = Math.floor(video.videoHeight / 2);
    if (!w || !h) return;
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    if (frame.width !== w || frame.height !== video.videoHeight) { frame.width = w; frame.height = video.videoHeight; }
    grab.drawImage(video, 0, 0);
    const cut = Math.round(w * split / 100);
    if (cut > 0) ctx.drawImage(frame, 0, 0, cut, h, 0, 0, cut, h);  // baseline: the top half
    if (cut < w) ctx.drawImage(frame, cut, h, w - cut, h, cut, 0, w - cut, h);  // patched: the bottom half
    root.dataset.frameTime = String(mediaTime);
    root.dataset.ready = 'true';
  }
  function place(percent) {
    split = Math.max(0, Math.min(100, percent));
    divider.style.left = split + '%';
    divider.setAttribute('aria-valuenow', String(Math.round(split * 10) / 10));
    divider.setAttribute('aria-valuetext', Math.round(split) + ' % baseline');
    draw(video.currentTime);
  }
  function loop() {
    if (mine !== token) return;
    if (video.requestVideoFrameCallback) {
      video.requestVideoFrameCallback((now, meta) => { if (mine === token) { draw(meta.mediaTime); loop(); } });
    } else {
      requestAnimationFrame(() => { if (mine === token) { draw(video.currentTime); loop(); } });
    }
  }
  function fromPointer(event) {
    const box = stage.getBoundingClientRect();
    place((event.clientX - box.left) / box.width * 100);
  }
  stage.addEventListener('pointerdown', (event) => {
    stage.setPointerCapture(event.pointerId); fromPointer(event); divider.focus(); event.preventDefault();
  });
  stage.addEventListener('pointermove', (event) => { if (event.buttons & 1) fromPointer(event); });
  divider.addEventListener('keydown', (event) => {
    const step = event.shiftKey ? 10 : 2;
    const moves = {ArrowLeft: split - step, ArrowDown: split - step, ArrowRight: split + step,
                   ArrowUp: split + step, Home: 0, End: 100};
    if (event.key in moves) { place(moves[event.key]); event.preventDefault(); }
  });
  play.addEventListener('click', () => { if (video.paused) video.play(); else video.pause(); });
  video.addEventListener('play', () => { play.textContent = 'Pause'; });
  video.addEventListener('pause', () => { play.textContent = 'Play'; });
  video.addEventListener('loadeddata', () => draw(video.currentTime));
  video.addEventListener('seeked', () => draw(video.currentTime));
  place(split);
  loop();
  video.play().catch(() => { play.textContent = 'Play'; });
}
setup();
watch('value', setup);
"""


def wipe_player(**kwargs) -> gr.HTML:
    """The wipe player (value: ``wipe_value(...)``, or None for an empty note)."""
    kwargs.setdefault("elem_classes", ["svd-wipe-player"])
    return gr.HTML(value=None, html_template=_TEMPLATE, css_template=_CSS, js_on_load=_JS, **kwargs)
