"""Motion read as motion: dense optical flow between consecutive frames, and the measures built on it.

The flow is OpenCV's DIS optical flow (``cv2.DISOpticalFlow``, medium preset): weight-free, nothing
downloaded. Per pair of consecutive frames it is computed once, from frame t+1 back to frame t (for
every pixel of frame t+1, where it was in frame t), on grey levels normalised to the same mean and
contrast in both frames, so a global brightness or contrast flicker is not read as motion. Frames
under 256 pixels on their short side are flowed at full resolution (the preset's finest scale 0).

Measures, per pair:

- **flow motion**: the mean flow magnitude in pixels per frame, and the same scaled to a frame whose
  short side is 256 pixels (``x 256 / min(H, W)``), the scale of VBench's threshold, so figures from
  a 64² demo render and a 576x1024 SVD render read alike;
- **top-5 % flow** (VBench's dynamic-degree score): the mean of the largest 5 % of the magnitudes;
- **warping error**: frame t warped by the flow onto frame t+1, against frame t+1, as the mean absolute
  difference in 8-bit levels over the pixels whose source lies inside the frame: what the flow cannot
  explain (flicker, noise, things appearing).

Per video:

- **dynamic degree** (VBench-style, OpenCV flow instead of RAFT): VBench's rule, exactly: frames taken
  at about 8 per second (every ``max(1, round(fps / 8))``-th), a pair counts as moving when its top-5 %
  flow exceeds ``max(1, 8 / fps) x 6 x min(H, W) / 256`` pixels, and the video is dynamic when at least
  ``round(4 x frames / 16)`` pairs move;
- **temporal flickering** (VBench's score, which needs no model, computed exactly as VBench does):
  ``(255 - mean over pairs of the mean |frame[t+1] - frame[t]|) / 255``; 1 is perfectly still.
"""

from __future__ import annotations

import dataclasses

import numpy as np

REFERENCE_SIDE = 256  # VBench's threshold is 6 pixels at a 256-pixel short side
VBENCH_THRESHOLD_AT_REFERENCE = 6.0
VBENCH_TOP_FRACTION = 0.05
VBENCH_FPS = 8.0
SMALL_SIDE = 256  # below this short side the flow runs at full resolution
MIN_FLOW_SIDE = 16  # smaller frames are extended to this by their edge pixels
_NORMALISED_CONTRAST = 40.0  # grey-level standard deviation the frames are brought to before the flow
FLOW_NAME = "OpenCV DIS optical flow (medium preset)"


def _cv2():
    import cv2  # opencv-python-headless; imported on first use (the app starts without it loaded)

    return cv2


def _grey(frame: np.ndarray) -> np.ndarray:
    """Grey levels with mean 128 and a fixed contrast, as uint8 (what DIS takes)."""
    cv2 = _cv2()
    grey = cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
    spread = float(grey.std())
    if spread > 1e-3:
        grey = (grey - float(grey.mean())) * (_NORMALISED_CONTRAST / spread) + 128.0
    return np.clip(grey + 0.5, 0, 255).astype(np.uint8)


def _solver(height: int, width: int):
    cv2 = _cv2()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    if min(height, width) < SMALL_SIDE:
        dis.setFinestScale(0)
    return dis


def pair_flows(frames: np.ndarray) -> np.ndarray:
    """(F-1, H, W, 2) float32: for each t, the flow from frame t+1 back to frame t, in pixels."""
    frames = _check_frames(frames)
    count, height, width = frames.shape[:3]
    out = np.zeros((max(count - 1, 0), height, width, 2), np.float32)
    if count < 2:
        return out
    dis = _solver(height, width)
    pad_y, pad_x = max(0, MIN_FLOW_SIDE - height), max(0, MIN_FLOW_SIDE - width)
    greys = [_grey(f) for f in frames]
    if pad_y or pad_x:  # DIS needs a few pixels: tiny frames are extended by their edge, the flow cropped back
        cv2 = _cv2()
        greys = [cv2.copyMakeBorder(g, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE) for g in greys]
    for t in range(count - 1):
        out[t] = dis.calc(greys[t + 1], greys[t], None)[:height, :width]
    return out


