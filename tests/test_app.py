import json
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pandas as pd
import pytest
import torch
from gradio_client import handle_file
from PIL import Image

import app
from svd_attention_lab import engine, hosting, outputs
from svd_attention_lab.controls import SETTINGS
from app_server import connect
from test_preview import read_mp4
from app_server import outputs_by_name
from svd_attention_lab.ui._page import frame_plot
from svd_attention_lab.ui._studies import sweep_plot
from presets._comfyui import CHECKPOINT_PLACEHOLDER

FAST = {"frames": 4, "steps": 2, "decode_chunk_size": 4}
SETTING_NAMES = [s.name for s in SETTINGS]


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "in.png"
    Image.open("examples/shapes-2.png").save(path)
    return str(path)


def preview_call(client, image, seed=5, **multipliers):
    values = {"self_structural": 1.0, "self_temporal": 1.0, "cross_structural": 1.0, "cross_temporal": 1.0,
              **multipliers}
    return client.predict(image=handle_file(image), seed=seed, **values, **FAST, api_name="/preview")


def call(server, client, api_name: str, *args, **kwargs) -> dict:
    """An endpoint's outputs by their components' names (elem_id, else label)."""
    return outputs_by_name(server[0].demo, api_name, client.predict(*args, api_name=api_name, **kwargs))


def unet_snapshot(lab):
    return {k: v.clone() for k, v in lab.studio.model.get().pipe.unet.state_dict().items()}


def assert_unet_equal(lab, snapshot):
    state = lab.studio.model.get().pipe.unet.state_dict()
    assert all(torch.equal(v, snapshot[k]) for k, v in state.items())


def test_preload_puts_the_showcase_into_the_page_and_the_load_event_then_renders_nothing(tmp_path):
    demo = app.build_demo(hosting.Studio(engine.ModelHolder(), outputs.OutputDir(str(tmp_path))))
    page = demo.lab_page
    c = page.c
    plain = page.open_page(None, page.initial(), {})  # a plain `python app.py`: the load event renders it
    assert plain[c["image"]] == next(iter(page.examples.values()))
    assert plain[c["videos"][0]].endswith("side_by_side.mp4")
    assert plain[c["state"]].shown == plain[c["state"]].controls  # what is shown is what the controls hold
    app.preload(demo)
    again = page.open_page(None, c["state"].value, {})
    assert c["videos"][0] not in again and c["image"] not in again  # the page already holds it
    shown = {c["props"].get("elem_id"): c["props"].get("value") for c in demo.get_config_file()["components"]}
    assert shown["slider-self_temporal"] == 0.0 and "Temporal self" in shown["showing"]
    assert shown["side-by-side"]["path"].endswith("side_by_side.mp4") and Path(shown["side-by-side"]["path"]).is_file()
    assert shown["seed-used"] == page.studio.default_settings().seed
    assert json.loads(shown["display-state"])["preset"] == "Temporal self-attention off (diagnostic)"


def test_preview_by_named_parameters_returns_a_side_by_side_mp4(server, client, image_file):
    result = outputs_by_name(server[0].demo, "/preview", preview_call(client, image_file, self_temporal=0.0))
    side_by_side, baseline = read_mp4(result["side-by-side"]), read_mp4(result["baseline-video"])
    assert side_by_side.shape[0] == baseline.shape[0] == FAST["frames"]
    assert side_by_side.shape[2] == 2 * baseline.shape[2]
    assert result["seed-used"] == 5
    assert "self_temporal | 0.00 | 14 |" in result["patch-summary"]
    metrics = json.loads(open(next(p for p in result["downloads"] if p.endswith(".json"))).read())
    assert metrics["summary"]["mean_change_vs_baseline"] > 0


def test_the_pages_preview_streams_its_frames_then_the_results_and_the_state_follows(server, image_file):
    page, _ = server
    c = page.c
    compare = page.demo.compare
    display = page.initial()
    numbers = [*(1.0, 0.6, 1.0, 1.0), *(1.0,) * 12,
               *({**page.studio.default_settings().as_dict(), **FAST, "steps": 6, "seed": 8}[s] for s in SETTING_NAMES)]
    updates = list(compare.preview_page(None, display, {}, {"path": image_file}, *numbers, False))
    live = [u[c["live"]] for u in updates if c["live"] in u]
    strips = [html for html in live if isinstance(html, str) and "<img" in html]
    assert 2 <= len(strips) <= 12 and "baseline · step" in strips[0]  # the baseline is not cached yet
    assert "patched · step" in strips[-1] and strips[-1].count("<img") == FAST["frames"]
    assert all(c["videos"][0] not in u for u in updates[:-1])  # the results wait for the end
    last = updates[-1]
    assert last[c["videos"][0]].endswith("side_by_side.mp4") and last[c["live"]]["visible"] is False
    state = last[c["state"]]
    assert state.shown == state.controls and state.shown.multipliers.self_temporal == 0.6 and not state.stale
    assert state.model and page.studio.model.loaded.describe() in last[c["badge"]]
    assert list(compare.preview_auto(None, display, {}, {"path": image_file}, *numbers, False, False)) == [gr.skip()]


