import json
import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from PIL import Image

from svd_attention_lab import engine, outputs, studies
from tiny_models import UnetCalls
from patcher import Multipliers
from svd_attention_lab.engine import (
    ModelLoadError,
    PreviewError,
    Previewer,
    RenderCancelled,
    RenderSettings,
    prepare_image,
    resolve_source,
)
from svd_attention_lab.outputs import Metrics, OutputDir, export_comparison, flicker, jitter
from svd_attention_lab.__main__ import main as preview_main

ROOT = Path(__file__).resolve().parents[1]
FAST = RenderSettings(seed=7, frames=4, steps=3, decode_chunk_size=4)


def read_mp4(path: Path) -> np.ndarray:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]
    return np.stack(frames)


def unet_state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.pipe.unet.state_dict().items()}


def test_same_seed_gives_bitwise_identical_baselines(demo_model, sample_image):
    previewer = Previewer(demo_model)
    first = previewer.render(sample_image, FAST, Multipliers()).baseline
    previewer.clear_cache()
    second = previewer.render(sample_image, FAST, Multipliers())
    assert not second.baseline_cached
    assert np.array_equal(first, second.baseline)
    other_seed = previewer.render(sample_image, FAST.replace(seed=8), Multipliers()).baseline
    assert not np.array_equal(first, other_seed)


def test_identity_patched_equals_baseline_exactly(demo_model, sample_image):
    previewer = Previewer(demo_model)
    comparison = previewer.render(sample_image, FAST, Multipliers())
    assert np.array_equal(comparison.patched, comparison.baseline)
    # and rendering through the patch with all-1.0 really gives the same frames
    prepared = np.asarray(prepare_image(sample_image, 64, 64))
    job = engine.RenderJob(previewer.model_id, prepared, FAST, (Multipliers(), Multipliers(self_temporal=1.0)))
    explicit = engine.render_frames(job)
    assert np.array_equal(explicit[0].frames, comparison.baseline) and np.array_equal(explicit[1].frames,
                                                                                      comparison.baseline)


@pytest.mark.parametrize("field", ["self_structural", "self_temporal", "cross_structural", "cross_temporal"])
def test_a_multiplier_changes_patched_and_not_baseline(demo_model, sample_image, field):
    previewer = Previewer(demo_model)
    reference = previewer.render(sample_image, FAST, Multipliers()).baseline
    previewer.clear_cache()
    comparison = previewer.render(sample_image, FAST, Multipliers(**{field: 0.0}))
    assert np.array_equal(comparison.baseline, reference)
    assert not np.array_equal(comparison.patched, comparison.baseline)


def test_changing_a_slider_runs_the_unet_only_for_the_patched_video(demo_model, sample_image, unet_calls):
    previewer = Previewer(demo_model)
    previewer.render(sample_image, FAST, Multipliers(self_temporal=0.5))
    assert unet_calls.count == 2 * FAST.steps  # baseline + patched (CFG is batched into one call)
    unet_calls.count = 0
    second = previewer.render(sample_image, FAST, Multipliers(self_temporal=1.5))
    assert second.baseline_cached and unet_calls.count == FAST.steps
    unet_calls.count = 0
    previewer.render(sample_image, FAST, Multipliers())
    assert unet_calls.count == 0  # identity reuses the cached baseline outright


def test_baseline_cache_is_bounded_and_keyed_by_settings(demo_model, sample_image, unet_calls):
    previewer = Previewer(demo_model, cache_size=2)
    for seed in (1, 2, 3):
        previewer.render(sample_image, FAST.replace(seed=seed, steps=1), Multipliers())
    assert unet_calls.count == 3 and len(previewer._cache) == 2
    previewer.render(sample_image, FAST.replace(seed=3, steps=1), Multipliers())
    assert unet_calls.count == 3
    previewer.render(sample_image, FAST.replace(seed=1, steps=1), Multipliers())  # evicted
    assert unet_calls.count == 4


