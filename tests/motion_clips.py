"""Synthetic clips whose true motion is known, for the optical-flow measures (tests and docs/motion.md).

Each clip is (frames (F, H, W, 3) uint8, true mean flow magnitude in pixels per frame): the mean over
the frame of the true displacement of every pixel of frame t+1 from frame t (0 for still clips).
"""

from __future__ import annotations

import numpy as np

FRAMES = 6


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) float32 in 0-255: value noise summed over scales of 4 to 64 pixels (detail at every
    scale, so flow is defined everywhere)."""
    import cv2

    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for scale in (4, 8, 16, 32, 64):
        small = rng.random((height // scale + 2, width // scale + 2, 3)).astype(np.float32)
        big = cv2.resize(small, ((width // scale + 2) * scale, (height // scale + 2) * scale),
                         interpolation=cv2.INTER_CUBIC)
        out += big[:height, :width]
    out -= out.mean()
    return np.clip(out / (3 * out.std()) * 255 + 127.5, 0, 255)


def _affine(height: int, width: int, frames: int, shift: float = 0.0, degrees: float = 0.0, zoom: float = 1.0,
            seed: int = 0) -> tuple[np.ndarray, float]:
    """A textured plane larger than the frame, moved about the frame's centre by the same affine map
    each frame (translation, rotation, zoom); the frame is the middle of it."""
    import cv2

    big_h, big_w = 2 * height, 2 * width
    plane = texture(big_h, big_w, seed)
    centre = (big_w / 2, big_h / 2)
    out = []
    for t in range(frames):
        m = cv2.getRotationMatrix2D(centre, degrees * t, zoom ** t)
        m[0, 2] += shift * t
        moved = cv2.warpAffine(plane, m, (big_w, big_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        out.append(moved[big_h // 4: big_h // 4 + height, big_w // 4: big_w // 4 + width])
    # true flow from frame t+1 back to frame t: each pixel y of frame t+1 came from A^-1 y
    step = np.vstack([cv2.getRotationMatrix2D(centre, degrees, zoom), [0, 0, 1]])
    step[0, 2] += shift
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    here = np.stack([xs + big_w // 4, ys + big_h // 4, np.ones_like(xs)])
    there = np.tensordot(np.linalg.inv(step), here, 1)
    truth = float(np.hypot(there[0] - here[0], there[1] - here[1]).mean())
    return np.clip(np.stack(out), 0, 255).round().astype(np.uint8), truth


def _shape(height: int, width: int, frames: int, shift: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """A textured disc moving right by ``shift`` whole pixels per frame over a still textured background."""
    background, skin = texture(height, width, seed + 1), texture(height, 2 * width, seed + 2)
    if shift * frames > width:
        raise ValueError("the disc would leave its texture")
    radius = 0.3 * min(height, width)
    ys, xs = np.mgrid[0:height, 0:width]
    out, inside_share = [], []
    for t in range(frames):
        cx, cy = 0.3 * width + shift * t, height / 2
        disc = (xs - cx) ** 2 + (ys - cy) ** 2 <= radius ** 2
        frame = background.copy()
        frame[disc] = skin[:, width - shift * t: 2 * width - shift * t][disc]  # the disc's texture moves with it
        out.append(frame)
        inside_share.append(disc.mean())
    truth = shift * float(np.mean(inside_share[1:]))
    return np.clip(np.stack(out), 0, 255).round().astype(np.uint8), truth


def clip(name: str, height: int, width: int, frames: int = FRAMES) -> tuple[np.ndarray, float]:
    """One named clip at (height, width) and its true mean flow, pixels per frame."""
    if name == "still":
        still = texture(height, width).round().astype(np.uint8)
        return np.repeat(still[None], frames, axis=0), 0.0
    if name == "flicker":  # brightness and contrast swinging by a fifth every frame
        still = texture(height, width)
        gains = [1.2 if t % 2 else 0.8 for t in range(frames)]
        return np.stack([np.clip(still * g, 0, 255) for g in gains]).round().astype(np.uint8), 0.0
    if name == "noise":  # fresh Gaussian noise (sigma 12 levels) on every frame
        still = texture(height, width)
        rng = np.random.default_rng(1)
        noisy = [np.clip(still + rng.normal(0.0, 12.0, still.shape), 0, 255) for _ in range(frames)]
        return np.stack(noisy).round().astype(np.uint8), 0.0
    kind, _, amount = name.partition(" ")
    if kind == "translate":
        return _affine(height, width, frames, shift=float(amount.split()[0]))
    if kind == "shape":
        return _shape(height, width, frames, shift=int(amount.split()[0]))
    if kind == "rotate":
        return _affine(height, width, frames, degrees=float(amount.rstrip("°")))
    if kind == "zoom":
        return _affine(height, width, frames, zoom=1 + float(amount.split()[0]) / 100)
    raise ValueError(f"unknown clip {name!r}")


CLIPS = ("translate 1 px", "translate 3 px", "shape 2 px", "rotate 2°", "zoom 3 %", "still", "flicker", "noise")
