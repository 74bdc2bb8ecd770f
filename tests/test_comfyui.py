"""ComfyUI itself as the oracle: the files it saves load, its UNet computes what ours computes, and the
project's node, loaded by ComfyUI's custom-node loader, applies the app's setting at every step.

ComfyUI is imported from ``$COMFYUI_DIR`` or ``../shared/third_party/ComfyUI`` (see comfyui_harness);
without a checkout these tests skip, naming COMFYUI_DIR.
"""

from presets._comfyui import LAB_NODE_TYPE
from presets._comfyui import LAB_INPUTS
from presets._comfyui import CHECKPOINT_PLACEHOLDER
import asyncio
import glob
import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from safetensors import safe_open

import presets
from svd_attention_lab.checkpoints import convert, sgm_to_diffusers
from svd_attention_lab.checkpoints._cli import main as checkpoints_main
from svd_attention_lab.controls import Multipliers, Regions
from svd_attention_lab.engine import DEMO_MODEL_DIR, Previewer, RenderSettings, load_model
from comfyui_harness import (NODE_DIR, comfyui_models, require_comfyui, tiny_svd_folder,
                             write_image_encoder_config)

IMAGE = DEMO_MODEL_DIR.parents[2] / "examples" / "shapes-2.png"
FAST = RenderSettings(seed=3, frames=4, steps=3, decode_chunk_size=4, width=64, height=64)
SCHEDULED = RenderSettings(seed=3, frames=2, steps=10, decode_chunk_size=2, width=64, height=64, start=0.3, end=0.7)
SETTING = Multipliers(self_temporal=0.6, cross_structural=1.3, regions=Regions.from_flat({"up.self_temporal": 0.5}))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny SVD ComfyUI can build: the converter's single file, ComfyUI's models from it, and the file
    ComfyUI's ImageOnlyCheckpointSave writes of them."""
    require_comfyui()
    import comfy_extras.nodes_video_model

    tmp = tmp_path_factory.mktemp("comfyui")
    folder = tiny_svd_folder(tmp / "folder")
    ours = tmp / "svd_tiny.safetensors"
    convert(folder, ours)
    model, vae, clip_vision = comfyui_models(ours, write_image_encoder_config(tmp / "image_encoder.json"))
    save = comfy_extras.nodes_video_model.ImageOnlyCheckpointSave()
    save.output_dir = str(tmp / "output")
    save.save(model, clip_vision, vae, "svd_tiny_saved")
    (saved,) = glob.glob(str(tmp / "output" / "svd_tiny_saved*.safetensors"))
    return {"folder": folder, "ours": ours, "saved": saved, "model": model, "tmp": tmp}


def test_convert_says_which_of_comfyuis_detection_keys_differ(files, tmp_path):
    """The tiny SVD's single file is one ComfyUI's loaders cannot detect: convert says so, naming exactly the
    values where ComfyUI's own detection differs from its SVD_img2vid configuration."""
    import comfy.model_detection
    import comfy.supported_models
    import comfy.utils

    from svd_attention_lab.checkpoints._detection import SVD_DETECTION, comfyui_detection

    sd = comfy.utils.load_torch_file(str(files["ours"]))
    detected = comfy.model_detection.detect_unet_config(sd, "model.diffusion_model.")
    svd = comfy.supported_models.SVD_img2vid.unet_config
    assert SVD_DETECTION == svd
    assert comfy.model_detection.model_config_from_unet(sd, "model.diffusion_model.") is None
    shapes = {k: tuple(v.shape) for k, v in sd.items()}
    assert comfyui_detection(shapes) == {k: detected[k] for k in svd}  # read as ComfyUI reads them
    differ = {k for k in svd if detected[k] != svd[k]}
    report = convert(files["folder"], tmp_path / "tiny.safetensors")
    (note,) = report.notes
    assert differ and {k for k in svd if f"{k} " in note} == differ
    assert note.startswith("ComfyUI will not detect tiny.safetensors as SVD (its loaders say 'Could not detect "
                           "model type')")


