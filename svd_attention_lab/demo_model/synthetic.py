"""Procedurally generated videos: shapes and textures that move, with camera pans and zooms.

Used to train the embedded demo model and, with held-out seeds, to measure it. The first frame is
the conditioning image; the speed of everything grows with ``motion_bucket_id``, as in SVD.

The world is a toy one, in the spirit of CLEVR: colours come from a fixed palette, and the
direction of every motion is a rule rather than a dice roll (objects drift right, smaller ones
faster, bouncing off the edges and spinning clockwise; the camera pans down and zooms in). A first
frame and a bucket therefore determine their clip, which a model small enough to ship and train in
an hour on a CPU can learn, instead of averaging over directions it cannot see.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

SUPERSAMPLE = 2  # draw at 2x and downsample, so edges are antialiased
PALETTE = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
    (170, 110, 40), (255, 250, 200), (128, 0, 0), (20, 20, 30), (235, 235, 235), (128, 128, 128),
], dtype=np.float32)
MAX_SPEED = 2.5  # pixels per frame at 64 px, at motion_bucket_id 255


def _colour(rng: np.random.Generator) -> np.ndarray:
    return PALETTE[rng.integers(0, len(PALETTE))]


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    """A textured canvas, larger than the frame so that the camera can pan and zoom over it."""
    c1, c2 = _colour(rng), _colour(rng)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    kind = rng.integers(0, 4)
    if kind == 0:  # linear gradient
        angle = rng.uniform(0, 2 * math.pi)
        t = (x * math.cos(angle) + y * math.sin(angle) + 1.5) / 3.0
    elif kind == 1:  # stripes
        angle, freq = rng.uniform(0, math.pi), rng.uniform(2, 6)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (x * math.cos(angle) + y * math.sin(angle)))
    elif kind == 2:  # checkerboard
        n = rng.integers(2, 6)
        t = ((np.floor(x * n) + np.floor(y * n)) % 2).astype(np.float32)
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
    return [(cx + r * math.cos(angle + 2 * math.pi * k / sides),
             cy + r * math.sin(angle + 2 * math.pi * k / sides)) for k in range(sides)]


def motion_speed(motion_bucket_id: float) -> float:
    """Pixels per frame (at 64 px) of a typical object for a given bucket: 0 -> still, 255 -> fast."""
    return MAX_SPEED * motion_bucket_id / 255.0


def make_video(rng: np.random.Generator, motion_bucket_id: float, frames: int = 8, size: int = 64) -> np.ndarray:
    """(F, size, size, 3) uint8."""
    s = size * SUPERSAMPLE
    speed = motion_speed(motion_bucket_id) * SUPERSAMPLE * size / 64
    canvas = 2 * s
    background = _background(rng, canvas)
    # the camera pans down at half the object speed and zooms in by up to 1.5% a frame
    pan = 0.5 * speed
    zoom = 1.0 + 0.015 * motion_bucket_id / 255.0
    cam_x, cam_y = rng.uniform(0.25, 0.75) * (canvas - s), rng.uniform(0.1, 0.5) * (canvas - s)
    objects = []
    for _ in range(rng.integers(1, 4)):
        r = rng.uniform(0.08, 0.2) * s
        objects.append({
            "shape": int(rng.integers(0, 4)),
            "colour": tuple(int(c) for c in _colour(rng)),
            "r": r,
            "x": rng.uniform(r, s - r),
            "y": rng.uniform(0.2, 0.8) * s,
            "vx": speed * 0.14 * s / r,  # smaller objects move faster: 0.7x to 1.75x
            "angle": rng.uniform(0, 2 * math.pi),
            "spin": 0.05 * speed / SUPERSAMPLE,  # radians a frame, clockwise on screen
        })
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    view = float(s)
    for t in range(frames):
        half = view / 2
        cx, cy = cam_x + s / 2, cam_y + s / 2
        frame = background.resize((s, s), Image.Resampling.BILINEAR, box=(cx - half, cy - half, cx + half, cy + half))
        draw = ImageDraw.Draw(frame)
        for o in objects:
            draw.polygon(_polygon(o["shape"], o["x"], o["y"], o["r"], o["angle"]), fill=o["colour"])
        out[t] = np.asarray(frame.resize((size, size), Image.Resampling.BOX))
        for o in objects:  # objects drift right and bounce off the frame's edges
            o["x"] += o["vx"]
            o["angle"] += o["spin"]
            if o["x"] > s - o["r"]:
                o["x"], o["vx"] = 2 * (s - o["r"]) - o["x"], -abs(o["vx"])
            elif o["x"] < o["r"]:
                o["x"], o["vx"] = 2 * o["r"] - o["x"], abs(o["vx"])
        cam_y = float(min(cam_y + pan, canvas - s))
        view = float(max(view / zoom, s * 0.6))
    return out


def make_batch(rng: np.random.Generator, count: int, frames: int = 8, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(count, F, H, W, 3) uint8 videos and their (count,) motion buckets, uniform in [0, 255]."""
    buckets = rng.uniform(0, 255, count)
    return np.stack([make_video(rng, b, frames, size) for b in buckets]), buckets


HELD_OUT_SEED = 1_000_003  # training draws from seeds 0 and up, a stream this one never meets


def held_out_clips(count: int = 12, motion_bucket_id: float = 127, frames: int = 8, size: int = 64) -> list[np.ndarray]:
    """The true clips of the held-out set: the videos whose first frames ``held_out_images`` returns."""
    rng = np.random.default_rng(HELD_OUT_SEED)
    return [make_video(rng, motion_bucket_id, frames, size) for _ in range(count)]


def held_out_images(count: int = 12, size: int = 64) -> list[Image.Image]:
    """A fixed held-out set of conditioning images (seeds never used in training)."""
    return [Image.fromarray(clip[0]) for clip in held_out_clips(count, 0.0, frames=1, size=size)]
