"""The shipped demo model really makes motion, and each slider visibly matters.

Thresholds come from `python -m preview.evaluate_demo` on the same held-out images, with a margin
(figures in the README). Renders are seeded, so these numbers are the same on every run.
"""

import pytest

from preview import Previewer, preview_settings
from preview.evaluate_demo import BUCKETS, evaluate
from preview._synthetic import test_images


@pytest.fixture(scope="module")
def results(demo_model):
    return evaluate(Previewer(demo_model, cache_size=4), test_images(6), preview_settings(demo_model))


def test_frame_zero_resembles_the_input(results):
    assert results["frame0_psnr_db"]["mean"] >= 20.0


def test_motion_grows_with_motion_bucket_id(results):
    motion = [results["temporal_change_by_bucket"][str(b)] for b in BUCKETS]
    assert motion[0] < motion[1] < motion[2]
    assert motion[2] > 1.5 * motion[0]
    first_last = [results["first_last_difference_by_bucket"][str(b)] for b in BUCKETS]
    assert first_last[0] < first_last[2] and first_last[2] > 5.0  # objects move across the clip


def test_every_multiplier_matters_well_above_the_noise_floor(results):
    assert results["noise_floor"] == 0.0  # same seed, same frames
    for key, change in results["change_vs_baseline"].items():
        assert change > 1.0, key


def test_temporal_self_attention_off_hurts_temporal_consistency(results):
    assert results["jitter"]["ratio"] > 1.2