def test_comfyuis_save_has_its_own_naming(files):
    with safe_open(files["saved"], "pt") as f:
        keys = set(f.keys())
    visual = "conditioner.embedders.0.open_clip.model.visual."
    assert f"{visual}vision_model.encoder.layers.1.self_attn.q_proj.weight" in keys
    assert f"{visual}visual_projection.weight" in keys
    assert {"edm_vpred.sigma_max", "edm_vpred.sigma_min"} <= keys
    assert not any(k.startswith("conditioner.embedders.3.") for k in keys)


def test_comfyui_and_the_app_compute_the_same_unet_from_comfyuis_file(files):
    """Within 1e-5 of the output's scale with reference numerics; diffusers' build is further off."""
    from comfy.ldm.modules.diffusionmodules.util import timestep_embedding

    frames = 4
    g = torch.Generator().manual_seed(0)
    x, context = torch.randn(frames, 8, 8, 8, generator=g), torch.randn(1, 1, 64, generator=g)
    t, ids = torch.tensor(0.7), torch.tensor([[5.0, 127.0, 0.02]])
    y = torch.cat([timestep_embedding(ids[:, i], 256) for i in range(3)], dim=1).repeat(frames, 1)
    gaps = {}
    with torch.no_grad():
        expected = files["model"].model.diffusion_model(x, timesteps=t.repeat(frames), context=context.repeat(
            frames, 1, 1), y=y, num_video_frames=frames, image_only_indicator=torch.zeros(1, frames))
        for numerics in ("reference", "diffusers"):
            unet = load_model(files["saved"], numerics=numerics).pipe.unet
            got = unet(x[None], t, encoder_hidden_states=context, added_time_ids=ids).sample[0]
            gaps[numerics] = float((got - expected).abs().max() / expected.abs().max())
    print(f"UNet output gap to ComfyUI, relative to its scale: {gaps}")
    assert gaps["reference"] < 1e-5
    assert gaps["diffusers"] > 5 * gaps["reference"]  # the eps difference is what the option changes


def test_a_comfyui_saved_file_renders_the_frames_of_the_file_it_was_saved_from(files, tmp_path):
    def frames(path, settings=FAST):
        model = load_model(path)
        comparison = Previewer(model).render(IMAGE, settings, SETTING)
        return model, comparison.baseline, comparison.patched

    _, *original = frames(files["ours"])
    model, *saved = frames(files["saved"])
    assert all((a == b).all() for a, b in zip(original, saved))
    assert "SVD" in model.describe() and "σ" not in model.describe()  # SVD's own sampling range

    folder = tmp_path / "folder"  # convert FILE FOLDER from ComfyUI's file, and back
    convert(files["saved"], folder)
    convert(folder, tmp_path / "again.safetensors")
    for path in (folder, tmp_path / "again.safetensors"):
        _, *again = frames(path)
        assert all((a == b).all() for a, b in zip(original, again))

    assert checkpoints_main(["inspect", files["saved"]]) == 0
    baked = tmp_path / "baked.safetensors"
    assert checkpoints_main(["bake", files["saved"], str(baked), "--self-temporal", "0.5"]) == 0
    with safe_open(str(baked), "pt") as out, safe_open(files["saved"], "pt") as src:
        assert set(out.keys()) == set(src.keys())


def test_a_sampling_range_in_the_file_becomes_the_schedulers_and_the_badge_says_so(files, tmp_path):
    from safetensors.torch import load_file, save_file

    tensors = load_file(files["saved"])
    tensors["edm_vpred.sigma_max"] = torch.tensor(500.0)
    path = tmp_path / "svd_tiny_range.safetensors"
    save_file(tensors, str(path))
    model = load_model(path)
    assert model.sigma_range == (0.002, 500.0)
    assert "sampling σ 0.002–500 from the checkpoint (SVD's is 0.002–700)" in model.describe()
    tensors["edm_vpred.sigma_min"] = torch.tensor(600.0)
    save_file(tensors, str(path))
    with pytest.raises(Exception, match="sampling range is empty"):
        load_model(path)


