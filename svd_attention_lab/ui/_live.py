"""What the page shows while a Preview waits or samples: its place in line, then the sampling video's
frames at their own aspect ratio, each ``FRAME_HEIGHT`` CSS pixels tall (nearest-neighbour
scaled by the browser), with a caption in page text rather than in the pixels."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image

FRAME_HEIGHT = 96  # CSS pixels per live frame; the frames wrap onto more rows on a narrow page


def _png(frame: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def strip_html(strip: np.ndarray, frames: int, caption: str) -> str:
    """A (h, frames*w, 3) strip as ``frames`` images side by side (wrapping), captioned."""
    frames = max(1, frames)
    width = strip.shape[1] // frames
    cells = "".join(f'<img src="{_png(strip[:, i * width:(i + 1) * width])}" width="{width}" '
                    f'height="{strip.shape[0]}" alt="frame {i + 1}">' for i in range(frames))
    caption += " · the denoised estimate, colours approximate"  # a linear map from latents, not the VAE's decode
    return (f'<div class="live-caption">{html.escape(caption)}</div>'
            f'<div class="live-frames" style="--frame-aspect: {width / strip.shape[0]:.5f}">{cells}</div>')


def waiting_html(text: str) -> str:
    return f'<div class="live-caption">{html.escape(text)}</div>'


LIVE_CSS = f"""
#live-preview .live-caption {{ font-size: 0.95em; padding: 2px 0 4px; }}
#live-preview .live-frames {{ display: flex; flex-wrap: wrap; gap: 4px; }}
#live-preview .live-frames img {{ height: {FRAME_HEIGHT}px; width: auto;
  aspect-ratio: var(--frame-aspect); image-rendering: pixelated; }}
"""
