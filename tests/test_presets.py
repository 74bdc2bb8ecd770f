import json
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

import presets
from svd_attention_lab.controls import FIELDS, MULTIPLIER_MAX, MULTIPLIER_MIN, Multipliers, Regions
from presets import Preset, PresetError
from presets._comfyui import to_api_node
from presets._comfyui import from_file_bytes
from presets._schema import MAX_DOCUMENT_BYTES
from presets._comfyui import CHECKPOINT_PLACEHOLDER
from presets._builtin import BUILTIN_DIR

ROOT = Path(__file__).resolve().parents[1]

multiplier = st.floats(min_value=MULTIPLIER_MIN, max_value=MULTIPLIER_MAX, allow_nan=False)
multipliers = st.builds(Multipliers, multiplier, multiplier, multiplier, multiplier)


@st.composite
def preset_settings(draw):
    chosen = {}
    for s in presets.PRESET_SETTINGS:
        if draw(st.booleans()):
            if s.kind is int:
                chosen[s.name] = draw(st.integers(int(s.low), int(s.high)))
            else:
                chosen[s.name] = draw(st.floats(s.low, s.high, allow_nan=False))
    if chosen.get("min_guidance", 0) > chosen.get("max_guidance", 99):
        chosen["min_guidance"], chosen["max_guidance"] = chosen["max_guidance"], chosen["min_guidance"]
    if chosen.get("start", 0.0) >= chosen.get("end", 1.0):  # a schedule needs start < end
        chosen.pop("start", None)
        chosen.pop("end", None)
    return chosen


names = st.text(min_size=1, max_size=80).filter(lambda s: s.strip())
all_presets = st.builds(
    Preset,
    name=names,
    multipliers=multipliers,
    description=st.text(max_size=200),
    settings=preset_settings(),
    model=st.none() | st.just("stabilityai/stable-video-diffusion-img2vid-xt"),
)


@settings(max_examples=200, deadline=None)
@given(all_presets)
def test_json_round_trip(preset):
    assert Preset.from_json(preset.to_json()) == preset


@settings(max_examples=200, deadline=None)
@given(all_presets)
def test_url_round_trip(preset):
    back, warnings = presets.from_query(presets.to_query(preset))
    assert warnings == []
    assert back.multipliers == preset.multipliers and back.settings == preset.settings
    assert back.name == preset.name


def test_share_link_is_compact_and_readable():
    preset = Preset(name="Shared link", multipliers=Multipliers(self_temporal=0.8, cross_temporal=1.2),
                    settings={"seed": 42})
    assert presets.to_query(preset) == "self_temporal=0.8&cross_temporal=1.2&seed=42"
    assert presets.to_url(preset,
                          "https://example.org/app?old=1") == "https://example.org/app?self_temporal=0.8&cross_temporal=1.2&seed=42"
    assert presets.to_query(Preset(name="Shared link")) == ""


def test_share_link_ignores_unknown_and_rejects_bad_values():
    preset, warnings = presets.from_query({"self_temporal": "0.5", "utm_source": "x", "__theme": "dark"})
    assert preset.multipliers.self_temporal == 0.5
    assert warnings == ["ignored 2 unknown link parameters: 'utm_source', '__theme'"]
    _, warnings = presets.from_query({"utm_source": "x"})
    assert warnings == ["ignored unknown link parameter 'utm_source'"]
    for query, message in [
        ("self_temporal=abc", "self_temporal must be a number"),
        ("self_temporal=nan", "self_temporal must be a finite number"),
        ("cross_temporal=11", "cross_temporal must be between"),
        ("seed=1.5", "settings.seed must be a whole number"),
        ("frames=1000", "settings.frames must be between"),
    ]:
        with pytest.raises(ValueError, match=message):
            presets.from_query(query)


def test_a_link_with_thousands_of_unknown_keys_gives_one_short_warning():
    query = "&".join([f"junk{n}={'x' * 50}" for n in range(5000)] + ["self_temporal=0.6"])
    preset, warnings = presets.from_query(query)
    assert preset.multipliers.self_temporal == 0.6
    assert warnings == ["ignored 5,000 unknown link parameters: 'junk0', 'junk1', 'junk2' and 4,997 more"]


