"""--compile: the UNet is compiled in place, and never on ZeroGPU.

That the compiled UNet renders what the eager one does and follows slider changes without
recompiling is checked by tests/test_bench.py, which runs bench/gpu.py's compile measurement
(Inductor on the CPU, its kernels built scalar at -O0; one compile of the demo UNet takes
about a minute and a half).
"""

import pytest
import torch

from preview import ModelLoadError, load_model


def test_load_model_compiles_the_unet_in_place(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(type(self).__name__))
    load_model("demo", device="cpu", dtype="float32", compile=True)
    assert compiled == ["UNetSpatioTemporalConditionModel"]


def test_compile_is_refused_on_zerogpu(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    with pytest.raises(ModelLoadError, match="ZeroGPU does not support torch.compile"):
        load_model("demo", device="cpu", compile=True)
