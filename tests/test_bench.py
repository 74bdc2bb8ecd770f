"""bench/gpu.py runs end to end on the CPU (--tiny), so the GPU benchmark never rots."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_runs_tiny_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    result = subprocess.run([sys.executable, "bench/gpu.py", "--tiny", "--json", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    for figures in report["settings"].values():
        assert figures["seconds_per_step"] > 0 and figures["plain_diffusers_call_s"] > 0
        assert figures["first_preview_s"] > 0 and figures["slider_change_s"] > 0  # ratios are printed, not asserted
    assert 0 < report["patch"]["apply_and_restore_ms"] and report["patch"]["tensors"] == 56
    assert set(report["decode_chunk_peak_mib"]) == {"2", "4", "8"}
    assert report["aot"]["compiles"] == 1 and report["aot"]["eager_fallback_calls"] == 0
    assert report["aot"]["slider_change_takes_effect"] is True
    assert report["aot"]["max_difference_from_eager_levels"] <= 2
    assert report["aot"]["aot_step_over_eager_step"] > 0  # a ratio to print, not a speed to assert
    assert report["compile"]["recompiles_on_slider_changes"] == 0
    assert report["compile"]["slider_change_takes_effect"] is True
    assert report["compile"]["max_difference_from_eager_levels"] <= 2