def doc(**changes):
    base = {
        "format": "svd-attention-preset",
        "version": 3,
        "name": "x",
        "description": "",
        "multipliers": dict.fromkeys(FIELDS, 1.0),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


INVALID = [
    ([], "preset must be a JSON object"),
    (doc(format="something-else"), "format must be 'svd-attention-preset'"),
    (doc(version=5), "made by a newer version"),
    (doc(version=0), "version must be a positive whole number"),
    (doc(version="2"), "version must be a positive whole number"),
    (doc(extra=1), r"unknown field\(s\) extra"),
    (doc(name=...), "name is missing"),
    (doc(name=""), "name must not be empty"),
    (doc(name="n" * 81), "name is 81 characters; at most 80"),
    (doc(name=5), "name must be a string"),
    (doc(description="d" * 1001), "description is 1001 characters"),
    (doc(multipliers=[1, 1, 1, 1]), "multipliers must be an object"),
    (doc(multipliers={"self_temporal": "1"}), "multipliers.self_temporal must be a number"),
    (doc(multipliers={"self_temporal": 10.5}), "multipliers.self_temporal must be between 0.0 and 10.0"),
    (doc(multipliers={"self_temporal": True}), "multipliers.self_temporal must be a number"),
    (doc(multipliers={"temporal": 1.0}), "unknown multiplier"),
    (doc(settings={"seed": -1}), "settings.seed must be between"),
    (doc(settings={"steps": 2.5}), "settings.steps must be a whole number"),
    (doc(settings={"colour": 1}), "unknown setting 'colour'"),
    (doc(settings={"min_guidance": 4.0, "max_guidance": 2.0}), "min_guidance .* must not exceed"),
    (doc(settings=[]), "settings must be an object"),
    (doc(model=""), "model must not be empty"),
]


@pytest.mark.parametrize("document, message", INVALID)
def test_invalid_documents(document, message):
    with pytest.raises(PresetError, match=message):
        Preset.from_json(json.dumps(document))


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"format": "svd-attention-preset", "version": 2, "name": "x", "multipliers": {"self_temporal": NaN}}', "NaN"),
        ('{"format": "svd-attention-preset", "version": 2, "name": "x", "multipliers": {"self_temporal": Infinity}}',
         "Infinity"),
        ("{not json", "not valid JSON"),
        ('{"name": "' + "x" * 70000 + '"}', "at most 64 KB"),
    ],
)
def test_invalid_text(text, message):
    with pytest.raises(PresetError, match=message):
        Preset.from_json(text)


def test_version_1_is_upgraded():
    old = {"format": "svd-attention-preset", "version": 1, "name": "old", "self_temporal": 0.7, "cross_temporal": 1.3}
    preset = Preset.from_json(json.dumps(old))
    assert preset.multipliers == Multipliers(self_temporal=0.7, cross_temporal=1.3)
    assert preset.to_dict()["version"] == presets.FORMAT_VERSION


def test_builtins_load_with_unique_names():
    builtins = presets.builtin_presets()
    files = sorted(BUILTIN_DIR.glob("*.json"))
    assert len(builtins) == len(files) >= 5
    assert builtins["Identity"].multipliers.is_identity
    assert builtins["Temporal self-attention off (diagnostic)"].multipliers.self_temporal == 0.0
    for path in files:
        preset = Preset.from_json(path.read_text())
        assert len(preset.description) > 40, path.name  # every built-in explains itself
        assert json.loads(path.read_text()) == preset.to_dict()  # stored in canonical form


def test_presets_carry_every_shared_render_setting_and_nothing_else():
    from svd_attention_lab import controls

    shown = {"seed": 7, "frames": 12, "steps": 20, "width": 512, "height": 320, "fps": 6, "motion_bucket_id": 90,
             "noise_aug_strength": 0.05, "min_guidance": 1.5, "max_guidance": 2.5, "start": 0.2, "end": 0.8,
             "decode_chunk_size": 4}  # what the page's controls hold
    assert set(shown) == set(controls.setting_names())  # every render setting is above
    preset = presets.Preset.from_controls("All", "", controls.Multipliers(), shown)
    read = presets.Preset.from_json(preset.to_json())
    assert read.settings == {k: v for k, v in shown.items() if k != "decode_chunk_size"}  # a memory knob, not the look
    with pytest.raises(presets.PresetError, match="decode_chunk_size"):
        presets.Preset.from_json(preset.to_json().replace('"seed"', '"decode_chunk_size"'))


# --- ComfyUI ---------------------------------------------------------------

