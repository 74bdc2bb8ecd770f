"""Compiling the UNet: torch.compile in place on dedicated GPUs; ahead of time (AOTInductor) on ZeroGPU,
with the weights left as the UNet's own tensors so slider changes reach the compiled code.

That the torch.compiled UNet renders what the eager one does and follows slider changes without
recompiling is checked by tests/test_bench.py, which runs bench/gpu.py's compile measurement.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from svd_attention_lab import hosting
from svd_attention_lab.controls import Multipliers
from svd_attention_lab.engine import Previewer, RenderSettings, load_model
from svd_attention_lab.hosting import compile_ahead_of_time

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shapes-1.png"


def test_load_model_compiles_the_unet_in_place(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(type(self).__name__))
    load_model("demo", device="cpu", dtype="float32", compile=True)
    assert compiled == ["UNetSpatioTemporalConditionModel"]


def test_on_zerogpu_compile_never_calls_torch_compile(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(type(self).__name__))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    load_model("demo", device="cpu", dtype="float32", compile=True)
    assert compiled == []


def test_the_app_compiles_ahead_of_time_at_start_up_on_zerogpu_only(monkeypatch):
    import app

    compiled, opened = [], []
    for on_zerogpu in (False, True):
        demo = app.build_demo(hosting.Studio())
        monkeypatch.setattr(demo.lab_page.studio, "compile_ahead_of_time", compiled.append)
        monkeypatch.setattr(app.ui, "open_with_showcase", opened.append)
        monkeypatch.setattr(hosting, "on_zerogpu", lambda: on_zerogpu)
        app.preload(demo)
    assert compiled == [str(Path(app.EXAMPLES_DIR) / "shapes-1.png")] and len(opened) == 2


def test_the_ahead_of_time_unet_follows_slider_changes_with_one_compile(monkeypatch):
    """AOTInductor on the CPU (its C++ kernels scalar at -O0: this checks the mechanism, not speed)."""
    compiles = []
    package = torch._inductor.aoti_compile_and_package
    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", lambda *a, **k: compiles.append(1) or package(*a,
                                                                                                                  **k))
    model = load_model("demo", device="cpu", dtype="float32")
    image = Image.open(EXAMPLE)
    settings = RenderSettings(frames=4, steps=3, decode_chunk_size=4)
    first, change = Multipliers(self_temporal=0.5), Multipliers(self_temporal=1.6, cross_structural=0.7)
    late = settings.replace(start=0.5)  # resumes from the baseline's latents: the forward is swapped and restored
    eager = Previewer(model)
    expected = [eager.render(image, s, m).patched for s, m in ((settings, first), (settings, change), (late, change))]

    with torch._inductor.config.patch({"cpp.vec_isa_ok": False, "aot_inductor.debug_compile": True}):
        forward = compile_ahead_of_time(model, image, settings)
    compiled = Previewer(model)
    got = [compiled.render(image, s, m).patched for s, m in ((settings, first), (settings, change), (late, change))]

    assert compiles == [1]
    assert forward.calls["compiled"] >= 3 * 3 and forward.calls["eager"] == 0  # every UNet call ran compiled
    assert model.pipe.unet.forward is forward
    for want, have in zip(expected, got):
        assert np.abs(want.astype(int) - have.astype(int)).max() <= 2
    assert np.abs(got[0].astype(int) - got[1].astype(int)).max() > 10  # the slider change took effect
    other = RenderSettings(frames=2, steps=1, decode_chunk_size=2)  # other shapes: the eager UNet
    compiled.render(image, other, first)
    assert forward.calls["eager"] > 0
