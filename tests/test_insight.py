"""The motion meter (which motion bucket a setting moves like) and sweeps over several seeds."""

from pathlib import Path

import numpy as np
import pytest

from svd_attention_lab.controls import Multipliers
from svd_attention_lab.engine import Previewer, preview_settings
from svd_attention_lab.studies import read_motion, sweep
from svd_attention_lab.studies._motion import bucket_for

IMAGE = Path(__file__).resolve().parents[1] / "examples" / "shapes-2.png"


def test_reading_a_curve_inside_and_beyond_it():
    buckets, motions = (0, 100, 200), (1.0, 2.0, 4.0)
    assert bucket_for(1.5, buckets, motions) == (50.0, True)
    assert bucket_for(3.0, buckets, motions) == (150.0, True)
    assert bucket_for(5.0, buckets, motions) == (200.0, False)  # beyond the curve: its end, flagged
    assert bucket_for(0.5, buckets, motions) == (0.0, False)
    assert bucket_for(2.0, (0, 100, 200), (1.0, 2.0, 1.5)) == (100.0, True)  # a dip is flattened, not inverted
    assert bucket_for(1.5, (0, 100, 200), (3.0, 1.0, 2.0)) == (150.0, True)  # the curve starts at its lowest


@pytest.fixture(scope="module")
def meter(demo_model):
    previewer = Previewer(demo_model, cache_size=16)
    settings = preview_settings(demo_model, seed=0, motion_bucket_id=100)  # between the meter's buckets
    return previewer, settings, read_motion(previewer, IMAGE, settings, Multipliers(self_temporal=0.5))


def test_the_meter_places_the_baseline_near_its_own_bucket(meter):
    _, _, reading = meter
    assert reading.buckets == (1, 64, 127, 191, 255)
    # optical-flow motion on the demo model grows from bucket 64 to 127, then stays about level
    assert reading.motions[2] > reading.motions[1] and min(reading.motions[2:]) > reading.motions[1]
    # so a bucket-100 baseline reads as a bucket between 65 and 135 (about 119 with this seed)
    assert abs(reading.baseline_estimate - 100) <= 35
    assert reading.patched_motion < reading.baseline_motion and reading.estimate < reading.baseline_estimate
    assert f"≈ {reading.estimate:.0f}**" in reading.sentence() and "reads as ≈" in reading.sentence()
    rows = reading.rows()
    assert [r["series"] for r in rows].count("baseline at bucket") == 5 and len(rows) == 7


def test_the_meters_baselines_are_cached_like_any_baseline(meter, unet_calls):
    previewer, settings, _ = meter
    read_motion(previewer, IMAGE, settings, Multipliers(self_temporal=1.5))
    assert unet_calls.count == settings.steps  # only the new patched video renders


def test_a_sweep_over_seeds_reports_mean_spread_and_seed_noise(demo_model):
    previewer = Previewer(demo_model, cache_size=16)
    settings = preview_settings(demo_model, seed=5, steps=4, frames=4, decode_chunk_size=4)
    result = sweep(previewer, IMAGE, settings, "self_temporal", [1.0, 0.0], seeds=3)
    assert result.seeds == [5, 6, 7] and [len(m) for m in result.seed_metrics] == [3, 3]
    rows = result.table()
    assert rows[0]["mean_change_vs_baseline"] == 0 and rows[0]["mean_change_vs_baseline_sd"] == 0
    assert rows[1]["mean_change_vs_baseline"] > 0 and "patched_temporal_change_sd" in rows[1]
    single = [m.summary()["mean_change_vs_baseline"] for m in result.seed_metrics[1]]
    assert rows[1]["mean_change_vs_baseline"] == pytest.approx(np.mean(single))
    verdicts = result.verdicts()
    assert len(verdicts) == 2 and verdicts[0].startswith("self_temporal=1: flow motion +0.00 px/frame")
    assert verdicts[0].endswith("not distinguishable from seed noise")
    assert sweep(previewer, IMAGE, settings, "self_temporal", [0.0]).verdicts() == []  # one seed: no claim
