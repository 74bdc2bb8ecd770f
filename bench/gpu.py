"""GPU benchmark: SVD-XT's architecture with random weights (speed does not depend on the weights).

    python bench/gpu.py                  # CUDA, float16, SVD-XT; under 8 minutes on an H200; no Hub
    python bench/gpu.py --tiny           # the embedded demo model on the CPU (CI runs this)
    python bench/gpu.py --json out.json  # also write the figures as JSON (the run prints them)

Measures, in one run: moving the pipeline to the device; seconds per denoising step and per
side-by-side preview (first preview = baseline + patched, slider change = patched only) against a
plain diffusers call at the preview size and at native sizes; applying and restoring all four
multiplier groups (ms, and as a share of one step); peak GPU memory per setting and per
decode_chunk_size; with ahead-of-time compilation (AOTInductor, what ZeroGPU runs), eager vs
compiled per step, the compile's time and proof that a slider change takes effect with one compile;
and with torch.compile, the speed-up and proof (dynamo's graph count) that a slider change takes
effect in the compiled UNet without recompiling. The per-step figures are what svd_attention_lab/engine/_frames.py's
STEP_SECONDS table wants for this GPU class.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from svd_attention_lab import engine, hosting  # noqa: E402
from svd_attention_lab.controls import Multipliers  # noqa: E402
from patcher import AttentionPatch  # noqa: E402
from svd_attention_lab.engine import LoadedModel, ModelSource, Previewer, RenderSettings  # noqa: E402

FIRST, CHANGE = Multipliers(self_temporal=0.8), Multipliers(self_temporal=1.2, cross_temporal=0.9)
ALL_FOUR = Multipliers(1.1, 1.2, 1.3, 1.4)

FULL = {
    "preview 512x320, 8 frames, 10 steps": RenderSettings(frames=8, steps=10, width=512, height=320,
                                                          decode_chunk_size=8),
    "native 1024x576, 14 frames, 25 steps": RenderSettings(frames=14, steps=25, width=1024, height=576,
                                                           decode_chunk_size=14),
    "native 1024x576, 25 frames, 25 steps": RenderSettings(frames=25, steps=25, width=1024, height=576,
                                                           decode_chunk_size=14),
}
TINY = {
    "demo 64x64, 8 frames, 10 steps": RenderSettings(frames=8, steps=10, decode_chunk_size=8),
    "demo 64x64, 4 frames, 3 steps": RenderSettings(frames=4, steps=3, decode_chunk_size=4),
}


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn):
    sync()
    start = time.perf_counter()
    result = fn()
    sync()
    return result, time.perf_counter() - start


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_mib() -> float:
    """Peak GPU memory since the last reset; on the CPU, the process's peak resident memory."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(tiny: bool) -> tuple[LoadedModel, float]:
    if tiny:
        model, seconds = timed(lambda: engine.load_model("demo", device="cpu", dtype="float32"))
        return model, seconds
    from diffusers import StableVideoDiffusionPipeline

    from bench.svd_xt import svd_xt_components

    pipe = StableVideoDiffusionPipeline(**svd_xt_components("cpu", torch.float16))
    pipe.set_progress_bar_config(disable=True)
    _, seconds = timed(lambda: pipe.to("cuda"))
    source = ModelSource("folder", "SVD-XT architecture, random weights")
    model = LoadedModel(pipe, AttentionPatch(pipe.unet), source, "cuda", torch.float16, (1024, 576), 25)
    return model, seconds


def step_times(previewer: Previewer, image, settings, multipliers) -> tuple[float, list[float]]:
    """Seconds for one render with a slider change (cached baseline), and the time of each step."""
    stamps: list[float] = []
    _, seconds = timed(lambda: previewer.render(image, settings, multipliers,
                                               progress=lambda f, t: "step" in t
                                               and (sync(), stamps.append(time.perf_counter()))))
    return seconds, list(np.diff(stamps))


