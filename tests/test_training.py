"""The demo model's training script runs end to end (a few steps) and writes a loadable pipeline."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from svd_attention_lab import engine
from svd_attention_lab.demo_model import train as train_demo
from svd_attention_lab.demo_model.synthetic import held_out_clips, held_out_images, make_batch, make_video, motion_speed


def test_generated_videos_move_faster_with_higher_buckets():
    videos, buckets = make_batch(np.random.default_rng(1), 6)
    assert videos.shape == (6, 8, 64, 64, 3) and videos.dtype == np.uint8
    assert ((0 <= buckets) & (buckets <= 255)).all()
    assert motion_speed(0) == 0 and motion_speed(255) > motion_speed(127) > 0
    assert np.array_equal(make_batch(np.random.default_rng(1), 6)[0], videos)  # seeded
    a = make_video(np.random.default_rng(5), 0.0)
    b = make_video(np.random.default_rng(5), 255.0)
    still = np.abs(np.diff(a.astype(np.float32), axis=0)).mean()
    fast = np.abs(np.diff(b.astype(np.float32), axis=0)).mean()
    assert still < 0.5 < fast


def test_held_out_images_are_the_first_frames_of_their_true_clips():
    images = held_out_images(3)
    for bucket in (0, 255):
        clips = held_out_clips(3, bucket)
        assert all(np.array_equal(np.asarray(image), clip[0]) for image, clip in zip(images, clips))
    slow, fast = held_out_clips(3, 20), held_out_clips(3, 255)
    def first_to_last(clip):
        return np.abs(clip[-1].astype(np.float32) - clip[0]).mean()

    assert first_to_last(fast[0]) > first_to_last(slow[0])


def test_motion_follows_fixed_rules_so_a_first_frame_fixes_its_clip():
    # everything random is drawn for the first frame: how many frames follow, and how fast, draws nothing
    states = []
    for frames, bucket in ((1, 0.0), (8, 255.0)):
        rng = np.random.default_rng(9)
        make_video(rng, bucket, frames=frames)
        states.append(rng.bit_generator.state)
    assert states[0] == states[1]


TINY = ["--vae-steps", "2", "--vae-video-steps", "1", "--unet-steps", "2", "--batch", "1", "--log-every", "1",
        "--threads", "1"]


def decoder_weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "vae" / "diffusion_pytorch_model.safetensors"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A pipeline trained a few steps, with two decoder stages, the second with latent noise."""
    out = tmp_path_factory.mktemp("training") / "model"
    args = ["--out", str(out), *TINY, "--decoder-steps", "1", "2", "--decoder-lr", "1e-3", "1e-3", "--latent-noise",
            "0", "0.1"]
    assert train_demo.main(args) == 0
    return out


def test_training_runs_and_writes_a_pipeline(trained, tmp_path):
    report = json.loads((trained / "training_report.json").read_text())
    assert len(report["vae"]["curve"]) == 3 and len(report["unet"]["curve"]) == 2
    assert report["decoder"]["run"] == report["decoder_2"]["run"] == "with the stages above"
    assert report["decoder_2"]["latent_noise"] == 0.1 and len(report["decoder_2"]["curve"]) == 2
    model = engine.load_model(str(trained), device="cpu")
    assert model.patch.summary()["total"]["tensors"] == 56

    out = shutil.copytree(trained, tmp_path / "model")
    assert train_demo.main(["--decoder-only", str(out), "--out", str(out), "--decoder-steps", "1",
                            "--decoder-lr", "1e-3", "--latent-noise", "0", "--threads", "1"]) == 0
    report = json.loads((out / "training_report.json").read_text())
    assert report["decoder_3"]["run"] == "separately, with --decoder-only" and "unet" in report
    assert report["decoder"]["run"] == "with the stages above"  # the earlier stages are kept


def test_a_decoder_stage_run_separately_trains_the_same_weights(trained, tmp_path):
    two = tmp_path / "two"
    assert train_demo.main(["--out", str(two), *TINY, "--decoder-steps", "1", "--decoder-lr", "1e-3",
                            "--latent-noise", "0"]) == 0
    assert train_demo.main(["--decoder-only", str(two), "--out", str(two), "--log-every", "1", "--threads", "1",
                            "--decoder-steps", "2", "--decoder-lr", "1e-3", "--latent-noise", "0.1"]) == 0
    one, two = decoder_weights(trained), decoder_weights(two)
    assert one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


def test_decoder_stage_options_need_one_value_per_stage(capsys):
    with pytest.raises(SystemExit):
        train_demo.main(["--decoder-steps", "10", "20", "--decoder-lr", "1e-3"])
    assert "one value per decoder stage" in capsys.readouterr().err


def test_latent_noise_differs_from_frame_to_frame():
    latents = torch.zeros(8, 4, 16, 16)
    noisy = train_demo.perturb_latents(latents, 0.1, torch.Generator().manual_seed(0))
    means = noisy.mean(dim=(2, 3))  # per frame and channel
    assert (means.std(dim=0) > 0.01).all() and noisy.std() == pytest.approx(0.1 * (1 + 0.25) ** 0.5, rel=0.1)
