"""Peak memory of `python -m svd_attention_lab.checkpoints bake` against the checkpoint size, measured in one run.

    python bench/bake_memory.py [--mib 1024]

Writes a synthetic SGM-named checkpoint of the given size (most of it untouched tensors, some
attention output projections), bakes it in a child process and prints the child's peak RSS growth
and its ratio to the checkpoint size.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, checkpoints, patcher
rss = lambda f: int(next(l for l in open('/proc/self/status') if l.startswith(f)).split()[1])
before = rss('VmRSS:')
checkpoints.bake(sys.argv[1], sys.argv[2], patcher.Multipliers(self_temporal=1.2, cross_temporal=0.8))
print(before, rss('VmHWM:'))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.safetensors", Path(tmp) / "out.safetensors"
        chunk = 32 * 2**20 // 2  # fp16 elements in 32 MiB
        tensors = {f"model.diffusion_model.input_blocks.{i}.0.in_layers.2.weight":
                   torch.zeros(chunk, dtype=torch.float16)
                   for i in range(max(1, args.mib // 32 - 2))}
        for i in range(8):  # 8 MiB each, like SVD's larger attention projections
            name = f"model.diffusion_model.output_blocks.{i}.1.time_stack.0.attn1.to_out.0.weight"
            tensors[name] = torch.ones(2048, 2048, dtype=torch.float16)
        save_file(tensors, str(src))
        del tensors
        size = src.stat().st_size
        out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(dst)], cwd=ROOT, capture_output=True,
                             text=True, check=True)
        before, peak = map(int, out.stdout.split())
        growth = (peak - before) * 1024
        print(f"checkpoint {size / 2**20:.0f} MiB, peak RSS growth {growth / 2**20:.1f} MiB, ratio {growth / size:.3f}")


if __name__ == "__main__":
    main()