def upload(url: str, path: str) -> dict:
    with httpx.Client(base_url=url, timeout=60) as http, open(path, "rb") as f:
        response = http.post("gradio_api/upload", files={"files": (path.rsplit("/", 1)[-1], f)})
        response.raise_for_status()
        return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}}


def call_raw(url: str, api: str, data: list) -> str:
    """Call an endpoint with raw JSON (gradio_client cannot send NaN) and return the SSE text."""
    with httpx.Client(base_url=url, timeout=120) as http:
        posted = http.post(f"gradio_api/call{api}", content=json.dumps({"data": data}),
                           headers={"content-type": "application/json"})
        posted.raise_for_status()
        return http.get(f"gradio_api/call{api}/{posted.json()['event_id']}").text


def test_bad_requests_fail_clearly_and_the_next_one_works(server, client, image_file, tmp_path):
    lab, url = server
    reference = preview_call(client, image_file, seed=9, cross_temporal=1.5)
    snapshot = unet_snapshot(lab)

    with pytest.raises(Exception, match="self_temporal must be between 0.0 and 10.0, got 10.5"):
        preview_call(client, image_file, self_temporal=10.5)
    with pytest.raises(Exception, match="cross_structural must be between 0.0 and 10.0, got -1"):
        preview_call(client, image_file, cross_structural=-1)

    image_payload = upload(url, image_file)
    regions = [1.0] * 12  # the per-region factors, after the four sliders
    sse = call_raw(url, "/preview", [image_payload, 1.0, float("nan"), 1.0, 1.0, *regions,
                                     5, 8, 2, 0, 0, 7, 127, 0.02, 1.0, 3.0, 0.0, 1.0, 8, False])
    assert "event: error" in sse and "self_temporal must be a finite number" in sse

    not_image = tmp_path / "notes.png"
    not_image.write_text("this is not an image")
    with pytest.raises(Exception, match="not an image Pillow can read"):
        preview_call(client, str(not_image))

    huge = tmp_path / "huge.png"
    Image.new("RGB", (8000, 6000), (10, 20, 30)).save(huge)
    with pytest.raises(Exception, match="over 40 megapixels are refused"):
        preview_call(client, str(huge))

    malformed = tmp_path / "preset.json"
    malformed.write_text('{"format": "svd-attention-preset", "version": 2, "name": "x", '
                         '"multipliers": {"self_temporal": 99}}')
    with pytest.raises(Exception, match="self_temporal must be between 0.0 and 10.0"):
        client.predict(handle_file(str(malformed)), api_name="/load_preset")

    assert_unet_equal(lab, snapshot)
    again = preview_call(client, image_file, seed=9, cross_temporal=1.5)
    assert np.array_equal(read_mp4(again[2]), read_mp4(reference[2]))  # the patched videos, bitwise
    assert_unet_equal(lab, snapshot)


