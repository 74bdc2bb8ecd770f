"""Browser-playable files: H.264 yuv420p mp4 (+faststart), animated WebP, PNG; a self-cleaning folder."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

from svd_attention_lab.files import atomic_path

OUTPUT_ENV = "SVD_LAB_OUTPUT_DIR"


def _even(frames: np.ndarray) -> np.ndarray:
    """Pad by one pixel where needed: yuv420p needs even width and height."""
    _, h, w, _ = frames.shape
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_mp4(frames: np.ndarray, path: str | os.PathLike, fps: int) -> Path:
    """(F, H, W, 3) uint8 -> H.264 mp4 that browsers play without transcoding."""
    frames = _even(np.ascontiguousarray(frames, dtype=np.uint8))
    _, h, w, _ = frames.shape
    path = Path(path)
    with atomic_path(path, replace=True) as tmp:
        _encode_mp4(frames, tmp, fps, w, h)
    return path


def _encode_mp4(frames: np.ndarray, tmp: Path, fps: int, w: int, h: int) -> None:
    writer = imageio_ffmpeg.write_frames(
        str(tmp),
        (w, h),
        fps=fps,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        quality=None,
        macro_block_size=1,
        output_params=["-crf", "17", "-preset", "veryfast", "-movflags", "+faststart", "-f", "mp4"],
    )
    try:
        writer.send(None)  # start the encoder
        for frame in frames:
            writer.send(frame)
    finally:
        writer.close()


def write_webp(frames: np.ndarray, path: str | os.PathLike, fps: int) -> Path:
    images = [Image.fromarray(f) for f in frames]
    path = Path(path)
    with atomic_path(path, replace=True) as tmp:
        images[0].save(tmp, format="WEBP", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0,
                       quality=90)
    return path


def write_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path, replace=True) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return path


class OutputDir:
    """A folder of generated files with unique names; files older than ``max_age_s`` are removed."""

    def __init__(self, root: str | os.PathLike | None = None, max_age_s: float = 6 * 3600) -> None:
        root = root or os.environ.get(OUTPUT_ENV) or Path(tempfile.gettempdir()) / "svd-attention-lab"
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_age_s = max_age_s

    def new_batch(self) -> Path:
        """A fresh sub-folder for one render's files, after clearing out old ones."""
        self.cleanup()
        batch = self.root / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        batch.mkdir()
        return batch

    def cleanup(self) -> int:
        cutoff = time.time() - self.max_age_s
        removed = 0
        for batch in self.root.iterdir():
            try:
                if batch.is_dir() and batch.stat().st_mtime < cutoff:
                    for f in batch.iterdir():
                        f.unlink()
                    batch.rmdir()
                    removed += 1
            except OSError:  # another process got there first
                continue
        return removed
