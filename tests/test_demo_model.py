"""What the shipped demo model does, measured on held-out generated images.

Figures from `python -m preview.evaluate_demo --images 6` (the same images, seed and settings as
here; renders are seeded, so they repeat exactly). The thresholds sit below those figures with a
margin and guard against regressions when the model is retrained. The model does not yet reach
every target its training aims at (frame-0 PSNR of 20 dB, motion that follows motion_bucket_id,
jitter that grows without temporal self-attention); see the README.
"""

import json
from pathlib import Path

import pytest

from preview import Previewer, preview_settings
from preview._synthetic import held_out_images
from preview.evaluate_demo import evaluate


@pytest.fixture(scope="module")
def results(demo_model):
    return evaluate(Previewer(demo_model, cache_size=4), held_out_images(6), preview_settings(demo_model))


def test_the_model_is_trained_not_random(demo_model):
    stages = json.loads((Path(demo_model.source.location) / "training_report.json").read_text())
    assert {"vae", "unet", "decoder"} <= set(stages)


def test_frame_zero_resembles_the_input(results):
    # measured 17.3 dB mean over these 6 images (a random-weight model gives about 11 dB)
    assert results["frame0_psnr_db"]["mean"] >= 15.5


def test_baselines_repeat_exactly(results):
    assert results["noise_floor"] == 0.0  # same seed, same frames


@pytest.mark.parametrize(
    "key, measured",
    [
        ("self_structural=0", 5.5), ("self_structural=2", 4.1),
        ("self_temporal=0", 9.1), ("self_temporal=2", 11.8),
        ("cross_structural=0", 23.6), ("cross_structural=2", 4.7),
        ("cross_temporal=0", 2.3), ("cross_temporal=2", 1.9),
    ],
)
def test_every_multiplier_changes_the_video_well_above_the_noise_floor(results, key, measured):
    assert results["change_vs_baseline"][key] > 0.6 * measured


def test_objects_change_over_the_clip(results):
    # first-to-last-frame difference: measured 9.4 to 9.9 levels across the three buckets
    for value in results["first_last_difference_by_bucket"].values():
        assert value > 5.0
