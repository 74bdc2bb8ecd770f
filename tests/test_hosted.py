"""The app as a public host runs it: every request estimated and refused over the budget before it
starts, Stop ending even a long step within a block's time, and a Stop that is news, not an error."""

import threading
import time

import pytest
import torch
from gradio_client import handle_file

import app
from svd_attention_lab import engine, hosting, outputs
from app_server import connect, outputs_by_name
from svd_attention_lab.controls import Multipliers
from tiny_models import UnetCalls
from svd_attention_lab.ui._words import cost_line, over, refusal, work

EXAMPLE = "examples/shapes-2.png"
SLOW_STEP = {"width": 1024, "height": 576, "frames": 14, "steps": 2, "decode_chunk_size": 2}  # a step over 5 s here


def test_a_public_host_gets_a_budget_and_a_local_run_none():
    assert app.hosting_budget(False, None, env={"SPACE_ID": "someone/svd-lab"}) == hosting.DEFAULT_PUBLIC_BUDGET_S
    assert app.hosting_budget(True, None, env={}) == 60
    assert app.hosting_budget(True, 300.0, env={}) == 300
    assert app.hosting_budget(False, None, env={}) is None


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    from app_server import launch_app

    lab, demo, url = launch_app(str(tmp_path_factory.mktemp("outputs")),
                                budget_s=app.hosting_budget(False, None, env={"SPACE_ID": "x/y"}))
    lab.studio.previewer()  # loaded at start-up, as --preload does on a Space
    yield lab, url
    demo.close()


def test_an_over_budget_request_is_refused_before_it_starts(public):
    lab, url = public
    client = connect(url)
    calls = UnetCalls(lab.studio.model.get().pipe.unet)
    try:
        started = time.perf_counter()
        with pytest.raises(Exception) as refused:
            client.predict(image=handle_file(EXAMPLE), self_temporal=0.5, width=1024, height=576, frames=14,
                           steps=20, api_name="/preview")
        seconds = time.perf_counter() - started
    finally:
        calls.remove()
    message = str(refused.value)
    assert "Refused: 2 renders of 1024×576 × 14 frames × 20 steps ≈" in message
    assert "this Space allows 60 s per request: lower the size, frames or steps" in message
    assert seconds < 2.0 and calls.count == 0  # refused before any UNet call
    line = cost_line(lab.studio, engine.RenderSettings(width=1024, height=576, frames=14, steps=20).as_dict())
    line = line.replace("\\", "")  # escaped Markdown
    assert "2 renders of 1024×576 × 14 frames × 20 steps" in line and line.endswith("lower the size, frames or steps")


@pytest.mark.parametrize("seconds, shown, refused", [(59.2, "60 s", False), (60.0, "60 s", False),
                                                     (60.2, "61 s", True), (5400.0, "1.5 h", True)])
def test_the_cost_line_and_the_refusal_agree_at_the_limit(seconds, shown, refused):
    """A time shown as the limit is within it ("at the limit" is not "over the limit"); a sweep's cost
    says how many renders it is; a refusal and the cost line say the same words."""
    estimate = hosting.Estimate(seconds, (1024, 576), 14, 20, videos=15)
    assert work(estimate) == f"15 renders of 1024×576 × 14 frames × 20 steps ≈ {shown} here"
    assert over(estimate, 60.0) is refused
    if refused:
        assert refusal(hosting.OverBudget(estimate, 60.0)) == (
            f"Refused: {work(estimate)}; this Space allows 60 s per request: lower the size, frames or steps.")


def test_stop_inside_a_long_step_ends_the_render_within_two_seconds(tmp_path):
    studio = hosting.Studio(engine.ModelHolder(), outputs.OutputDir(str(tmp_path)))
    unet = studio.previewer().model.pipe.unet
    original = {k: v.clone() for k, v in unet.state_dict().items()}
    entered, stopped, errors = threading.Event(), [], []
    handle = unet.register_forward_pre_hook(lambda module, args: entered.set())

    def render():
        try:
            studio.preview(EXAMPLE, SLOW_STEP, Multipliers(self_temporal=0.3), key="slow")
        except engine.RenderCancelled as exc:
            stopped.append((time.perf_counter(), str(exc)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=render)
    worker.start()
    try:
        assert entered.wait(120), "the UNet never started"
        step_started = time.perf_counter()
        time.sleep(1.0)  # well inside the first step
        pressed = time.perf_counter()
        assert studio.cancel("slow")
        worker.join(60)
    finally:
        handle.remove()
    assert not errors and stopped, errors
    ended, message = stopped[0]
    assert ended - pressed < 2.0, f"stopped {ended - pressed:.1f} s after Stop"
    assert message == "render cancelled during step 1 of 2"
    assert pressed - step_started < 5.0  # the step was still running when Stop came
    assert all(torch.equal(v, original[k]) for k, v in unet.state_dict().items())


def test_stop_through_the_api_is_news_not_an_error(public):
    lab, url = public
    lab.studio.budget_s = None  # this render is meant to be long
    try:
        client = connect(url)
        calls = UnetCalls(lab.studio.model.get().pipe.unet)
        job = client.submit(image=handle_file(EXAMPLE), self_temporal=0.6, seed=11, api_name="/preview", **SLOW_STEP)
        deadline = time.time() + 120
        while calls.count < 1 and time.time() < deadline:
            time.sleep(0.05)
        calls.remove()
        said = client.predict(api_name="/cancel")  # same client, same session
        pressed = time.perf_counter()
        ended = job.result(timeout=60)  # no exception
        assert time.perf_counter() - pressed < 10  # the rest of its four slow steps would take over 15 s
        videos = {k: v for k, v in outputs_by_name(lab.demo, "/preview", ended).items() if k.endswith("video")}
        assert said == "Stopping…" and all(value == {"__type__": "update"} for value in videos.values()), videos
    finally:
        lab.studio.budget_s = hosting.DEFAULT_PUBLIC_BUDGET_S