def ui_workflow(*values_per_node, linked=None):
    nodes = [{"id": 3, "type": "KSampler", "widgets_values": [1, "fixed", 20]}]
    for i, values in enumerate(values_per_node):
        node = {"id": 10 + i, "type": "UNetTemporalAttentionMultiply",
                "inputs": [{"name": "model", "type": "MODEL", "link": 1}],
                "widgets_values": list(values)}
        if linked:
            node["inputs"].append({"name": linked, "type": "FLOAT", "widget": {"name": linked}, "link": 7})
        nodes.append(node)
    return {"last_node_id": 12, "nodes": nodes, "links": [], "version": 0.4}


def api_prompt(*values_per_node):
    prompt = {"4": {"class_type": "ImageOnlyCheckpointLoader", "inputs": {"ckpt_name": "svd_xt.safetensors"}}}
    for i, values in enumerate(values_per_node):
        prompt[str(20 + i)] = {"class_type": "UNetTemporalAttentionMultiply", "inputs": {"model": ["4", 0], **values}}
    return prompt


def test_import_ui_workflow():
    found = presets.from_workflow(ui_workflow([1.0, 1.2, 0.9, 1.1]))
    assert found.multipliers == Multipliers(1.0, 1.2, 0.9, 1.1)
    assert found.node_id == "10" and found.source == "workflow"


def test_import_api_prompt():
    found = presets.from_workflow(api_prompt({"self_structural": 1.0, "self_temporal": 0.5, "cross_structural": 1.0,
                                              "cross_temporal": 2.0}))
    assert found.multipliers == Multipliers(self_temporal=0.5, cross_temporal=2.0)
    assert found.node_id == "20" and found.source == "prompt"


def test_several_nodes_take_the_first_and_say_so():
    found = presets.from_workflow(ui_workflow([1, 0.5, 1, 1], [1, 2, 1, 1]))
    assert found.multipliers.self_temporal == 0.5
    assert found.all_node_ids == ["10", "11"] and "2 such nodes: 10, 11" in found.message
    found = presets.from_workflow(api_prompt({"self_temporal": 0.3}, {"self_temporal": 3.0}))
    assert found.multipliers.self_temporal == 0.3 and found.all_node_ids == ["20", "21"]


@pytest.mark.parametrize(
    "workflow, message",
    [
        ({"nodes": [{"id": 1, "type": "KSampler"}]}, "no UNetTemporalAttentionMultiply node"),
        ({"1": {"class_type": "KSampler", "inputs": {}}}, "no UNetTemporalAttentionMultiply node"),
        (api_prompt({"self_temporal": ["7", 0]}), r"self_temporal of node 20 comes from another node"),
        (ui_workflow([1, 1, 1, 1], linked="cross_temporal"), "cross_temporal of node 10 comes from another node"),
        (api_prompt({"self_temporal": 12.0}), "node 20: self_temporal must be between"),
        (ui_workflow([1, 1]), "widgets_values must list the four multipliers, got 2 values"),
        ([1, 2], "must be a JSON object, got a list"),
    ],
)
def test_bad_workflows(workflow, message):
    with pytest.raises(PresetError, match=message):
        presets.from_workflow(workflow)


def comfy_png(workflow=None, prompt=None) -> bytes:
    info = PngImagePlugin.PngInfo()  # ComfyUI's SaveImage writes these two tEXt chunks
    if prompt is not None:
        info.add_text("prompt", json.dumps(prompt))
    if workflow is not None:
        info.add_text("workflow", json.dumps(workflow))
    out = BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_import_from_png_text_chunks():
    data = comfy_png(ui_workflow([1.0, 0.75, 1.0, 1.0]), api_prompt({"self_temporal": 0.75}))
    assert presets.from_image(data).multipliers.self_temporal == 0.75
    assert from_file_bytes(data).source == "workflow"
    only_prompt = comfy_png(prompt=api_prompt({"cross_temporal": 1.4}))
    assert presets.from_image(only_prompt).multipliers.cross_temporal == 1.4
    with pytest.raises(PresetError, match="carries no ComfyUI workflow"):
        presets.from_image(comfy_png())
    with pytest.raises(PresetError, match="cannot read the image"):
        presets.from_image(b"\x89PNG not really")


def test_import_from_webp_exif():
    image = Image.new("RGB", (8, 8))
    exif = image.getexif()  # ComfyUI's SaveAnimatedWEBP: 0x0110 prompt, 0x010f workflow
    exif[0x0110] = "prompt:" + json.dumps(api_prompt({"self_structural": 1.3}))
    exif[0x010F] = "workflow:" + json.dumps(ui_workflow([1.3, 1, 1, 1]))
    out = BytesIO()
    image.save(out, format="WEBP", exif=exif)
    assert presets.from_image(out.getvalue()).multipliers.self_structural == 1.3