def plain_call(model: LoadedModel, image, settings) -> float:
    width, height = settings.resolved_size(model)
    prepared = engine.prepare_image(image, width, height)
    generator = torch.Generator("cpu").manual_seed(settings.seed)
    _, seconds = timed(lambda: model.pipe(prepared, height=height, width=width, num_frames=settings.frames,
                                          num_inference_steps=settings.steps,
                                          decode_chunk_size=settings.decode_chunk_size,
                                          generator=generator, output_type="np"))
    return seconds


def measure_setting(model: LoadedModel, image, settings: RenderSettings) -> dict:
    previewer = Previewer(model)
    reset_peak()
    _, first = timed(lambda: previewer.render(image, settings, FIRST))
    first_peak = peak_mib()
    reset_peak()
    change, steps = step_times(previewer, image, settings, CHANGE)
    plain = plain_call(model, image, settings)
    per_step = statistics.median(steps[1:] or steps)
    return {
        "seconds_per_step": per_step,
        "first_preview_s": first,
        "slider_change_s": change,
        "plain_diffusers_call_s": plain,
        "first_preview_over_plain": first / plain,
        "slider_change_over_plain": change / plain,
        "peak_memory_mib": max(first_peak, peak_mib()),
    }


def measure_patch(model: LoadedModel, per_step: float, repeats: int = 20) -> dict:
    def cycle():
        for _ in range(repeats):
            model.patch.apply(ALL_FOUR)
            model.patch.restore()

    cycle()  # warm-up
    _, seconds = timed(cycle)
    ms = seconds / repeats * 1000
    return {"apply_and_restore_ms": ms, "share_of_one_step": ms / 1000 / per_step,
            "tensors": model.patch.summary()["total"]["tensors"]}


def measure_decode_chunks(model: LoadedModel, image, settings: RenderSettings, chunks) -> dict:
    peaks = {}
    for chunk in chunks:
        previewer = Previewer(model)
        reset_peak()
        previewer.render(image, settings.replace(steps=1, decode_chunk_size=chunk), Multipliers())
        peaks[str(chunk)] = peak_mib()
    return peaks


def quick_cpu_kernels() -> None:
    """Inductor's C++ kernels built as scalar code at -O0: about half the compile time.

    On the CPU the compile section checks what compiling does (one graph, slider changes seen
    without recompiling, frames as eager's), not how fast the kernels run: the app compiles for
    CUDA, where Inductor writes Triton kernels, not these.
    """
    import torch._inductor.config as inductor

    inductor.cpp.vec_isa_ok = False
    inductor.aot_inductor.debug_compile = True  # -O0 for every C++ build, not only AOTInductor's


def measure_aot(model: LoadedModel, image, settings: RenderSettings) -> dict:
    """Eager vs ahead-of-time compiled, per step, on the same model; the compiled forward is removed after."""
    eager = Previewer(model)
    eager_first = eager.render(image, settings, FIRST).patched
    _, eager_steps = step_times(eager, image, settings, CHANGE)
    compiles = []
    package = torch._inductor.aoti_compile_and_package

    def counted(*args, **kwargs):
        compiles.append(1)
        return package(*args, **kwargs)

    torch._inductor.aoti_compile_and_package = counted
    try:
        forward, compile_s = timed(lambda: hosting.compile_ahead_of_time(model, image, settings))
    finally:
        torch._inductor.aoti_compile_and_package = package
    try:
        compiled = Previewer(model)
        _, first_s = timed(lambda: compiled.render(image, settings, FIRST))  # loads the package here
        first = compiled.render(image, settings, FIRST).patched
        change_s, aot_steps = step_times(compiled, image, settings, CHANGE)
        changed = compiled.render(image, settings, CHANGE).patched
    finally:
        model.pipe.unet.__dict__.pop("forward", None)
    return {
        "compile_s": compile_s,
        "first_compiled_preview_s": first_s,
        "aot_step_over_eager_step": statistics.median(aot_steps) / statistics.median(eager_steps),
        "aot_slider_change_s": change_s,
        "compiles": len(compiles),
        "eager_fallback_calls": forward.calls["eager"],
        "slider_change_takes_effect": not np.array_equal(first, changed),
        "max_difference_from_eager_levels": int(np.abs(first.astype(int) - eager_first.astype(int)).max()),
    }