def warp_back(frame: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` (t) sampled at each pixel of frame t+1 plus its flow (bilinear), as float32, and the
    mask of pixels whose source lies inside the frame."""
    cv2 = _cv2()
    height, width = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    warped = cv2.remap(np.ascontiguousarray(frame, dtype=np.float32), map_x, map_y, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    return warped, inside


def warping_errors(frames: np.ndarray, flows: np.ndarray) -> np.ndarray:
    """(F-1,): per pair, mean |frame[t+1] - frame[t] warped by the flow| in 8-bit levels, over the
    pixels whose source is inside the frame (and their channels)."""
    frames = _check_frames(frames)
    out = np.zeros(len(flows), np.float32)
    for t, flow in enumerate(flows):
        warped, inside = warp_back(frames[t], flow)
        error = np.abs(frames[t + 1].astype(np.float32) - warped).mean(axis=-1)
        out[t] = float(error[inside].mean()) if inside.any() else 0.0
    return out


def top_fraction_mean(magnitude: np.ndarray, fraction: float = VBENCH_TOP_FRACTION) -> float:
    """VBench's ``get_score``: the mean of the largest ``int(H x W x fraction)`` magnitudes."""
    cut = int(magnitude.size * fraction)
    if cut <= 0:
        return float("nan")  # VBench's mean of no values
    flat = magnitude.ravel()
    return float(np.partition(flat, flat.size - cut)[flat.size - cut:].mean())


def vbench_frame_step(fps: float) -> int:
    """VBench reads every ``max(1, round(fps / 8))``-th frame (about 8 per second)."""
    return max(1, round(fps / VBENCH_FPS))


def vbench_rule(height: int, width: int, frames: int, fps: float) -> tuple[float, int]:
    """VBench's dynamic-degree parameters for a video (after its frame step): the top-5 % flow a pair
    must exceed, in pixels, and how many such pairs make the video dynamic."""
    factor = max(1.0, VBENCH_FPS / fps)
    return factor * VBENCH_THRESHOLD_AT_REFERENCE * min(height, width) / REFERENCE_SIDE, round(4 * (frames / 16.0))


def vbench_is_dynamic(scores, threshold: float, count_needed: int) -> bool:
    """VBench's ``check_move``, as written there (the count is checked after each pair)."""
    count = 0
    for score in scores:
        if score > threshold:
            count += 1
        if count >= count_needed:
            return True
    return False


def temporal_flickering(frames: np.ndarray) -> float:
    """VBench's temporal-flickering score: ``(255 - mean over pairs of mean |f[t+1] - f[t]|) / 255``
    (float32 differences over every pixel and channel, as VBench's ``calculate_mae``)."""
    frames = _check_frames(frames)
    if len(frames) < 2:
        return 1.0
    maes = [np.mean(np.abs(frames[t].astype(np.float32) - frames[t + 1].astype(np.float32)))
            for t in range(len(frames) - 1)]
    return (255.0 - np.mean(np.array(maes)).item()) / 255.0


@dataclasses.dataclass(frozen=True)
class FlowMotion:
    """A video's motion, measured by optical flow (per frame pair), and VBench-style verdicts on it."""

    flow_px: np.ndarray  # (F-1,) mean flow magnitude, pixels per frame at the video's own size
    top5_px: np.ndarray  # (F-1,) mean of the largest 5 % of magnitudes (VBench's per-pair score)
    warp_error: np.ndarray  # (F-1,) warping error, 8-bit levels
    size: tuple[int, int]  # (height, width)
    fps: float
    dynamic: bool  # VBench-style dynamic degree (OpenCV flow instead of RAFT)
    flickering: float  # VBench's temporal-flickering score (1 = still)

    @property
    def scale(self) -> float:
        """Pixels at this size -> pixels at a 256-pixel short side."""
        return REFERENCE_SIDE / min(self.size)

    @property
    def flow(self) -> np.ndarray:
        """(F-1,) mean flow magnitude scaled to a 256-pixel short side, pixels per frame."""
        return self.flow_px * self.scale

    @property
    def motion(self) -> float:
        """The video's motion: mean flow, pixels per frame at a 256-pixel short side."""
        return float(self.flow.mean()) if self.flow.size else 0.0

    @property
    def mean_warp_error(self) -> float:
        return float(self.warp_error.mean()) if self.warp_error.size else 0.0


def measure_flow(frames: np.ndarray, fps: float = 7.0) -> FlowMotion:
    """Flow, warping error, VBench's dynamic degree and temporal flickering of one video (F, H, W, 3) uint8."""
    frames = _check_frames(frames)
    height, width = frames.shape[1:3]
    flows = pair_flows(frames)
    magnitudes = np.hypot(flows[..., 0], flows[..., 1]) if len(flows) else np.zeros((0, height, width), np.float32)
    flow_px = magnitudes.mean(axis=(1, 2)).astype(np.float32)
    top5 = np.array([top_fraction_mean(m) for m in magnitudes], np.float32)
    step = vbench_frame_step(fps)
    if step == 1:
        scores = top5
        sampled = len(frames)
    else:
        picked = frames[::step]
        sampled = len(picked)
        scores = [top_fraction_mean(np.hypot(f[..., 0], f[..., 1])) for f in pair_flows(picked)]
    threshold, needed = vbench_rule(height, width, sampled, fps)
    dynamic = vbench_is_dynamic(scores, threshold, needed)
    return FlowMotion(flow_px, top5, warping_errors(frames, flows), (height, width), float(fps), dynamic,
                      temporal_flickering(frames))


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (F, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    return frames