@pytest.fixture(scope="module")
def lab_node(files):
    import nodes

    _run(nodes.init_builtin_extra_nodes())  # ComfyUI's own SVD nodes, as it starts them
    assert _run(nodes.load_custom_node(str(NODE_DIR)))  # through comfy_entrypoint: the V3 node API
    return nodes.NODE_CLASS_MAPPINGS[LAB_NODE_TYPE]


def _as_the_page_queues_it(workflow: dict) -> dict:
    """A UI workflow as ComfyUI's page sends it to the server (its graphToPrompt, which the page runs in
    JavaScript): each node's widget values matched, in order, to the widget inputs of ComfyUI's own node
    definition (``INPUT_TYPES``), the value a seed's "control after generate" adds skipped, each link as
    ``[source node id, output slot]``; Notes stay on the page."""
    import nodes

    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        definition = nodes.NODE_CLASS_MAPPINGS.get(node["type"])
        if definition is None:
            assert node["type"] == "Note", node["type"]
            continue
        types = definition.INPUT_TYPES()
        values, inputs = iter(node["widgets_values"]), {}
        linked = {entry["name"]: links[entry["link"]] for entry in node["inputs"] if entry.get("link") is not None}
        for name, spec in {**types.get("required", {}), **types.get("optional", {})}.items():
            kind, options = spec[0], (spec[1] if len(spec) > 1 else {})
            if name in linked:
                inputs[name] = [str(linked[name][1]), linked[name][2]]
            elif isinstance(kind, list) or kind in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"):
                inputs[name] = next(values)
                if options.get("control_after_generate"):
                    next(values)
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def test_comfyui_registers_the_node_and_validates_both_exports_after_picking_the_files(lab_node, files, tmp_path):
    """The exports are the whole image-to-video graph: the API prompt validates as it is when the app names
    its files, and, with placeholders, after only the checkpoint and the image are picked; the UI workflow,
    as the page queues it, is the same prompt. Importing either gives back the whole setting."""
    import folder_paths

    inputs = lab_node.INPUT_TYPES()
    assert (*inputs["required"], *inputs["optional"]) == ("model", *LAB_INPUTS)
    shutil.copy(files["saved"], tmp_path / "svd_xt.safetensors")
    shutil.copy(IMAGE, tmp_path / "example.png")
    folder_paths.add_model_folder_path("checkpoints", str(tmp_path))
    folder_paths.set_input_directory(str(tmp_path))
    scheduled = RenderSettings(seed=3, frames=14, steps=10, start=0.3, end=0.7).as_dict()
    plain = scheduled | {"start": 0.0, "end": 1.0}
    for multipliers, settings, node in ((SETTING, scheduled, LAB_NODE_TYPE),
                                        (Multipliers(self_temporal=0.8), plain, "UNetTemporalAttentionMultiply")):
        named = presets.to_api_prompt(multipliers, settings, checkpoint="/models/svd_xt.safetensors",
                                      image="example.png")
        assert _valid(named) and named["2"]["class_type"] == node
        prompt = presets.to_api_prompt(multipliers, settings)  # the app names no file: placeholders
        assert prompt["1"]["inputs"]["ckpt_name"] == CHECKPOINT_PLACEHOLDER
        errors = _errors(prompt)
        assert {(e["class_type"], e["input"]) for e in errors} == {("ImageOnlyCheckpointLoader", "ckpt_name"),
                                                                  ("LoadImage", "image")}, errors
        assert _valid(_picked(prompt))
        workflow = presets.to_ui_workflow(multipliers, settings)
        queued = _as_the_page_queues_it(workflow)
        assert queued == {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}
        assert _valid(_picked(queued))
        notes = next(n for n in workflow["nodes"] if n["type"] == "Note")["widgets_values"][0]
        assert CHECKPOINT_PLACEHOLDER in notes and ("custom_nodes" in notes) == (node != "UNetTemporal"
                                                                                          "AttentionMultiply")
        assert workflow["extra"]["svd_attention_lab"]["notes"] == notes.split("\n\n")
        for exported in (prompt, workflow):  # and the app reads back the whole setting
            found = presets.from_workflow(exported)
            assert found.multipliers == multipliers
            assert found.settings["steps"] == 10 and (found.settings["start"], found.settings["end"]) == (
                settings["start"], settings["end"])
    assert "custom_nodes" in presets.to_api_prompt(SETTING, scheduled)["2"]["_meta"]["install"]
    # ComfyUI names a missing node by its _meta title ("Node '...' not found"): the folder to install
    assert "comfyui_svd_attention_lab" in presets.to_api_prompt(SETTING, scheduled)["2"]["_meta"]["title"]


