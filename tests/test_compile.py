"""--compile: the compiled UNet renders what the eager one does, and a slider change does not recompile.

Inductor compiles on the CPU here (a couple of minutes for the demo UNet); on a GPU it is the same code.
"""

import numpy as np
import pytest
import torch

from controls import Multipliers
from preview import ModelLoadError, Previewer, RenderSettings, load_model

FAST = RenderSettings(seed=4, frames=4, steps=2, decode_chunk_size=4)


def graphs() -> int:
    return int(torch._dynamo.utils.counters["stats"]["unique_graphs"])


def test_compiled_unet_follows_every_slider_change_without_recompiling(demo_model, sample_image, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # never a shared, possibly broken cache
    torch._dynamo.reset()
    compiled = load_model("demo", device="cpu", dtype="float32", compile=True)
    eager, fast = Previewer(demo_model), Previewer(compiled)
    first, second = Multipliers(self_temporal=0.3), Multipliers(self_temporal=1.8, cross_structural=0.5)

    got_first = fast.render(sample_image, FAST, first)  # compiles here
    compiled_graphs = graphs()
    got_second = fast.render(sample_image, FAST, second)  # a slider change: same graph, new weights
    assert compiled_graphs > 0 and graphs() == compiled_graphs

    for got, m in ((got_first, first), (got_second, second)):
        want = eager.render(sample_image, FAST, m)
        assert np.abs(got.patched.astype(int) - want.patched.astype(int)).max() <= 2  # same frames, to rounding
        assert np.abs(got.baseline.astype(int) - want.baseline.astype(int)).max() <= 2
    assert not np.array_equal(got_first.patched, got_second.patched)


def test_compile_is_refused_on_zerogpu(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    with pytest.raises(ModelLoadError, match="ZeroGPU does not support torch.compile"):
        load_model("demo", device="cpu", compile=True)
