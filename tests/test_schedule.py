"""The step schedule: the multipliers act only in steps start..end, switched at step boundaries; a
render whose window opens later resumes from the baseline's latents, bitwise, for fewer UNet calls."""

import numpy as np
import pytest
import torch

from svd_attention_lab.controls import Multipliers, patched_steps
from svd_attention_lab.engine import DEMO_MODEL_DIR, Previewer, RenderSettings, prepare_image

IMAGE = DEMO_MODEL_DIR.parent.parent / "examples" / "shapes-2.png"
M = Multipliers(self_temporal=0.3, cross_structural=1.7)
S = RenderSettings(seed=3, frames=4, steps=10, decode_chunk_size=4)


@pytest.mark.parametrize("start, end, steps, expected", [
    (0.0, 1.0, 10, range(0, 10)), (0.3, 1.0, 10, range(3, 10)), (0.0, 0.3, 10, range(0, 3)),
    (0.2, 0.25, 4, range(1, 1)), (0.1, 0.9, 25, range(3, 23)), (0.7, 1.0, 3, range(3, 3)),
])
def test_the_window_of_steps(start, end, steps, expected):
    assert patched_steps(start, end, steps) == expected


def test_an_empty_schedule_is_refused():
    with pytest.raises(ValueError, match="start \\(0.5\\) must be below end \\(0.5\\)"):
        RenderSettings(start=0.5, end=0.5)


@pytest.fixture
def states_per_step(demo_model):
    """The multipliers in force at each UNet call."""
    seen = []
    hook = demo_model.pipe.unet.register_forward_pre_hook(lambda module, args: seen.append(demo_model.patch.current))
    yield seen
    hook.remove()


def test_the_full_window_is_bitwise_the_plain_patch(demo_model):
    previewer = Previewer(demo_model)
    scheduled = previewer.render(IMAGE, S.replace(start=0.0, end=1.0), M).patched
    generator = torch.Generator().manual_seed(S.seed)
    width, height = S.resolved_size(demo_model)
    with demo_model.patch.applied(M):  # the plain patch: applied for the whole call, as before schedules
        plain = demo_model.pipe(prepare_image(IMAGE, width, height), height=height, width=width,
                                num_frames=S.frames, num_inference_steps=S.steps, min_guidance_scale=S.min_guidance,
                                max_guidance_scale=S.max_guidance, fps=S.fps, motion_bucket_id=S.motion_bucket_id,
                                noise_aug_strength=S.noise_aug_strength, decode_chunk_size=S.decode_chunk_size,
                                generator=generator, output_type="np").frames[0]
    assert np.array_equal(scheduled, (np.clip(plain, 0, 1) * 255).round().astype(np.uint8))


def test_the_patch_switches_at_step_boundaries(demo_model, states_per_step):
    previewer = Previewer(demo_model)
    previewer.resume = False  # every step runs, so every step's state is seen
    previewer.render(IMAGE, S.replace(start=0.3, end=0.7), M)
    baseline, patched = states_per_step[:10], states_per_step[10:]
    assert baseline == [Multipliers()] * 10
    assert patched == [Multipliers()] * 3 + [M] * 4 + [Multipliers()] * 3
    assert demo_model.patch.current == Multipliers()  # restored after the render


def test_a_later_start_resumes_from_the_baseline_bitwise_with_fewer_unet_calls(demo_model, states_per_step):
    previewer = Previewer(demo_model)
    previewer.render(IMAGE, S, Multipliers())  # the baseline, with its latents
    resumed = previewer.render(IMAGE, S.replace(start=0.4), M)
    assert resumed.baseline_cached and previewer.unet_calls == 6  # steps 4..9 only
    previewer.resume = False
    full = previewer.render(IMAGE, S.replace(start=0.4), M)
    assert previewer.unet_calls == 10
    assert np.array_equal(resumed.patched, full.patched) and np.array_equal(resumed.baseline, full.baseline)
    assert not np.array_equal(resumed.patched, resumed.baseline)


def test_the_schedule_leaves_the_baseline_cache_alone(demo_model):
    previewer = Previewer(demo_model)
    first = previewer.render(IMAGE, S, M)
    later = previewer.render(IMAGE, S.replace(start=0.2, end=0.6), M)
    assert later.baseline_cached and np.array_equal(later.baseline, first.baseline)
    assert not np.array_equal(later.patched, first.patched)


def test_a_window_without_steps_renders_the_baseline(demo_model):
    previewer = Previewer(demo_model)
    comparison = previewer.render(IMAGE, S.replace(steps=4, start=0.2, end=0.25), M)
    assert np.array_equal(comparison.patched, comparison.baseline)