def test_preset_endpoints(server, client, tmp_path):
    values = {"self_structural": 1.0, "self_temporal": 0.8, "cross_structural": 1.0, "cross_temporal": 1.2}
    saved = call(server, client, "/save_preset", name="Calm", description="less motion", include_settings=True,
                 **values, seed=42, user_presets={})
    doc = json.loads(open(saved["Preset file"]).read())
    assert doc["name"] == "Calm" and doc["multipliers"]["self_temporal"] == 0.8 and doc["settings"]["seed"] == 42
    assert "Saved preset 'Calm'" in saved["presets-message"].replace("\\", "")  # escaped Markdown
    loaded = call(server, client, "/load_preset", handle_file(saved["Preset file"]))
    assert [loaded[f"slider-{f}"] for f in values] == [1.0, 0.8, 1.0, 1.2] and loaded["seed"] == 42
    assert all(loaded[f"region-{r}-{f}"] == 1.0 for r in ("down", "mid", "up") for f in values)

    old = tmp_path / "old.json"  # a version-3 preset: its step-fraction schedule is converted, and the page says so
    old.write_text(json.dumps({"format": "svd-attention-preset", "version": 3, "name": "Old", "description": "",
                               "multipliers": values, "settings": {"start": 0.3, "end": 0.7, "steps": 10}}))
    upgraded = call(server, client, "/load_preset", handle_file(str(old)))
    assert (upgraded["start"], upgraded["end"]) == (0.1464, 0.5141)
    assert "version-3 preset" in upgraded["message"].replace("\\", "") and "4 to 7 of 10" in upgraded["message"]

    exported = call(server, client, "/export_comfyui", image=handle_file("examples/shapes-2.png"), **values)
    api = json.loads(exported["ComfyUI API prompt (SVD image to video, with the node)"])
    assert api["2"]["inputs"]["self_temporal"] == 0.8  # a whole SVD prompt, the node in it
    inputs = {node["class_type"]: node["inputs"] for node in api.values()}
    assert inputs["LoadImage"]["image"] == "shapes-2.png"  # the image the page holds, by its file name
    assert inputs["ImageOnlyCheckpointLoader"]["ckpt_name"] == CHECKPOINT_PLACEHOLDER  # the demo is a folder
    assert "checkpoint" in exported["presets-message"].lower()  # and the page says what to pick there
    workflow, prompt = exported["comfy-files"]
    assert Path(prompt).name == "svd-attention-lab-api-prompt.json"  # downloads under its own name
    imported = call(server, client, "/import_comfyui", handle_file(workflow))
    assert [imported[f"slider-{f}"] for f in values] == [1.0, 0.8, 1.0, 1.2]
    types = [n["type"] for n in json.loads(open(workflow).read())["nodes"]]
    assert "UNetTemporalAttentionMultiply" in types and "SVDAttentionLab" not in types
    regional, _ = call(server, client, "/export_comfyui", **values, up_self_temporal=0.5, start=0.2,
                       end=0.6)["comfy-files"]
    nodes = json.loads(open(regional).read())["nodes"]
    notes = [n["widgets_values"][0] for n in nodes if n["type"] == "Note"]
    assert "SVDAttentionLab" in [n["type"] for n in nodes] and any("custom_nodes" in note for note in notes)
    restored = call(server, client, "/import_comfyui", handle_file(regional))
    assert restored["region-up-self_temporal"] == 0.5 and restored["region-up-cross_temporal"] == 1.0
    assert (restored["start"], restored["end"]) == (0.2, 0.6)

    link = call(server, client, "/share_link", **values, seed=42, include_settings=True)["share-url"]
    assert link.endswith("?self_temporal=0.8&cross_temporal=1.2")  # the settings at their defaults travel as nothing
    applied = call(server, client, "/apply_preset", {}, "Temporal self-attention off (diagnostic)")
    assert applied["slider-self_temporal"] == 0.0
    assert applied["preset-picker"] == "Temporal self-attention off (diagnostic)"
    reset = call(server, client, "/reset", {})
    assert all(reset[f"slider-{f}"] == 1.0 for f in values) and reset["preset-picker"] == "Identity"


def test_the_official_svd_workflow_imported_onto_the_demo_model_keeps_its_values_and_says_what_was_scaled(
        server, client):
    workflow = Path(__file__).parent / "fixtures" / "real" / "svd_comfyui_examples__workflow_image_to_video.json"
    restored = call(server, client, "/import_comfyui", handle_file(str(workflow)))
    assert (restored["width"], restored["height"], restored["frames"], restored["steps"]) == (0, 0, 8, 20)
    assert (restored["fps"], restored["max_guidance"], restored["noise_aug_strength"]) == (6, 2.5, 0.0)
    assert "Scaled to what this model renders: width 1024 → the model's own, height 576 → the model's own, " \
           "frames 14 → 8" in restored["message"].replace("\\", "")  # the message is escaped Markdown


def test_the_sweep_plot_shows_the_chosen_metric_with_its_seed_spread_and_frames_are_whole():
    table = pd.DataFrame({"self_temporal": [0.0, 1.0], "patched_jitter": [2.0, 3.0], "patched_jitter_sd": [0.5, 0.25],
                          "mean_change_vs_baseline": [1.0, 0.0]})
    plot = sweep_plot(table, "patched_jitter")
    assert plot["series"].unique().tolist() == ["mean", "mean + 1 sd (seeds)", "mean − 1 sd (seeds)"]
    assert plot[plot["series"] == "mean − 1 sd (seeds)"]["value"].tolist() == [1.5, 2.75]
    assert plot["swept value"].tolist()[:2] == [0.0, 1.0]
    assert sweep_plot(table, "mean_change_vs_baseline")["series"].unique().tolist() == ["mean"]  # one seed
    with pytest.raises(ValueError, match="metric must be one of"):
        sweep_plot(table, "nonsense")
    assert frame_plot([{"frame": 0, "series": "s", "value": 1.0}, {"frame": 1, "series": "s", "value": 2.0}]) \
        ["frame"].tolist() == ["0", "1"]  # labels: the axis cannot show frame 0.5