@settings(max_examples=50, deadline=None)
@given(multipliers)
def test_export_import_round_trip(m):
    assert presets.from_workflow(presets.to_ui_workflow(m)).multipliers == m
    snippet = to_api_node(m, model_from=("4", 0))
    assert presets.from_workflow(json.loads(json.dumps(snippet))).multipliers == m
    assert snippet["100"]["inputs"]["model"] == ["4", 0]


def test_cli(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "presets", *args], cwd=ROOT, capture_output=True, text=True)

    listing = run("list")
    assert listing.returncode == 0 and "Damped temporal attention" in listing.stdout
    shown = run("show", "Identity")
    assert Preset.from_json(shown.stdout).multipliers.is_identity
    assert run("show", "Nope").returncode == 2

    workflow = tmp_path / "workflow.png"
    workflow.write_bytes(comfy_png(ui_workflow([1.0, 1.25, 1.0, 1.0])))
    converted = run("from-comfyui", str(workflow))
    assert converted.returncode == 0, converted.stderr
    preset_file = tmp_path / "p.json"
    preset_file.write_text(converted.stdout)
    assert Preset.from_json(converted.stdout).multipliers.self_temporal == 1.25
    assert run("validate", str(preset_file)).returncode == 0
    assert run("to-url", str(preset_file)).stdout.startswith("?self_temporal=1.25")

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc(version=9)))
    failed = run("validate", str(bad))
    assert failed.returncode == 2 and "newer version" in failed.stderr


def test_preset_files_are_checked_before_reading(tmp_path):
    with pytest.raises(PresetError, match="no such preset file"):
        Preset.from_file(tmp_path / "missing.json")
    big = tmp_path / "big.json"
    big.write_text(" " * (MAX_DOCUMENT_BYTES + 1))
    with pytest.raises(PresetError, match="larger than 64 KB"):
        Preset.from_file(big)
    good = tmp_path / "good.json"
    good.write_text(Preset(name="x", multipliers=Multipliers(self_temporal=0.5)).to_json())
    assert Preset.from_file(good).multipliers.self_temporal == 0.5


def test_version_2_is_upgraded_without_a_schedule_and_schedules_round_trip():
    old = presets.Preset.from_dict({"format": "svd-attention-preset", "version": 2, "name": "old",
                                    "multipliers": {"self_temporal": 0.7}, "settings": {"steps": 20}})
    assert old.settings == {"steps": 20} and old.to_dict()["version"] == presets.FORMAT_VERSION == 4
    assert old.notes == ()  # start 0, end 1: every step, in either meaning
    scheduled = presets.Preset("early", Multipliers(self_temporal=0.6), settings={"start": 0.0, "end": 0.3})
    assert presets.Preset.from_json(scheduled.to_json()) == scheduled
    linked, _ = presets.from_query(presets.to_query(scheduled))
    assert linked.settings == {"start": 0.0, "end": 0.3} and linked.multipliers == scheduled.multipliers
    with pytest.raises(presets.PresetError, match="settings.start \\(0.5\\) must be below settings.end \\(0.2\\)"):
        presets.Preset("bad", settings={"start": 0.5, "end": 0.2})


def _old(version, settings, **more):
    doc = {"format": "svd-attention-preset", "version": version, "name": "old", "settings": settings, **more}
    return doc | ({"self_temporal": 0.7} if version == 1 else {"multipliers": {"self_temporal": 0.7}})


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("steps, start, end, patched", [
    (10, 0.3, 0.7, [3, 4, 5, 6]), (25, 0.3, 0.7, list(range(8, 18))), (25, 0.0, 0.5, list(range(13))),
    (None, 0.5, 1.0, [5, 6, 7, 8, 9]), (50, 0.1, 0.15, [5, 6, 7])])
