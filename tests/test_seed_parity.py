"""The same seed gives the same video in the app and in ComfyUI (reference numerics, the default).

The API prompt the app exports, run by ComfyUI's own executor (its checkpoint loader, SVD conditioning,
VideoLinearCFGGuidance, KSampler with euler/karras, VAE decode) on a small SVD that ComfyUI detects, gives
the app's frames for the same setting and seed. ``--numerics diffusers`` keeps the stock pipeline's noise.

ComfyUI is imported from ``$COMFYUI_DIR`` or ``../shared/third_party/ComfyUI`` (see comfyui_harness);
without a checkout the ComfyUI tests skip, naming COMFYUI_DIR.
"""

import asyncio
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

import presets
from svd_attention_lab.checkpoints import convert
from svd_attention_lab.controls import Multipliers, Regions
from svd_attention_lab.engine import DEMO_MODEL_DIR, Previewer, RenderSettings, load_model, prepare_image
from comfyui_harness import (DETECTED_IMAGE_ENCODER, DETECTED_UNET, NODE_DIR, named_image_encoder, require_comfyui,
                             tiny_svd_folder, write_image_encoder_config)

IMAGE = DEMO_MODEL_DIR.parents[2] / "examples" / "shapes-2.png"
SMALL = dict(frames=2, width=64, height=64, decode_chunk_size=2)
M = Multipliers(self_temporal=0.3, cross_structural=1.7)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _stock(model, settings, multipliers, **noise):
    """The stock pipeline's frames with ``multipliers`` applied for the whole call."""
    width, height = settings.resolved_size(model)
    s = settings
    with model.patch.applied(multipliers):
        frames = model.pipe(prepare_image(IMAGE, width, height), height=height, width=width, num_frames=s.frames,
                            num_inference_steps=s.steps, min_guidance_scale=s.min_guidance,
                            max_guidance_scale=s.max_guidance, fps=s.fps, motion_bucket_id=s.motion_bucket_id,
                            noise_aug_strength=s.noise_aug_strength, decode_chunk_size=s.decode_chunk_size,
                            output_type="np", **noise).frames[0]
    return (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)


def test_diffusers_numerics_keep_the_stock_pipelines_noise(demo_model):
    """Augmentation noise first, then the latents, from the seed's generator: the stock pipeline, bitwise;
    the reference render (ComfyUI's order) is another video of the same seed."""
    diffusers_model = load_model("demo", device="cpu", dtype="float32", numerics="diffusers")
    settings = RenderSettings(seed=5, frames=4, steps=6, decode_chunk_size=4)
    assert settings.noise_aug_strength > 0  # the default: the order matters
    ours = Previewer(diffusers_model).render(IMAGE, settings, M).patched
    stock = _stock(diffusers_model, settings, M, generator=torch.Generator().manual_seed(settings.seed))
    assert np.array_equal(ours, stock)
    reference = Previewer(demo_model).render(IMAGE, settings, M).patched
    assert not np.array_equal(reference, ours)


def _first_latents(model, settings):
    """The initial latents of a render (scaled by the scheduler), as the pipeline prepares them."""
    seen = []
    own = model.pipe.prepare_latents
    model.pipe.prepare_latents = lambda *args, **kwargs: seen.append(own(*args, **kwargs)) or seen[-1]
    try:
        Previewer(model).render(IMAGE, settings, Multipliers())
    finally:
        del model.pipe.prepare_latents
    return seen[0]


@pytest.mark.parametrize("seed", [0, 42, 2**32 - 1])
def test_reference_latents_are_the_noise_comfyuis_ksampler_draws(demo_model, seed):
    require_comfyui()
    import comfy.sample

    settings = RenderSettings(seed=seed, frames=3, steps=2, decode_chunk_size=3)
    latents = _first_latents(demo_model, settings)
    frames, channels, height, width = latents.shape[1:]
    empty = torch.zeros(frames, channels, height, width)  # SVD_img2vid_Conditioning's latent
    comfy_noise = comfy.sample.prepare_noise(empty, seed)
    assert torch.equal(latents[0], comfy_noise * demo_model.pipe.scheduler.init_noise_sigma)