def test_sweep_endpoint(server, client, image_file):
    sweep = call(server, client, "/sweep", image=handle_file(image_file), field="self_temporal", values="0, 1", seed=3,
                 seeds=1, **FAST)
    assert read_mp4(sweep["sweep-video"]).shape[2] == 2 * 256
    assert [row[0] for row in sweep["sweep-table"]["data"]] == [0.0, 1.0]
    assert sweep["sweep-verdict"].startswith("3 renders (2 values and the baseline, × 1 seed)")
    assert "One seed" in sweep["sweep-verdict"]
    two = call(server, client, "/sweep", image=handle_file(image_file), field="end", values="0.5, 1", seed=3, seeds=2,
               self_temporal=0.2, **FAST)
    assert "mean_change_vs_baseline_sd" in two["sweep-table"]["headers"]
    assert two["sweep-verdict"].count("over 2 seeds") == 2
    jitter = call(server, client, "/sweep", image=handle_file(image_file), field="end", values="0.5, 1", seed=3,
                  seeds=2, self_temporal=0.2, metric="patched_jitter", **FAST)
    assert jitter["sweep-plot"] != two["sweep-plot"]  # the same sweep, another metric plotted
    with pytest.raises(Exception, match="greater than maximum value 8"):
        client.predict(image=handle_file(image_file), field="end", values="1", seeds=9, **FAST, api_name="/sweep")
    with pytest.raises(Exception, match="seeds must be a whole number, got 1.5"):  # never rounded to 2
        client.predict(image=handle_file(image_file), field="end", values="1", seeds=1.5, **FAST, api_name="/sweep")
    for field, values, message in [("nonsense", "0, 1", "not in the list of choices"),
                                   ("self_temporal", "0, fast", "sweep values must be numbers"),
                                   ("cross_temporal", "0, 12", "cross_temporal must be between 0.0 and 10.0")]:
        with pytest.raises(Exception, match=message):
            client.predict(image=handle_file(image_file), field=field, values=values, seed=3, **FAST, api_name="/sweep")


def test_motion_meter_endpoint(server, client, image_file):
    reading = call(server, client, "/motion_meter", image=handle_file(image_file), self_temporal=0.5, seed=3,
                   **FAST)["meter-reading"]
    assert reading.startswith("This setting moves"), reading
    assert "measured bucket" in reading or "motion bucket ≈" in reading, reading
    assert "the baseline, rendered at bucket 127, reads as ≈" in reading


def test_stop_cancels_a_running_render(server, image_file):
    import time

    from tiny_models import UnetCalls

    lab, url = server
    client = connect(url)
    snapshot = unet_snapshot(lab)
    calls = UnetCalls(lab.studio.model.get().pipe.unet)
    try:
        job = client.submit(image=handle_file(image_file), self_structural=1.0, self_temporal=0.5,
                            cross_structural=1.0, cross_temporal=1.0, seed=77, frames=8, steps=100,
                            decode_chunk_size=8, api_name="/preview")
        deadline = time.time() + 60
        while calls.count < 2 and time.time() < deadline:
            time.sleep(0.05)
        client.predict(api_name="/cancel")  # same client, same browser session
        stopped = job.result(timeout=120)  # a Stop is not an error: nothing raised, no output changed
        videos = {k: v for k, v in outputs_by_name(lab.demo, "/preview", stopped).items() if k.endswith("video")}
        assert videos and all(value == {"__type__": "update"} for value in videos.values()), videos  # none new
    finally:
        calls.remove()
    assert calls.count < 100 * 2  # it stopped long before the baseline and patched videos' 100 steps each
    assert_unet_equal(lab, snapshot)


def test_a_request_cancelled_by_its_client_stops_at_the_next_step(server, image_file):
    """Finding 8: a client that cancels (or closes its tab) no longer leaves its render running."""
    import time

    from tiny_models import UnetCalls

    lab, url = server
    snapshot = unet_snapshot(lab)
    calls = UnetCalls(lab.studio.model.get().pipe.unet)
    try:
        client = connect(url)
        job = client.submit(image=handle_file(image_file), self_temporal=0.4, seed=78, frames=8, steps=100,
                            decode_chunk_size=8, api_name="/preview")  # 100 steps: 100 UNet calls when it runs out
        deadline = time.time() + 60
        while calls.count < 3 and time.time() < deadline:
            time.sleep(0.05)
        job.cancel()  # what gradio_client does for a cancelled call; a closed tab drops its event the same way
        # the next visitor's request runs at once, on a UNet that is bitwise original again
        after = outputs_by_name(lab.demo, "/preview", preview_call(connect(url), image_file, seed=5))
        assert read_mp4(after["side-by-side"]).shape[0] == FAST["frames"]
        stopped_at = calls.count
    finally:
        calls.remove()
    assert stopped_at < 60, f"the cancelled render ran {stopped_at} steps"
    assert_unet_equal(lab, snapshot)