@pytest.mark.parametrize("fail_at", [0, 2])
def test_an_exception_mid_render_leaves_the_unet_original(demo_model, sample_image, fail_at):
    previewer = Previewer(demo_model)
    original = unet_state(demo_model)
    m = Multipliers(self_temporal=0.0, cross_structural=2.0)
    expected = previewer.render(sample_image, FAST, m).patched
    previewer.clear_cache()
    calls = UnetCalls(demo_model.pipe.unet)

    def cancel_at_step() -> bool:  # polled between steps and inside them
        return calls.count > FAST.steps + fail_at  # the baseline completes, the patched render stops

    try:
        with pytest.raises(RenderCancelled):
            previewer.render(sample_image, FAST, m, cancel=cancel_at_step)
    finally:
        calls.remove()
    assert all(torch.equal(v, original[k]) for k, v in demo_model.pipe.unet.state_dict().items())
    again = previewer.render(sample_image, FAST, m)
    assert again.baseline_cached and np.array_equal(again.patched, expected)


def test_an_error_inside_the_unet_restores_it(demo_model, sample_image):
    previewer = Previewer(demo_model)
    original = unet_state(demo_model)

    def explode(module, args):
        raise RuntimeError("CUDA out of memory (simulated)")

    previewer.render(sample_image, FAST, Multipliers())  # cache the baseline
    handle = demo_model.pipe.unet.register_forward_pre_hook(explode)
    try:
        with pytest.raises(RuntimeError, match="simulated"):
            previewer.render(sample_image, FAST, Multipliers(cross_temporal=3.0))
    finally:
        handle.remove()
    assert all(torch.equal(v, original[k]) for k, v in demo_model.pipe.unet.state_dict().items())


def test_progress_reports_both_phases(demo_model, sample_image):
    seen = []
    Previewer(demo_model).render(sample_image, FAST, Multipliers(self_temporal=2.0),
                                 progress=lambda f, t: seen.append((f, t)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(t.startswith("baseline") for _, t in seen) and any(t.startswith("patched") for _, t in seen)


def test_exported_files_decode_with_the_right_shape(demo_model, sample_image, tmp_path):
    comparison = Previewer(demo_model).render(sample_image, FAST, Multipliers(self_temporal=0.0))
    artifacts = export_comparison(comparison, tmp_path)
    single = read_mp4(artifacts.baseline)
    pair = read_mp4(artifacts.side_by_side)
    assert single.shape[0] == pair.shape[0] == FAST.frames
    assert pair.shape[2] == 2 * single.shape[2]
    assert single.shape[1:3] == (256, 256)  # 64x64 upscaled x4 for display
    assert read_mp4(artifacts.difference).shape == single.shape
    with Image.open(artifacts.side_by_side_webp) as webp:
        assert webp.n_frames == FAST.frames and webp.size == (pair.shape[2], pair.shape[1])
    with Image.open(artifacts.contact_sheet) as sheet:
        assert sheet.format == "PNG" and sheet.width > sheet.height
    assert json.loads(artifacts.metrics_json.read_text())["summary"]["mean_change_vs_baseline"] > 0
    assert artifacts.metrics_csv.read_text().count("\n") == FAST.frames + 1
    # the decoded baseline matches the render (lossy H.264, so approximately)
    upscaled = comparison.baseline.repeat(4, axis=1).repeat(4, axis=2).astype(np.float32)
    assert np.abs(single.astype(np.float32) - upscaled).mean() < 4.0


def test_mp4_is_h264_yuv420p_with_faststart(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (3, 33, 45, 3), dtype=np.uint8)  # odd size
    path = outputs.write_mp4(frames, tmp_path / "odd.mp4", fps=7)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: index before media
    assert b"avc1" in data
    decoded = read_mp4(path)
    assert decoded.shape == (3, 34, 46, 3)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    assert meta["codec"].startswith("h264") and "yuv420p" in meta["pix_fmt"]


def test_metrics_shapes_and_zeros():
    rng = np.random.default_rng(0)
    still = np.repeat(rng.integers(0, 255, (1, 8, 8, 3), dtype=np.uint8), 5, axis=0)
    m = Metrics.compare(still, still)
    assert m.change_vs_baseline.shape == (5,) and m.baseline_temporal.shape == (4,) and m.patched_jitter.shape == (3,)
    assert not m.change_vs_baseline.any() and not m.baseline_temporal.any() and not m.patched_jitter.any()
    moving = still.copy()
    moving[2:] = 255 - moving[2:]
    m = Metrics.compare(still, moving)
    assert np.array_equal(m.change_vs_baseline[:2], [0, 0]) and m.change_vs_baseline[2] > 0
    assert m.patched_temporal[1] > 0 and m.patched_temporal[0] == 0 and m.patched_temporal[2] == 0
    assert m.summary()["baseline_temporal_change"] == 0
    assert not m.baseline_flicker.any() and m.patched_flicker.shape == (3,)
    rows = m.records()
    assert {r["series"] for r in rows} == {"change vs baseline", "baseline temporal change", "patched temporal change",
                                           "baseline motion (flow)", "patched motion (flow)"}
    assert len(rows) == 5 + 4 * 4


def test_flicker_ignores_motion_but_not_a_wobbling_brightness():
    frames = np.full((6, 16, 16, 3), 100, dtype=np.uint8)
    for t in range(6):  # a light square sliding right a pixel a frame, always inside the frame
        frames[t, 4:8, 2 + t:6 + t] = 200
    assert not flicker(frames).any() and jitter(frames).all()
    wobble = frames.copy()
    wobble[1::2] += 5  # every other frame 5 levels brighter
    assert np.allclose(flicker(wobble), 10.0)  # |m - 2 (m + 5) + m|


def test_prepare_image_converts_and_crops():
    rgba = Image.new("RGBA", (200, 100), (255, 0, 0, 0))
    out = prepare_image(rgba, 64, 64)
    assert out.mode == "RGB" and out.size == (64, 64)
    assert out.getpixel((32, 32)) == (255, 255, 255)  # transparent composited on white
    grey = prepare_image(Image.new("L", (50, 300), 128), 128, 64)
    assert grey.mode == "RGB" and grey.size == (128, 64) and grey.getpixel((5, 5)) == (128, 128, 128)


def test_huge_images_are_refused_before_decoding(tmp_path):
    big = tmp_path / "big.png"
    Image.new("L", (8000, 6000)).save(big)
    with pytest.raises(PreviewError, match="megapixels"):
        prepare_image(str(big), 64, 64)
    with pytest.raises(PreviewError, match="cannot read the image"):
        (tmp_path / "x.png").write_text("not an image")
        prepare_image(str(tmp_path / "x.png"), 64, 64)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"frames": 1}, "frames must be between 2 and 50"),
        ({"steps": 0}, "steps must be between 1 and 100"),
        ({"seed": -1}, "seed must be between"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"noise_aug_strength": float("nan")}, "noise_aug_strength must be a finite number"),
        ({"fps": "7"}, "fps must be a number, got .7.$"),
        ({"min_guidance": 5.0, "max_guidance": 2.0}, "min_guidance .* must not exceed max_guidance"),
        ({"width": 4096}, "width must be between 0 and 2048"),
    ],
)
def test_render_settings_reject_bad_values(changes, message):
    with pytest.raises(PreviewError, match=message):
        RenderSettings(**changes)