# --- the exported prompt, run in ComfyUI ----------------------------------------------------------------


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory):
    """ComfyUI's executor with its built-in nodes and the project's node, a small SVD it detects (as a
    single file the converter wrote), and the model as the app loads it."""
    require_comfyui()
    import execution
    import folder_paths
    import nodes

    tmp = tmp_path_factory.mktemp("seed_parity")
    folder = tiny_svd_folder(tmp / "folder", unet=DETECTED_UNET, image_encoder=DETECTED_IMAGE_ENCODER)
    path = tmp / "svd_small.safetensors"
    convert(folder, path)
    shutil.rmtree(folder)
    for name in ("checkpoints", "input", "output"):
        (tmp / name).mkdir()
    folder_paths.add_model_folder_path("checkpoints", str(tmp / "checkpoints"))
    folder_paths.set_input_directory(str(tmp / "input"))
    folder_paths.set_output_directory(str(tmp / "output"))
    _run(nodes.init_builtin_extra_nodes())
    assert _run(nodes.load_custom_node(str(NODE_DIR)))
    with pytest.MonkeyPatch.context() as patch:
        named_image_encoder(patch, write_image_encoder_config(tmp / "image_encoder.json", DETECTED_IMAGE_ENCODER))
        decoded = []
        own_decode = nodes.VAEDecode.decode

        def decode(self, vae, samples):  # the frames the graph decodes, before SaveVideo encodes them
            out = own_decode(self, vae, samples)
            decoded.append(out[0])
            return out

        patch.setattr(nodes.VAEDecode, "decode", decode)
        server = type("Server", (), {"client_id": None, "last_node_id": None, "send_sync": lambda *a, **k: None,
                                     "queue_updated": lambda self: None})()
        executor = execution.PromptExecutor(server, cache_args={"lru": 0, "ram": 0})
        yield {"tmp": tmp, "path": path, "executor": executor, "decoded": decoded, "model": load_model(path)}


def _comfyui_frames(comfyui, prompt, image: Image.Image) -> np.ndarray:
    """Run ``prompt`` as ComfyUI runs a queued prompt; its files are put where it names them."""
    import execution

    (loader,) = [n for n in prompt.values() if n["class_type"] == "ImageOnlyCheckpointLoader"]
    (load_image,) = [n for n in prompt.values() if n["class_type"] == "LoadImage"]
    target = comfyui["tmp"] / "checkpoints" / loader["inputs"]["ckpt_name"]
    if not target.exists():
        shutil.copy(comfyui["path"], target)
    image.save(comfyui["tmp"] / "input" / load_image["inputs"]["image"])
    valid, error, outputs, node_errors = _run(execution.validate_prompt("1", prompt, None))
    assert valid, (error, node_errors)
    comfyui["decoded"].clear()
    with ThreadPoolExecutor(1) as pool:  # execute() runs its own event loop: not on this thread (see _run)
        pool.submit(comfyui["executor"].execute, prompt, "seed-parity", {}, outputs).result()
    assert comfyui["executor"].success, comfyui["executor"].status_messages[-1]
    (frames,) = comfyui["decoded"]
    return (frames.float().clamp(0, 1) * 255).round().to(torch.uint8).numpy()


CASES = {
    # ComfyUI's stock node, no augmentation: the exported prompt reproduces the video in any ComfyUI session
    "plain": (Multipliers(self_temporal=0.6, cross_structural=1.3), RenderSettings(seed=42, steps=4, **SMALL,
                                                                                   noise_aug_strength=0.0)),
    # the project's node (schedule 0.3-0.7: steps 5-7 of 10; a region factor), SVD's default augmentation 0.02
    "schedule+region": (Multipliers(self_temporal=0.6, regions=Regions.from_flat({"up.self_temporal": 0.5})),
                        RenderSettings(seed=7, steps=10, start=0.3, end=0.7, **SMALL)),
}


@pytest.mark.parametrize("case", CASES)
def test_the_exported_prompt_run_in_comfyui_gives_the_apps_frames(comfyui, case):
    multipliers, settings = CASES[case]
    model = comfyui["model"]
    image = prepare_image(IMAGE, settings.width, settings.height)  # the render's own pixels: no resize on either side
    prompt = presets.to_api_prompt(multipliers, settings.as_dict(), checkpoint="svd_small.safetensors",
                                   image="start.png")
    if settings.noise_aug_strength > 0:
        # ComfyUI draws the augmentation noise from its process-wide generator, which no seed sets; put it
        # where the app draws it from (the seed's generator, after the latents) to compare the frames.
        latent = (1, settings.frames, 4, settings.height // 8, settings.width // 8)
        torch.manual_seed(settings.seed)
        torch.randn(latent)
    theirs = _comfyui_frames(comfyui, prompt, image)
    comparison = Previewer(model).render(image, settings, multipliers)
    ours, baseline = comparison.patched, comparison.baseline
    difference = np.abs(theirs.astype(int) - ours.astype(int))
    effect = np.abs(ours.astype(int) - baseline.astype(int))
    print(f"{case}: app vs ComfyUI {_psnr(theirs, ours):.1f} dB, at most {difference.max()} levels apart "
          f"(mean {difference.mean():.3f}); the patch's own effect {_psnr(ours, baseline):.1f} dB, at most "
          f"{effect.max()} levels (mean {effect.mean():.3f})")
    assert theirs.shape == ours.shape
    assert difference.max() <= 2
    assert effect.mean() > 10 * difference.mean() and effect.max() > difference.max()  # the patch shows through


def _run(coroutine):
    """ComfyUI's coroutines, on a thread of their own: other tests leave an event loop running on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