def _errors(prompt: dict) -> list[dict]:
    import execution

    valid, error, outputs, node_errors = _run(execution.validate_prompt("1", prompt, None))
    return [{"class_type": e["class_type"], "input": d["extra_info"].get("input_name")}
            for e in node_errors.values() for d in e["errors"]]


def _valid(prompt: dict) -> bool:
    import execution

    valid, error, outputs, node_errors = _run(execution.validate_prompt("1", prompt, None))
    assert valid, (error, node_errors)
    return valid and outputs == ["9"]


def _picked(prompt: dict) -> dict:
    """What a ComfyUI user does with an export that names placeholders: pick the checkpoint and the image."""
    picked = {k: {**v, "inputs": dict(v["inputs"])} for k, v in prompt.items()}
    picked["1"]["inputs"]["ckpt_name"] = "svd_xt.safetensors"
    picked["4"]["inputs"]["image"] = "example.png"
    return picked


def test_the_mp4_that_savevideo_writes_imports_back_exactly(tmp_path):
    """ComfyUI's SaveVideo, given the exported workflow and prompt as the page sends them (the workflow in
    extra_pnginfo), writes an MP4 whose metadata the app reads back: the same setting, exactly."""
    require_comfyui()
    import folder_paths
    from comfy_api.latest import io
    from comfy_extras.nodes_video import CreateVideo, SaveVideo

    settings = RenderSettings(seed=1234, frames=6, steps=12, start=0.15, end=0.85, fps=6).as_dict()
    workflow, prompt = presets.to_ui_workflow(SETTING, settings), presets.to_api_prompt(SETTING, settings)
    folder_paths.set_output_directory(str(tmp_path))
    video = CreateVideo.execute(images=torch.rand(6, 64, 64, 3), fps=6.0).args[0]
    save = SaveVideo.PREPARE_CLASS_CLONE({"hidden_inputs": {io.Hidden.prompt: prompt,
                                                            io.Hidden.extra_pnginfo: {"workflow": workflow}}})
    save.execute(video=video, filename_prefix="video/lab", format="auto", codec="auto")
    (mp4,) = (tmp_path / "video").glob("lab*.mp4")
    found = presets.from_file(mp4)
    assert found.multipliers == SETTING and found.source == "workflow"
    assert found.settings == {**{k: settings[k] for k in ("seed", "steps", "frames", "fps", "motion_bucket_id",
                                                          "noise_aug_strength", "min_guidance", "max_guidance",
                                                          "start", "end")}, "width": 1024, "height": 576}
    data = mp4.read_bytes()  # the prompt alone (a file whose workflow tag was dropped) gives the same
    from_prompt = presets.from_workflow(json.loads(_video_text(data, "prompt")))
    assert from_prompt.multipliers == SETTING and from_prompt.settings == found.settings


def _video_text(data: bytes, key: str) -> str:
    from presets._images import video_texts

    text, encoding = video_texts(data)[key]
    return text.decode(encoding)