def test_sizes_snap_to_multiples_of_64(demo_model):
    assert RenderSettings().resolved_size(demo_model) == (64, 64)
    assert RenderSettings(width=500, height=290).resolved_size(demo_model) == (512, 320)
    assert RenderSettings(width=10, height=10).resolved_size(demo_model) == (64, 64)


def test_sweep_renders_the_baseline_once(demo_model, sample_image, unet_calls):
    previewer = Previewer(demo_model)
    result = studies.sweep(previewer, sample_image, FAST, "self_temporal", [0.0, 1.0, 2.0])
    assert unet_calls.count == FAST.steps * 3  # baseline + two non-identity values
    grid = result.grid()
    assert grid.shape[0] == FAST.frames and grid.shape[2] == 3 * 256
    table = result.table()
    assert [row["self_temporal"] for row in table] == [0.0, 1.0, 2.0]
    assert table[1]["mean_change_vs_baseline"] == 0 and table[0]["mean_change_vs_baseline"] > 0
    with pytest.raises(PreviewError, match="cannot sweep"):
        studies.parse_sweep("self_temporl=0,1")
    with pytest.raises(ValueError, match="between 0.0 and 10.0"):
        studies.parse_sweep("cross_temporal=0,11")
    assert studies.parse_sweep("cross-temporal=0, 0.5") == ("cross_temporal", [0.0, 0.5])


def test_output_dir_cleans_up_old_batches(tmp_path):
    out = OutputDir(tmp_path, max_age_s=60)
    old = out.new_batch()
    (old / "a.mp4").write_bytes(b"x")
    import os
    os.utime(old, (0, 0))
    fresh = out.new_batch()
    assert not old.exists() and fresh.exists() and fresh != old


