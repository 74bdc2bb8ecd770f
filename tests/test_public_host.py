"""A public host's guarantees under hostile sequences: the budget cannot be talked down, one visitor cannot
fill the line, the showcase cache is bounded, and an output folder anywhere is served."""

from svd_attention_lab.hosting._zerogpu import estimate_gpu_seconds
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from gradio_client import handle_file

from svd_attention_lab import engine
from app_server import connect, launch_app
from svd_attention_lab.controls import Multipliers
from svd_attention_lab.engine import ModelHolder, PreviewError, RenderCancelled, RenderSettings
from svd_attention_lab.hosting import Studio
from svd_attention_lab.outputs import OutputDir
from svd_attention_lab.hosting import QueueFull
from svd_attention_lab.hosting._gate import Gate
from svd_attention_lab.hosting._studio import SHOWCASES_KEPT

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "shapes-1.png")
M = Multipliers(self_temporal=0.5)
QUICK = {"frames": 2, "steps": 2, "decode_chunk_size": 2}


def test_cheap_resumed_renders_cannot_talk_the_budget_down(tmp_path):
    studio = Studio(ModelHolder("demo"), OutputDir(tmp_path), budget_s=60)
    big = {"frames": 50, "steps": 100}  # 64×64 × 50 frames × 100 steps: far over a minute on this CPU
    studio.previewer()
    first = studio.estimate(big).seconds
    with pytest.raises(PreviewError, match="this Space allows 1 min per request|this Space allows 60 s"):
        studio.preview(EXAMPLE, big, M)
    studio.preview(EXAMPLE, {}, M)  # a complete render: the baseline is cached from here on
    for _ in range(3):  # each resumes from the cached baseline's last step: a sliver of a render
        outcome = studio.preview(EXAMPLE, {"start": 0.9}, M)
        assert outcome.comparison.baseline_cached and not outcome.comparison.complete
    with pytest.raises(PreviewError, match="this Space allows"):
        studio.preview(EXAMPLE, big, M)
    assert studio.estimate(big).seconds > 0.5 * first  # moved by complete renders only


def test_the_gpu_time_zerogpu_is_asked_for_is_the_pages_cost_model():
    from svd_attention_lab.hosting import CostModel

    job = engine.RenderJob(0, __import__("numpy").zeros((576, 1024, 3), "uint8"), RenderSettings(frames=14, steps=10),
                            (Multipliers(), M))
    cost = CostModel("cuda", 0, "NVIDIA H200").work_seconds((1024, 576), 14, 10, 2)
    assert estimate_gpu_seconds(job, device_name="NVIDIA H200") == round(10 + 1.5 * cost)
    double = CostModel("cuda", 0, "NVIDIA H200").work_seconds((2048, 1152), 14, 10, 2)
    assert double >= 16 * cost  # four times the pixels: the quadratic bound above SVD's native size


def test_the_showcase_cache_keeps_the_most_recent(tmp_path):
    studio = Studio(ModelHolder("demo"), OutputDir(tmp_path))
    for seed in range(SHOWCASES_KEPT + 3):
        studio.showcase(EXAMPLE, M, RenderSettings(seed=seed, **QUICK))
    assert len(studio._showcase) == SHOWCASES_KEPT
    assert [key[1].seed for key in studio._showcase] == list(range(3, SHOWCASES_KEPT + 3))


def test_the_gate_gives_each_visitor_a_share_and_keeps_arrival_order():
    gate, order, release = Gate(per_session=2), [], threading.Event()

    def visit(session, name, hold=False):
        with gate.turn(session):
            order.append(name)
            if hold:
                release.wait(10)

    first = threading.Thread(target=visit, args=("a", "a1", True))
    first.start()
    while gate.waiting() == 0 and not order:
        time.sleep(0.001)
    second = threading.Thread(target=visit, args=("a", "a2"))
    second.start()
    while gate.waiting() < 1:
        time.sleep(0.001)
    with pytest.raises(QueueFull, match="at most 2 per visitor"):
        with gate.turn("a"):
            pass
    other = threading.Thread(target=visit, args=("b", "b1"))
    other.start()
    while gate.waiting() < 2:
        time.sleep(0.001)
    with pytest.raises(RenderCancelled, match="withdrawn before it started"):
        with gate.turn("c", withdrawn=lambda: True):
            pass
    release.set()
    for thread in (first, second, other):
        thread.join(10)
    assert order == ["a1", "a2", "b1"] and gate.waiting() == 0


@pytest.fixture(scope="module")
def outside_temp():
    """An output folder outside the working and temporary folders (Gradio serves neither by default)."""
    folder = Path(tempfile.mkdtemp(prefix="svd-lab-outputs-", dir=Path.home()))
    assert not folder.is_relative_to(tempfile.gettempdir()) and not folder.is_relative_to(Path.cwd())
    lab, demo, url = launch_app(str(folder))
    lab.studio.previewer()
    yield lab, url
    demo.close()
    shutil.rmtree(folder, ignore_errors=True)


def test_an_output_folder_outside_the_temporary_folder_is_served(outside_temp):
    lab, url = outside_temp
    side_by_side, *_ = connect(url).predict(image=handle_file(EXAMPLE), self_temporal=0.5, api_name="/preview", **QUICK)
    assert Path(side_by_side["video"] if isinstance(side_by_side, dict) else side_by_side).stat().st_size > 0


def test_one_visitor_cannot_fill_the_line(outside_temp):
    lab, url = outside_temp
    greedy, other = connect(url), connect(url)
    burst = [greedy.submit(image=handle_file(EXAMPLE), self_temporal=0.1 + i / 20, api_name="/preview", **QUICK)
             for i in range(18)]
    fair = other.submit(image=handle_file(EXAMPLE), self_temporal=0.9, api_name="/preview", **QUICK)
    side_by_side, *_ = fair.result(timeout=300)
    assert side_by_side  # the second visitor's request was accepted and rendered
    refused = 0
    for job in burst:
        try:
            job.result(timeout=300)
        except Exception as exc:
            assert "at most 2 per visitor" in str(exc)
            refused += 1
    assert refused >= 1


def test_the_cost_model_leaves_out_the_first_render_and_one_slow_one():
    """The estimate follows what renders take here: not the first render's one-time costs, and not one
    render slowed by something else on the machine (the median of the recent ones)."""
    from svd_attention_lab.hosting import CostModel

    cost = CostModel("cpu", 0)
    work = ((64, 64), 8, 10, 2)
    predicted = cost.work_seconds(*work)
    cost.record(*work, seconds=10 * predicted)  # the first render: warming up
    assert cost.calibration == 1.0
    for ratio in (1.0, 1.2, 9.0, 1.1):  # one slowed by a neighbour
        cost.record(*work, seconds=ratio * predicted)
    assert cost.calibration == pytest.approx(1.15)
    assert cost.predict(*work).seconds == pytest.approx(predicted * 1.15 * cost.margin)
    for _ in range(8):  # the machine is slower now: the estimate follows
        cost.record(*work, seconds=3 * predicted)
    assert cost.calibration == pytest.approx(3.0)


def test_before_loading_the_badge_names_the_demo_model_not_a_server_folder(tmp_path):
    studio = Studio(ModelHolder("demo"), OutputDir(tmp_path))
    assert studio.badge() == "**Model:** not loaded yet · the embedded demo model loads with the first render"