def test_comfyuis_noise_uses_a_seeds_low_32_bits_as_the_import_reads_it():
    """Why a workflow's seed past 2**32 imports as seed mod 2**32: ComfyUI's noise is the same."""
    require_comfyui()
    import comfy.sample

    latent = torch.zeros(2, 4, 8, 8)
    big = 237514639057514  # the seed of ComfyUI's own SVD example workflows
    assert torch.equal(comfy.sample.prepare_noise(latent, big), comfy.sample.prepare_noise(latent, big % 2**32))
    assert not torch.equal(comfy.sample.prepare_noise(latent, big), comfy.sample.prepare_noise(latent, big + 1))
    found = presets.from_workflow({"1": {"class_type": "KSampler", "inputs": {"seed": big, "steps": 20}},
                                   "2": {"class_type": "ImageOnlyCheckpointLoader",
                                         "inputs": {"ckpt_name": "svd.safetensors"}}})
    assert found.settings["seed"] == big % 2**32 and any("low 32 bits" in w for w in found.warnings)


def test_with_every_step_and_no_factors_the_nodes_patches_are_the_seed_nodes(lab_node, files):
    from comfy_extras.nodes_attention_multiply import UNetTemporalAttentionMultiply

    values = {"self_structural": 1.1, "self_temporal": 0.6, "cross_structural": 1.3, "cross_temporal": 0.9}
    (seed,) = UNetTemporalAttentionMultiply.execute(files["model"], **values).args
    (ours,) = lab_node.execute(files["model"], **values, start_percent=0.0, end_percent=1.0).args
    assert ours.patches == seed.patches and len(seed.patches) > 0
    for key in seed.patches:  # and the weights ComfyUI computes from them
        assert torch.equal(ours.patch_weight_to_device(key, return_weight=True),
                           seed.patch_weight_to_device(key, return_weight=True))


def _comfyui_weights_per_step(model, steps):
    """The attention output weights at every UNet call of a ComfyUI sampler run, by step, and the run's sigmas."""
    import comfy.patcher_extension
    import comfy.sample

    recorded, run = {}, []

    def record(executor, *args, **kwargs):
        options = next(a for a in (*args, kwargs.get("transformer_options")) if isinstance(a, dict) and "sigmas" in a)
        sigmas = [float(s) for s in options["sample_sigmas"]]
        run[:] = sigmas
        step = sigmas.index(float(options["sigmas"][0]))
        weights = {k: v.detach().clone() for k, v in executor.class_obj.state_dict().items() if ".to_out.0." in k}
        recorded.setdefault(step, []).append(weights)
        return executor(*args, **kwargs)

    model = model.clone()
    model.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "record", record)
    frames = 4
    extra = {"motion_bucket_id": 127, "fps": 6, "augmentation_level": 0.0}
    positive = [[torch.randn(1, 1, 64), extra | {"concat_latent_image": torch.randn(frames, 4, 8, 8)}]]
    negative = [[torch.zeros(1, 1, 64), extra | {"concat_latent_image": torch.zeros(frames, 4, 8, 8)}]]
    latent = torch.zeros(frames, 4, 8, 8)
    comfy.sample.sample(model, torch.randn(frames, 4, 8, 8), steps, 2.5, "euler", "karras", positive, negative, latent,
                        disable_pbar=True)
    return recorded, run


def _app_weights_per_step(path, settings):
    """The same during the app's render: the baseline's calls, then the patched video's (which resumes
    from the baseline at the schedule's first step), by step."""
    model = load_model(path)
    unet = model.pipe.unet
    timesteps, calls = [], []

    def record(module, args, kwargs):
        calls.append((float(args[1] if len(args) > 1 else kwargs["timestep"]),
                      {k: v.detach().clone() for k, v in unet.state_dict().items() if ".to_out.0." in k}))

    handle = unet.register_forward_pre_hook(record, with_kwargs=True)
    try:
        Previewer(model).render(IMAGE, settings, SETTING)
    finally:
        handle.remove()
    timesteps = [t for t, _ in calls[:settings.steps]]  # the baseline's, one call per step
    by_step = {i: w for i, (_, w) in enumerate(calls[:settings.steps])}
    by_step |= {timesteps.index(t): w for t, w in calls[settings.steps:]}  # the patched video where it ran
    return by_step, unet