def test_model_sources_fail_with_clear_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(engine.MODEL_ENV, raising=False)
    assert resolve_source(None).is_demo and resolve_source("").is_demo and resolve_source("demo").is_demo
    assert resolve_source(None).location == str(engine.DEMO_MODEL_DIR)
    with pytest.raises(ModelLoadError, match="neither an existing folder nor a Hub id"):
        resolve_source(str(tmp_path / "missing"))
    weights = tmp_path / "svd.safetensors"
    weights.write_bytes(b"")
    assert resolve_source(str(weights)).kind == "file"
    with pytest.raises(ModelLoadError, match="svd.safetensors is not a valid .safetensors file: header too small"):
        engine.load_model(str(weights), device="cpu")
    other = tmp_path / "other"
    other.mkdir()
    (other / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ModelLoadError, match="not a StableVideoDiffusionPipeline"):
        engine.load_model(str(other), device="cpu")
    with pytest.raises(ModelLoadError, match="not a diffusers pipeline folder"):
        engine.load_model(str(tmp_path), device="cpu")
    with pytest.raises(ModelLoadError, match="not in the local cache|Hub is unreachable"):
        engine.load_model("someone/not-cached-svd", device="cpu")


def test_model_source_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(engine.MODEL_ENV, "stabilityai/stable-video-diffusion-img2vid-xt")
    assert resolve_source() == engine.ModelSource("hub", "stabilityai/stable-video-diffusion-img2vid-xt")
    monkeypatch.setenv(engine.MODEL_ENV, "")
    assert resolve_source().is_demo


def test_a_diffusers_folder_loads(tmp_path, demo_model):
    demo_model.pipe.save_pretrained(tmp_path / "copy", safe_serialization=True)
    model = engine.load_model(str(tmp_path / "copy"), device="cpu")
    assert model.source.kind == "folder" and model.patch.summary()["total"]["tensors"] > 0
    assert model.native_size == (64, 64)


def test_cli_renders_offline(tmp_path, sample_image, capsys):
    image = tmp_path / "in.png"
    sample_image.save(image)
    out, metrics = tmp_path / "compare.mp4", tmp_path / "m.json"
    args = ["--image", str(image), "--out", str(out), "--self-temporal", "0.5", "--frames", "4", "--steps", "2",
            "--metrics", str(metrics)]
    done = subprocess.run([sys.executable, "-m", "svd_attention_lab", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert read_mp4(out).shape[0] == 4
    assert json.loads(metrics.read_text())["summary"]["mean_change_vs_baseline"] > 0
    assert preview_main(args) == 2 and "already exists" in capsys.readouterr().err

    grid = tmp_path / "sweep.mp4"
    code = preview_main(["--image", str(image), "--out", str(grid), "--frames", "3", "--steps", "1",
                         "--sweep", "self_temporal=0,1"])
    assert code == 0, capsys.readouterr().err
    assert read_mp4(grid).shape[2] == 2 * 256


def test_progress_names_the_video_and_step_and_the_live_strip_changes_while_it_samples(demo_model, sample_image):
    """Each step reports "patched · step k of n" and a strip of its denoised estimate (latents to RGB by a
    linear fit to the model's VAE, no decode); the strips change as the video takes shape."""
    texts, strips = [], []
    settings = RenderSettings(seed=3, frames=4, steps=10, decode_chunk_size=4)
    comparison = Previewer(demo_model).render(sample_image, settings, Multipliers(self_temporal=0.0),
                                              progress=lambda f, t: texts.append(t),
                                              live=lambda image, text: strips.append((image, text)))
    assert "baseline · step 1 of 10" in texts and "patched · step 3 of 10" in texts
    assert [t for _, t in strips] == [f"{v} · step {k} of 10" for v in ("baseline", "patched") for k in range(1, 11)]
    height, width = comparison.patched.shape[1:3]
    f = 2 ** (len(demo_model.pipe.vae.config.block_out_channels) - 1)  # the VAE's downscaling: one pixel per latent
    assert all(s.dtype == np.uint8 and s.shape == (height // f, 4 * width // f, 3) for s, _ in strips)
    patched = [s for s, t in strips if t.startswith("patched")]
    assert len({s.tobytes() for s in patched}) == 10  # a new picture every step
    # the last step's estimate is the final latents: its strip resembles the decoded frames more than the first's
    decoded = np.concatenate(list(comparison.patched), axis=1)[f // 2::f, f // 2::f].astype(float)
    error = [np.abs(s.astype(float) - decoded).mean() for s in (patched[0], patched[-1])]
    assert error[1] < error[0]
