"""The app under ZeroGPU's process model (a fork per GPU call), and the GPU time it asks for."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client import handle_file

from svd_attention_lab import engine, hosting
from app_server import connect, launch_app
from svd_attention_lab.controls import Multipliers
from svd_attention_lab.engine import RenderJob, RenderSettings
from svd_attention_lab.hosting._budget import step_seconds
from svd_attention_lab.hosting._zerogpu import (
    STARTUP_SECONDS,
    ZEROGPU_MAX_SECONDS,
    estimate_gpu_seconds,
    gpu_render_frames,
)
from zerogpu_double import ForkPerCall

ROOT = Path(__file__).resolve().parents[1]
FAST = {"frames": 4, "steps": 3, "decode_chunk_size": 4}


def unet_digest(unet: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in unet.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def probe(args):
    """In the child: the UNet as the call finds it, its forward calls, and any model load."""
    job = args[0]
    model = engine.registered_model(job.model_id)
    if model is None:  # a job for a model that was never loaded: nothing to watch
        return lambda: {}
    before = unet_digest(model.pipe.unet)
    calls = {"unet": 0, "loads": 0}
    def count(module, args):  # real forwards only: a resumed render's skipped steps swap the forward out
        calls["unet"] += "forward" not in module.__dict__

    model.pipe.unet.register_forward_pre_hook(count)
    real_load = engine._loading.load_model

    def counting_load(*a, **k):
        calls["loads"] += 1
        return real_load(*a, **k)

    engine._loading.load_model = counting_load
    return lambda: {"unet_at_start": before, "unet_calls": calls["unet"], "loads": calls["loads"]}


@pytest.fixture(scope="module")
def zerogpu_app(tmp_path_factory):
    loads = []
    real_load = engine._loading.load_model
    engine._loading.load_model = lambda *a, **k: loads.append(1) or real_load(*a, **k)
    double = ForkPerCall(engine.render_frames, probe)
    lab, demo, url = launch_app(str(tmp_path_factory.mktemp("outputs")), gpu=double)
    yield lab, url, double, loads
    demo.close()
    engine._loading.load_model = real_load


def test_under_a_fork_per_call_the_app_keeps_its_promises(zerogpu_app):
    lab, url, double, loads = zerogpu_app
    client = connect(url)
    image = handle_file(str(ROOT / "examples" / "shapes-3.png"))
    first = client.predict(image=image, self_temporal=0.5, seed=3, **FAST, api_name="/preview")
    original = unet_digest(lab.studio.model.get().pipe.unet)
    second = client.predict(image=image, self_temporal=1.5, seed=3, **FAST, api_name="/preview")
    third = client.predict(image=image, self_temporal=0.5, seed=3, **FAST, api_name="/preview")

    assert len(double.reports) == 3 and len({r["pid"] for r in double.reports}) == 3  # a new process each call
    # the model was loaded once, in the app's process, before the first GPU call; never in a worker
    assert len(loads) == 1 and all(r["loads"] == 0 for r in double.reports)
    # the first preview renders baseline and patched in one GPU call; a slider change, one render
    steps = FAST["steps"]
    assert [r["unet_calls"] for r in double.reports] == [2 * steps, steps, steps]
    # every call finds the UNet bitwise original, and the app's own copy never changed
    assert {r["unet_at_start"] for r in double.reports} == {original}
    assert unet_digest(lab.studio.model.get().pipe.unet) == original
    # the baseline cache lives in the app's process, so renders repeat exactly
    assert "cached baseline" in second[6] and "cached baseline" in third[6]
    from test_preview import read_mp4

    assert np.array_equal(read_mp4(first[2]), read_mp4(third[2]))
    assert not np.array_equal(read_mp4(first[2]), read_mp4(second[2]))

    # a schedule starting half-way resumes from the cached baseline's latents, sent into the worker
    client.predict(image=image, self_temporal=0.5, seed=3, start=0.5, **FAST, api_name="/preview")
    assert double.reports[-1]["unet_calls"] == steps - math.ceil(steps / 2)


def test_the_pages_streaming_preview_under_a_fork_yields_only_the_results(zerogpu_app):
    from svd_attention_lab import ui
    from svd_attention_lab.controls import SETTINGS

    page, _, double, _ = zerogpu_app
    image = str(ROOT / "examples" / "shapes-3.png")
    settings = page.studio.default_settings().replace(seed=4, **FAST)
    numbers = [1.0, 0.7, 1.0, 1.0, *(1.0,) * 12, *(getattr(settings, s.name) for s in SETTINGS)]
    calls = len(double.reports)
    updates = list(ui.Compare(page).stream(None, page.initial(), {}, image, *numbers, False))
    assert len(double.reports) == calls + 1  # one GPU call
    live = page.c["live"]
    assert not any("<img" in str(u.get(live, "")) for u in updates)  # no live strips can come back from the worker
    last = updates[-1]
    assert any(str(v).endswith("side_by_side.mp4") for v in last.values())  # the results, once
    assert last[live] == {"__type__": "update", "visible": False}


def test_errors_in_the_worker_come_back_as_messages(zerogpu_app):
    lab, url, double, _ = zerogpu_app
    client = connect(url)
    with pytest.raises(Exception, match="not an image Pillow can read"):  # refused in the app process, before the GPU
        client.predict(image=handle_file(str(ROOT / "README.md")), api_name="/preview")
    job = RenderJob(12345, np.zeros((64, 64, 3), np.uint8), RenderSettings(**FAST), (Multipliers(),))
    with pytest.raises(engine.PreviewError, match="not loaded before the GPU call"):
        double(job)


# --- the GPU time requested ------------------------------------------------------------------------


def job(frames=14, steps=25, width=1024, height=576, videos=2) -> RenderJob:
    settings = RenderSettings(frames=frames, steps=steps, width=width, height=height, decode_chunk_size=8)
    return RenderJob(0, np.zeros((height, width, 3), np.uint8), settings, (Multipliers(),) * videos)


@pytest.mark.parametrize("device", ["NVIDIA H200 MIG 3g.71gb", "NVIDIA A100-SXM4-80GB", "NVIDIA A10G", "Tesla T4"])
def test_duration_grows_with_the_work_and_never_passes_zerogpus_maximum(device):
    # sizes whose estimates stay under the cap on every listed GPU, so the ordering is always checked
    small = estimate_gpu_seconds(job(frames=8, steps=10, width=512, height=320, videos=1), device_name=device)
    one = estimate_gpu_seconds(job(frames=8, steps=10, videos=1), device_name=device)
    two = estimate_gpu_seconds(job(frames=8, steps=10, videos=2), device_name=device)
    assert STARTUP_SECONDS < small < one < two < ZEROGPU_MAX_SECONDS
    assert estimate_gpu_seconds(job(videos=2), device_name=device) <= ZEROGPU_MAX_SECONDS
    assert estimate_gpu_seconds(job(frames=50, steps=100, width=2048, height=2048), device_name=device) == 300


def test_duration_is_the_table_times_the_work_with_a_safety_factor():
    seconds = estimate_gpu_seconds(job(videos=1), device_name="NVIDIA A100-SXM4-80GB")
    # native size and frames: 25 steps x 0.85 s + 14 frames x 0.15 s decode, x1.5, + 10 s start-up
    assert seconds == round(10 + 1.5 * (25 * 0.85 + 14 * 0.15))
    assert step_seconds("NVIDIA H200 MIG 3g.71gb") > step_seconds("NVIDIA H200")


def test_off_spaces_the_real_spaces_decorator_is_a_pass_through():
    import spaces

    assert not hosting.on_zerogpu()
    assert gpu_render_frames is engine.render_frames
    assert spaces.GPU(duration=estimate_gpu_seconds)(engine.render_frames) is engine.render_frames


def test_the_duration_takes_every_call_the_gpu_function_takes():
    """spaces.GPU calls ``duration(*args, **kwargs)`` with the GPU function's own arguments. (Its ZeroGPU
    mode needs a CUDA build of torch, so the call itself is checked on a GPU host, not here.)"""
    import inspect

    example = job(videos=1)
    for args, kwargs in [((example,), {}), ((example, None, None), {}),
                         ((example,), {"progress": None, "cancel": None})]:
        inspect.signature(engine.render_frames).bind(*args, **kwargs)
        assert estimate_gpu_seconds(*args, **kwargs) == estimate_gpu_seconds(example)