def test_the_node_schedules_in_sigma_space_as_comfyuis_own_percent_to_sigma(lab_node, files):
    """Start 0.3, end 0.7 at 10 Karras steps: ComfyUI's own model_sampling.percent_to_sigma puts steps 5 to 7
    in the window (sigma 15.2 to 0.1); the node patches exactly the calls of those steps, with the global value
    times the region factor, and the reader's torch-free percent_to_sigma is ComfyUI's."""
    from comfyui_svd_attention_lab import setting as reader

    sampling = files["model"].get_model_object("model_sampling")
    for percent in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        assert reader.percent_to_sigma(percent) == pytest.approx(float(sampling.percent_to_sigma(percent)),
                                                                 rel=1e-6)  # ComfyUI holds sigma_min in float32
    (patched,) = lab_node.execute(files["model"], **SETTING.node_values(), start_percent=0.3, end_percent=0.7,
                                  up_self_temporal=0.5).args
    comfy, sigmas = _comfyui_weights_per_step(patched, SCHEDULED.steps)
    window = [i for i, sigma in enumerate(sigmas[:-1])
              if sampling.percent_to_sigma(0.7) <= sigma <= sampling.percent_to_sigma(0.3)]
    assert window == list(reader.scheduled_steps(0.3, 0.7, sigmas)) == [5, 6, 7]
    up = "output_blocks.3.1.time_stack.0.attn1.to_out.0.weight"
    for step in range(10):
        for weights in comfy[step]:  # every call of the step (the sampler's cond and uncond share one)
            ratio = weights[up] / comfy[0][0][up]
            expected = 0.6 * 0.5 if step in window else 1.0
            assert torch.allclose(ratio[comfy[0][0][up] != 0], torch.tensor(expected), rtol=1e-5), step
    text = presets.Preset(name="x", multipliers=SETTING, settings={"start": 0.3, "end": 0.7}).to_json()
    (from_text,) = lab_node.execute(files["model"], **Multipliers().node_values(), start_percent=0.0,
                                    end_percent=1.0, setting=text).args
    again, _ = _comfyui_weights_per_step(from_text, SCHEDULED.steps)
    assert all(torch.equal(again[i][0][up], comfy[i][0][up]) for i in range(10))
    old = json.loads(text) | {"version": 3, "settings": {"start": 0.3, "end": 0.7, "steps": 10}}  # step fractions
    (upgraded,) = lab_node.execute(files["model"], **Multipliers().node_values(), start_percent=0.0,
                                   end_percent=1.0, setting=json.dumps(old)).args
    steps, _ = _comfyui_weights_per_step(upgraded, SCHEDULED.steps)
    assert [i for i in range(10) if not torch.equal(steps[i][0][up], comfy[0][0][up])] == [3, 4, 5, 6]


def test_the_node_applies_the_apps_multipliers_at_every_step_of_a_comfyui_sampler(lab_node, files):
    """The same setting in the app's render: at each step the app's UNet has bitwise the weights each UNet
    call in ComfyUI sees (the app's schedule follows ComfyUI's sigma-space rule)."""
    (patched,) = lab_node.execute(files["model"], **SETTING.node_values(), start_percent=0.3, end_percent=0.7,
                                  up_self_temporal=0.5).args
    comfy, _ = _comfyui_weights_per_step(patched, SCHEDULED.steps)
    app, unet = _app_weights_per_step(files["ours"], SCHEDULED)
    assert sorted(comfy) == list(range(10)) == sorted(app)
    layout_names = {k: sgm_to_diffusers(k, _layout(unet)) for k in comfy[0][0]}
    for step in range(10):
        for weights in comfy[step]:
            for key, weight in weights.items():
                assert torch.equal(weight, app[step][layout_names[key]]), (step, key)


def _run(coroutine):
    """ComfyUI's coroutines, on a thread of their own: other tests leave an event loop running on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _layout(unet):
    from svd_attention_lab.checkpoints import UnetLayout

    return UnetLayout.from_config(unet.config)
