"""Procedurally generated videos: shapes and textures that move, with camera pans and zooms.

Used to train the embedded demo model and, with held-out seeds, to measure it. The first frame is
the conditioning image; the speed of everything grows with ``motion_bucket_id``, as in SVD.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 2  # draw at 2x and downsample, so edges are antialiased


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    """A textured canvas, larger than the frame so that the camera can pan and zoom over it."""
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    kind = rng.integers(0, 4)
    if kind == 0:  # linear gradient
        angle = rng.uniform(0, 2 * math.pi)
        t = (x * math.cos(angle) + y * math.sin(angle) + 1.5) / 3.0
    elif kind == 1:  # stripes
        angle, freq = rng.uniform(0, math.pi), rng.uniform(3, 9)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (x * math.cos(angle) + y * math.sin(angle)))
    elif kind == 2:  # checkerboard
        n = rng.integers(3, 8)
        t = ((np.floor(x * n) + np.floor(y * n)) % 2).astype(np.float32) * 0.8 + 0.1
    else:  # soft blobs
        t = np.zeros_like(x)
        for _ in range(5):
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.3)
            t += np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
        t = t / t.max()
    img = c1[None, None] * (1 - t[..., None]) + c2[None, None] * t[..., None]
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def _polygon(shape: int, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    sides = (3, 4, 5, 24)[shape]  # triangle, square, pentagon, (near) circle
    return [(cx + r * math.cos(angle + 2 * math.pi * k / sides), cy + r * math.sin(angle + 2 * math.pi * k / sides)) for k in range(sides)]


def motion_speed(motion_bucket_id: float) -> float:
    """Pixels per frame (at 64 px) of a typical object for a given bucket: 0 -> still, 255 -> fast."""
    return 3.0 * motion_bucket_id / 255.0


def make_video(rng: np.random.Generator, motion_bucket_id: float, frames: int = 8, size: int = 64) -> np.ndarray:
    """(F, size, size, 3) uint8."""
    s = size * SUPERSAMPLE
    speed = motion_speed(motion_bucket_id) * SUPERSAMPLE
    canvas = 2 * s
    background = _background(rng, canvas)
    # camera: pan at up to the object speed, zoom by up to +-2% a frame at full speed
    pan_dir = rng.uniform(0, 2 * math.pi)
    pan = speed * rng.uniform(0, 0.8)
    zoom = 1.0 + rng.uniform(-0.02, 0.02) * speed / (3.0 * SUPERSAMPLE)
    cam_x, cam_y = rng.uniform(0.25, 0.75) * (canvas - s), rng.uniform(0.25, 0.75) * (canvas - s)
    objects = []
    for _ in range(rng.integers(1, 4)):
        direction = rng.uniform(0, 2 * math.pi)
        v = speed * rng.uniform(0.6, 1.4)
        objects.append({
            "shape": int(rng.integers(0, 4)),
            "color": tuple(int(c) for c in rng.integers(0, 256, 3)),
            "r": rng.uniform(0.08, 0.2) * s,
            "x": rng.uniform(0.2, 0.8) * s,
            "y": rng.uniform(0.2, 0.8) * s,
            "vx": v * math.cos(direction),
            "vy": v * math.sin(direction),
            "angle": rng.uniform(0, 2 * math.pi),
            "spin": rng.uniform(-0.15, 0.15) * speed / SUPERSAMPLE,
        })
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    view = float(s)
    for t in range(frames):
        half = view / 2
        cx, cy = cam_x + s / 2, cam_y + s / 2
        box = (cx - half, cy - half, cx + half, cy + half)
        frame = background.resize((s, s), Image.Resampling.BILINEAR, box=box)
        draw = ImageDraw.Draw(frame)
        for o in objects:
            draw.polygon(_polygon(o["shape"], o["x"], o["y"], o["r"], o["angle"]), fill=o["color"])
        out[t] = np.asarray(frame.resize((size, size), Image.Resampling.BOX))
        # advance: objects bounce off the frame's edges, the camera pans and zooms
        for o in objects:
            o["x"] += o["vx"]
            o["y"] += o["vy"]
            o["angle"] += o["spin"]
            if not o["r"] <= o["x"] <= s - o["r"]:
                o["vx"] = -o["vx"]
            if not o["r"] <= o["y"] <= s - o["r"]:
                o["vy"] = -o["vy"]
        cam_x = float(np.clip(cam_x + pan * math.cos(pan_dir), 0, canvas - s))
        cam_y = float(np.clip(cam_y + pan * math.sin(pan_dir), 0, canvas - s))
        view = float(np.clip(view / zoom, s * 0.6, s))
    return out


def make_batch(rng: np.random.Generator, count: int, frames: int = 8, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(count, F, H, W, 3) uint8 videos and their (count,) motion buckets, uniform in [0, 255]."""
    buckets = rng.uniform(0, 255, count)
    return np.stack([make_video(rng, b, frames, size) for b in buckets]), buckets


def held_out_images(count: int = 12, size: int = 64, seed: int = 1_000_003) -> list[Image.Image]:
    """A fixed held-out set of conditioning images (seeds never used in training)."""
    rng = np.random.default_rng(seed)
    return [Image.fromarray(make_video(rng, 0.0, frames=1, size=size)[0]) for _ in range(count)]
