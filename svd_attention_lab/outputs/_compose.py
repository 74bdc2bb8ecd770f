"""Side-by-side, difference and grid videos, contact sheets; upscaled for display when tiny."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DISPLAY_MIN_SIDE = 256  # tiny renders are upscaled (nearest neighbour, integer factor) to at least this


def display_scale(height: int, width: int) -> int:
    return max(1, math.ceil(DISPLAY_MIN_SIDE / min(height, width)))


def upscale(frames: np.ndarray, factor: int) -> np.ndarray:
    """(F, H, W, C) -> (F, H*factor, W*factor, C), nearest neighbour so pixels stay honest."""
    if factor == 1:
        return frames
    return frames.repeat(factor, axis=1).repeat(factor, axis=2)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def label_bar(width: int, texts: list[str], height: int = 22) -> np.ndarray:
    """A dark bar with ``texts`` centred in equal columns: (height, width, 3) uint8."""
    bar = Image.new("RGB", (width, height), (24, 24, 27))
    draw = ImageDraw.Draw(bar)
    column = width / len(texts)
    for i, text in enumerate(texts):
        size = height - 8
        font = _font(size)
        while size > 7 and draw.textlength(text, font=font) > column - 6:
            size -= 1
            font = _font(size)
        x = column * i + (column - draw.textlength(text, font=font)) / 2
        draw.text((x, (height - size) / 2 - 1), text, fill=(235, 235, 235), font=font)
    return np.asarray(bar)


def with_labels(frames: np.ndarray, texts: list[str]) -> np.ndarray:
    bar = label_bar(frames.shape[2], texts)
    return np.concatenate([np.broadcast_to(bar, (frames.shape[0], *bar.shape)), frames], axis=1)


def side_by_side(baseline: np.ndarray, patched: np.ndarray, left: str, right: str) -> np.ndarray:
    """(F, H', 2*W', 3): baseline | patched, upscaled for display, with a label bar on top."""
    if baseline.shape != patched.shape:
        raise ValueError(f"baseline {baseline.shape} and patched {patched.shape} differ in shape")
    factor = display_scale(*baseline.shape[1:3])
    pair = np.concatenate([upscale(baseline, factor), upscale(patched, factor)], axis=2)
    return with_labels(pair, [left, right])


def difference(baseline: np.ndarray, patched: np.ndarray, gain: float = 4.0) -> np.ndarray:
    """|patched - baseline| amplified by ``gain``, as a video of the same shape."""
    diff = np.abs(patched.astype(np.int16) - baseline.astype(np.int16)).astype(np.float32) * gain
    return np.clip(diff, 0, 255).astype(np.uint8)


def grid(videos: list[np.ndarray], labels: list[str], columns: int | None = None) -> np.ndarray:
    """Tile same-shaped videos into one, each with its label; empty cells are black."""
    if not videos:
        raise ValueError("grid needs at least one video")
    columns = columns or min(len(videos), 3)
    factor = display_scale(*videos[0].shape[1:3])
    tiles = [with_labels(upscale(v, factor), [label]) for v, label in zip(videos, labels)]
    blank = np.zeros_like(tiles[0])
    rows = []
    for start in range(0, len(tiles), columns):
        row = tiles[start : start + columns]
        row += [blank] * (columns - len(row))
        rows.append(np.concatenate(row, axis=2))
    return np.concatenate(rows, axis=1)


def contact_sheet(rows: list[tuple[str, np.ndarray]], max_columns: int = 8) -> np.ndarray:
    """One image: a row per video (labelled on the left), up to ``max_columns`` evenly spaced frames."""
    count = rows[0][1].shape[0]
    picks = np.unique(np.linspace(0, count - 1, min(count, max_columns)).round().astype(int))
    factor = display_scale(*rows[0][1].shape[1:3]) // 2 or 1
    strips = []
    for label, frames in rows:
        cells = upscale(frames[picks], factor)
        strip = np.concatenate(list(cells), axis=1)
        strips.append(np.concatenate([_side_label(label, strip.shape[0]), strip], axis=1))
    label_width = strips[0].shape[1] - cells.shape[2] * len(picks)
    header = label_bar(cells.shape[2] * len(picks), [f"frame {i}" for i in picks])
    header = np.concatenate([np.full((header.shape[0], label_width, 3), 24, np.uint8), header], axis=1)
    return np.concatenate([header, *strips], axis=0)


def _side_label(text: str, height: int, width: int = 90) -> np.ndarray:
    panel = Image.new("RGB", (width, height), (24, 24, 27))
    draw = ImageDraw.Draw(panel)
    font = _font(13)
    draw.text((6, height / 2 - 7), text, fill=(235, 235, 235), font=font)
    return np.asarray(panel)
