"""The step schedule: start/end are ComfyUI's start_percent/end_percent (sigma-space fractions of the
sampling range), and ComfyUI's own code selects the same steps; the multipliers act only in those steps,
switched at step boundaries; a render whose window opens later resumes from the baseline's latents,
bitwise, for fewer UNet calls."""

import numpy as np
import pytest
import torch

from svd_attention_lab.controls import Multipliers, patched_steps, percent_to_sigma
from svd_attention_lab.engine import DEMO_MODEL_DIR, Previewer, RenderSettings, prepare_image

IMAGE = DEMO_MODEL_DIR.parents[2] / "examples" / "shapes-2.png"
M = Multipliers(self_temporal=0.3, cross_structural=1.7)
S = RenderSettings(seed=3, frames=4, steps=10, decode_chunk_size=4)


@pytest.mark.parametrize("start, end, steps, expected", [
    (0.0, 1.0, 10, range(0, 10)), (0.3, 1.0, 10, range(5, 10)), (0.0, 0.3, 10, range(0, 5)),
    (0.3, 0.7, 10, range(5, 8)), (0.2, 0.25, 4, range(0)), (0.1, 0.9, 25, range(5, 24)), (0.7, 1.0, 3, range(2, 3)),
    (0.3, 1.0, 25, range(13, 25)),  # SVD's 25 steps: 0.3 is sigma 15.2, first reached at step 13 (sigma 15.59)
])
def test_the_window_of_steps(start, end, steps, expected):
    assert patched_steps(start, end, steps) == expected


def test_start_and_end_are_points_of_the_sampling_range_in_sigma_space():
    assert percent_to_sigma(0.3) == pytest.approx(15.2012, abs=1e-4)
    assert percent_to_sigma(0.5) == pytest.approx((0.002 * 700) ** 0.5)  # halfway in log sigma
    assert patched_steps(0.3, 1.0, 25, sigma_max=500.0) == range(12, 25)  # a checkpoint's own range moves it


def _comfyui_steps(start, end, steps):
    """The steps in which ComfyUI's sampler uses a conditioning limited to ``start_percent``..``end_percent``
    (its own code end to end: SVD's model sampling, the karras scheduler, the percent conversion and the
    test each model call makes)."""
    import comfy.model_sampling
    import comfy.samplers
    import comfy.supported_models

    sampling = comfy.model_sampling.ModelSamplingContinuousEDM(comfy.supported_models.SVD_img2vid)
    model = type("Model", (), {"model_sampling": sampling})()
    conds = [{"start_percent": start, "end_percent": end, "model_conds": {}, "uuid": None}]
    comfy.samplers.calculate_start_end_timesteps(model, conds)
    sigmas = comfy.samplers.calculate_sigmas(sampling, "karras", steps)[:-1]
    x = torch.zeros(1, 4, 2, 2)
    return [i for i, sigma in enumerate(sigmas) if comfy.samplers.get_area_and_mult(conds[0], x, sigma[None])]


@pytest.mark.parametrize("steps", [10, 25])
def test_comfyuis_percent_to_sigma_and_the_app_select_the_same_steps(steps, demo_model):
    from comfyui_harness import require_comfyui
    from svd_attention_lab.engine._sampling import patched_window

    require_comfyui()
    points = (0.0, 0.3, 0.5, 0.7, 1.0)
    for start in points:
        for end in points:
            if start < end:
                comfy = _comfyui_steps(start, end, steps)
                assert list(patched_steps(start, end, steps)) == comfy, (start, end)
                assert list(patched_window(demo_model, start, end, steps)) == comfy, (start, end)  # its scheduler


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
    """And, without augmentation, the stock pipeline given ComfyUI's initial noise (tests/test_seed_parity.py)."""
    s = S.replace(noise_aug_strength=0.0)
    scheduled = Previewer(demo_model).render(IMAGE, s.replace(start=0.0, end=1.0), M).patched
    width, height = s.resolved_size(demo_model)
    scale = demo_model.pipe.vae_scale_factor
    latents = torch.randn((1, s.frames, 4, height // scale, width // scale),
                          generator=torch.Generator().manual_seed(s.seed))
    with demo_model.patch.applied(M):  # the plain patch: applied for the whole call, as before schedules
        plain = demo_model.pipe(prepare_image(IMAGE, width, height), height=height, width=width,
                                num_frames=s.frames, num_inference_steps=s.steps, min_guidance_scale=s.min_guidance,
                                max_guidance_scale=s.max_guidance, fps=s.fps, motion_bucket_id=s.motion_bucket_id,
                                noise_aug_strength=s.noise_aug_strength, decode_chunk_size=s.decode_chunk_size,
                                latents=latents, output_type="np").frames[0]
    assert np.array_equal(scheduled, (np.clip(plain, 0, 1) * 255).round().astype(np.uint8))


def test_the_patch_switches_at_step_boundaries(demo_model, states_per_step):
    previewer = Previewer(demo_model)
    previewer.resume = False  # every step runs, so every step's state is seen
    previewer.render(IMAGE, S.replace(start=0.3, end=0.7), M)
    baseline, patched = states_per_step[:10], states_per_step[10:]
    assert baseline == [Multipliers()] * 10
    assert patched == [Multipliers()] * 5 + [M] * 3 + [Multipliers()] * 2  # sigma 26.8 to 0.43 of 700 to 0.002
    assert demo_model.patch.current == Multipliers()  # restored after the render


def test_a_later_start_resumes_from_the_baseline_bitwise_with_fewer_unet_calls(demo_model, states_per_step):
    previewer = Previewer(demo_model)
    previewer.render(IMAGE, S, Multipliers())  # the baseline, with its latents
    resumed = previewer.render(IMAGE, S.replace(start=0.4), M)
    assert resumed.baseline_cached and previewer.unet_calls == 4  # steps 6..9 only (sigma <= 4.76)
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