def test_older_step_fractions_become_sigma_space_percents_that_patch_the_same_steps(version, steps, start, end,
                                                                                    patched):
    """Versions 1 to 3 meant fractions of the steps; version 4 ComfyUI's sigma-space percents. The upgrade
    picks the percents that patch the same steps of SVD's Karras schedule (the preset's steps, else the
    app's default 10), the node reads it the same way, and the notice says what it did."""
    from comfyui_svd_attention_lab import setting as reader

    old = _old(version, {"start": start, "end": end} | ({"steps": steps} if steps else {}),
               regions={"up": {"self_temporal": 0.5}})
    preset = Preset.from_dict(old)
    new_start, new_end = preset.settings["start"], preset.settings["end"]
    assert list(reader.scheduled_steps(new_start, new_end, reader.karras_sigmas(steps or 10))) == patched
    assert preset.multipliers.regions.factor("up", "self_temporal") == 0.5  # regions of every version apply
    (note,) = preset.notes
    assert note.startswith(f"version-{version} preset: its schedule {start:g}–{end:g} was a fraction of the steps; "
                           f"as ComfyUI's sigma-space start/end percents it is {new_start:g}–{new_end:g}")
    assert f"({patched[0] + 1} to {patched[-1] + 1} of {steps or 10}" in note
    node = reader.Setting.from_text(json.dumps(old))
    assert (node.start, node.end, node.notes) == (new_start, new_end, preset.notes)
    assert presets.Preset.from_json(preset.to_json()).settings == preset.settings  # version 4: read as written


def test_an_old_schedule_that_patches_no_step_is_refused_naming_it():
    with pytest.raises(PresetError, match=r"settings.start \(0.31\) and settings.end \(0.32\) of this version-3 "
                                          r"preset select no step of 10"):
        Preset.from_dict(_old(3, {"start": 0.31, "end": 0.32}))


@pytest.mark.parametrize("checkpoint, named", [
    ("/models/svd_xt.safetensors", "svd_xt.safetensors"), ("C:\\models\\svd.ckpt", "svd.ckpt"),
    ("stabilityai/stable-video-diffusion-img2vid-xt", None), ("/models/svd-folder/", None), ("demo", None),
    (".safetensors", None), (None, None)])
def test_exports_name_the_apps_single_file_else_a_marked_placeholder_and_say_what_to_pick(checkpoint, named):
    settings = {"start": 0.0, "end": 1.0}
    prompt = presets.to_api_prompt(Multipliers(self_temporal=0.5), settings, checkpoint=checkpoint, image="/x/in.png")
    workflow = presets.to_ui_workflow(Multipliers(self_temporal=0.5), settings, checkpoint=checkpoint, image="in.png")
    loader = next(n for n in workflow["nodes"] if n["type"] == "ImageOnlyCheckpointLoader")
    assert prompt["1"]["inputs"]["ckpt_name"] == loader["widgets_values"][0] == (named or
                                                                               CHECKPOINT_PLACEHOLDER)
    assert prompt["4"]["inputs"]["image"] == "in.png"
    notes = presets.export_notes(Multipliers(self_temporal=0.5), checkpoint=checkpoint, image="in.png")
    assert (notes == []) == bool(named) and ("PICK" in prompt["1"]["_meta"]["title"]) != bool(named)
    assert [n["widgets_values"][0] for n in workflow["nodes"] if n["type"] == "Note"] == (["\n\n".join(notes)]
                                                                                          if notes else [])


@pytest.mark.parametrize("schedule", [{}, {"start": 0.3, "end": 0.7}])
def test_the_ui_workflows_nodes_do_not_overlap_and_fit_their_titles_and_widgets(schedule):
    """ComfyUI's page draws each node where the file puts it, at the size it gives (a title bar of 30
    above ``pos``): nodes must not cover each other's widgets, and the loader's long title must fit."""
    regions = Regions.from_dict({"up": {"self_temporal": 0.5}} if schedule else {})
    multipliers = Multipliers(self_temporal=0.5, regions=regions)
    nodes = presets.to_ui_workflow(multipliers, schedule)["nodes"]
    boxes = [(n["pos"][0], n["pos"][1] - 30, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1]) for n in nodes]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    for node in nodes:
        assert node["size"][0] >= 7 * len(node["title"]), node["title"]
        texts = [v for v in node["widgets_values"] if isinstance(v, str)] if node["type"] != "Note" else []
        assert node["size"][0] >= max([7 * len(v) + 100 for v in texts], default=0), texts  # no file name cut off
        assert node["size"][1] >= 20 * len(node["widgets_values"]) + 20 * len(node["inputs"]), node["type"]
    assert any(n["type"] == "SVDAttentionLab" for n in nodes) == bool(schedule)
    # ComfyUI's page fits a dropped workflow into 3/4 of its canvas (about 1380 × 800 in a 1400 × 900
    # window) and draws no text below a zoom of 0.5: the graph must fit at 0.6 or more
    width = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    height = max(b[3] for b in boxes) - min(b[1] for b in boxes)
    assert min(0.75 * 1380 / width, 0.75 * 800 / height) >= 0.6, (width, height)