def measure_compile(model: LoadedModel, image, settings: RenderSettings) -> dict:
    counters = torch._dynamo.utils.counters
    eager = Previewer(model)
    eager_first = eager.render(image, settings, FIRST).patched
    eager_change, eager_steps = step_times(eager, image, settings, CHANGE)
    torch._dynamo.reset()
    model.pipe.unet.compile()
    compiled = Previewer(model)
    _, compile_s = timed(lambda: compiled.render(image, settings, FIRST))  # compiles here
    graphs = counters["stats"]["unique_graphs"]
    first = compiled.render(image, settings, FIRST).patched
    change_s, compiled_steps = step_times(compiled, image, settings, CHANGE)
    changed = compiled.render(image, settings, CHANGE).patched
    return {
        "first_compiled_preview_s": compile_s,
        "compiled_step_over_eager_step": statistics.median(compiled_steps) / statistics.median(eager_steps),
        "compiled_slider_change_s": change_s,
        "eager_slider_change_s": eager_change,
        "graphs_after_first_preview": graphs,
        "recompiles_on_slider_changes": counters["stats"]["unique_graphs"] - graphs,
        "slider_change_takes_effect": not np.array_equal(first, changed),
        "max_difference_from_eager_levels": int(np.abs(first.astype(int) - eager_first.astype(int)).max()),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the demo model on the CPU, for CI")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON too")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile measurements (AoT and "
                        "torch.compile)")
    parser.add_argument("--inductor-cache", type=Path, help="Inductor's cache folder (default: a fresh one for this "
                        "run, removed at the end, so a compile killed earlier can never break this one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="svd-lab-inductor-") as fresh:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(args.inductor_cache or fresh)
        return run(args, parser)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    if not args.tiny and not torch.cuda.is_available():
        parser.error("no CUDA device; run with --tiny on the CPU")
    torch.manual_seed(0)

    model, load_s = build(args.tiny)
    image = Image.open(ROOT / "examples" / "shapes-1.png")
    settings = TINY if args.tiny else FULL
    report = {
        "device": (hosting.gpu_class() if not args.tiny
                   else f"cpu ({platform.processor() or platform.machine()})"),
        "torch": torch.__version__,
        "model": "demo (tiny)" if args.tiny else "SVD-XT architecture, random weights, float16",
        "load_to_device_s": load_s,
        "settings": {},
    }
    for name, s in settings.items():
        report["settings"][name] = measure_setting(model, image, s)
        print(f"{name}: " + ", ".join(f"{k} {v:.3g}" for k, v in report["settings"][name].items()), flush=True)
    native = list(settings.values())[1 if args.tiny else 1]
    native_step = report["settings"][list(settings)[1]]["seconds_per_step"]
    report["patch"] = measure_patch(model, native_step)
    report["decode_chunk_peak_mib"] = measure_decode_chunks(model, image, native,
                                                            (2, 4, 8) if args.tiny else (2, 8, 14))
    if not args.no_compile:
        small = native.replace(frames=2, steps=2, decode_chunk_size=2) if args.tiny else list(settings.values())[0]
        if args.tiny:
            quick_cpu_kernels()
        report["aot"] = measure_aot(model, image, small)  # first: torch.compile below compiles the module in place
        report["compile"] = measure_compile(model, image, small)
        if args.tiny:
            report["compile"]["cpu_kernels"] = "scalar, -O0 (built to check the compile, not for speed)"
    print(f"load to device {load_s:.2f} s; apply + restore of all four groups "
          f"{report['patch']['apply_and_restore_ms']:.2f} ms ({report['patch']['share_of_one_step']:.2%} of a step)")
    print(f"peak memory by decode_chunk_size: {report['decode_chunk_peak_mib']}")
    if "aot" in report:
        print("ahead of time: " + ", ".join(f"{k} {v}" for k, v in report["aot"].items()))
    if "compile" in report:
        print("compile: " + ", ".join(f"{k} {v}" for k, v in report["compile"].items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
