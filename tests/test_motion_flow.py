"""Motion measured as motion: optical flow on synthetic clips whose true motion is known (within 10 %),
flicker and noise read as still but caught by the warping error and VBench's flickering score, that
score against a hand computation, and VBench's dynamic-degree rule as VBench writes it."""

import numpy as np
import pytest

from svd_attention_lab.outputs import Metrics, measure_flow, temporal_flickering
from svd_attention_lab.outputs._flow import vbench_is_dynamic, vbench_rule
from tests.motion_clips import clip

SIZES = [(64, 64), (256, 256), (576, 1024)]
MOVING = ["translate 1 px", "translate 3 px", "rotate 2°", "zoom 3 %"]
NEAR_ZERO_PX = 0.2  # a fifth of a pixel per frame


def ids(size):
    return f"{size[0]}x{size[1]}"


@pytest.mark.parametrize("size", SIZES, ids=ids)
@pytest.mark.parametrize("name", MOVING)
def test_flow_motion_is_within_10_percent_of_the_true_motion(name, size):
    frames, truth = clip(name, *size)
    measured = measure_flow(frames, fps=7)
    assert truth > 0.5
    assert float(measured.flow_px.mean()) == pytest.approx(truth, rel=0.10)
    # scaled to a 256-pixel short side, the same clip reads alike at every size
    assert measured.motion == pytest.approx(truth * 256 / min(size), rel=0.10)
    assert measured.mean_warp_error < 2.0  # the flow explains the frames (8-bit levels)


@pytest.mark.parametrize("size", SIZES[1:], ids=ids)
def test_a_textured_shape_moving_over_a_still_background(size):
    """A disc moving 2 px per frame: the true mean flow counts its pixels only (the background is still)."""
    frames, truth = clip("shape 2 px", *size)
    assert float(measure_flow(frames, fps=7).flow_px.mean()) == pytest.approx(truth, rel=0.10)


@pytest.mark.parametrize("size", SIZES, ids=ids)
@pytest.mark.parametrize("name", ["flicker", "noise"])
def test_flicker_and_noise_read_as_still_and_are_caught_by_warping_error_and_flickering(name, size):
    frames, truth = clip(name, *size)
    still = measure_flow(clip("still", *size)[0], fps=7)
    moving = measure_flow(clip("translate 1 px", *size)[0], fps=7)
    measured = measure_flow(frames, fps=7)
    assert truth == 0.0 and float(still.flow_px.mean()) == 0.0
    assert float(measured.flow_px.mean()) < NEAR_ZERO_PX  # near zero, against 1 px for the slowest pan
    assert measured.mean_warp_error > 5.0 > 20 * moving.mean_warp_error  # what flow cannot explain
    # VBench scores flickering on still videos (a pan lowers it too): against the still clip's perfect 1
    assert measured.flickering < 0.96 < still.flickering == 1.0
    assert not measured.dynamic and not still.dynamic


def test_vbench_flickering_score_matches_a_hand_computation():
    frames = np.zeros((3, 1, 2, 3), np.uint8)
    frames[1] = [[[10, 20, 30], [40, 50, 60]]]
    frames[2] = [[[10, 20, 30], [40, 50, 255]]]
    # pair 0: (10 + 20 + 30 + 40 + 50 + 60) / 6 = 35 levels; pair 1: |255 - 60| / 6 = 32.5 levels
    assert temporal_flickering(frames) == pytest.approx((255 - (35 + 32.5) / 2) / 255)
    assert temporal_flickering(frames[:1]) == 1.0
    # the same number Metrics derives from its temporal change (VBench's MAE per pair)
    metrics = Metrics.compare(frames, frames)
    assert metrics.summary()["baseline_vbench_flickering"] == pytest.approx(temporal_flickering(frames))


def test_vbench_dynamic_degree_rule_as_written_there():
    assert vbench_rule(256, 512, 8, 8.0) == (6.0, 2)  # 6 px at a 256-px short side; round(4 x 8 / 16) pairs
    threshold, needed = vbench_rule(576, 1024, 14, 7.0)  # SVD: below 8 fps the threshold grows by 8 / fps
    assert threshold == pytest.approx(8 / 7 * 6 * 576 / 256) and needed == 4
    assert vbench_rule(64, 64, 2, 8.0)[1] == 0  # round(0.5) is 0, as in VBench
    assert vbench_is_dynamic([7, 0, 7], 6.0, 2) and not vbench_is_dynamic([7, 0, 5], 6.0, 2)
    assert not vbench_is_dynamic([], 6.0, 0)  # no pairs: VBench's loop never runs
    fast = measure_flow(clip("translate 3 px", 64, 64, frames=8)[0], fps=8)  # 3 px > 6 x 64 / 256 = 1.5 px
    slow = measure_flow(clip("translate 1 px", 64, 64, frames=8)[0], fps=8)
    assert fast.dynamic and not slow.dynamic
    frames = clip("translate 3 px", 64, 64, frames=8)[0]
    assert float(np.mean(measure_flow(frames, fps=24).top5_px)) > 1.5  # at 24 fps VBench keeps every third frame


def test_metrics_keep_the_mean_change_under_its_own_name_beside_the_flow():
    frames, _ = clip("translate 3 px", 64, 64)
    flicker, _ = clip("flicker", 64, 64)
    summary = Metrics.compare(frames, flicker).summary()
    assert summary["flow_motion_ratio"] < 0.1  # the flickering video barely moves
    assert summary["temporal_change_ratio"] > 0.5  # but changes between frames about as much
    assert summary["patched_warp_error"] > 10 * summary["baseline_warp_error"]
