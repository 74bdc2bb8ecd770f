"""Peak memory of loading a whole single-file SVD-XT checkpoint, against the loaded model's size.

    python bench/single_file_memory.py [--dir /tmp] [--dtype float16|float32]

Builds SVD-XT (UNet, temporal VAE, ViT-H image encoder) from the published configuration with
random fp16 weights, saves it as a diffusers folder, converts that with ``python -m svd_attention_lab.checkpoints
convert`` into one file in Stability's layout (printing the converter's peak RSS), then, in a fresh
process, loads the file with ``engine.load_model`` as ``python app.py --model FILE`` does, and prints
peak RSS / model size (at most 1.25 is the target) and the growth during the load / model size.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WRITE = """
import sys, torch
from diffusers import StableVideoDiffusionPipeline
from bench.svd_xt import svd_xt_components
StableVideoDiffusionPipeline(**svd_xt_components("cpu", torch.float16)).save_pretrained(sys.argv[1])
"""

CONVERT = """
import resource, sys
from svd_attention_lab.checkpoints import convert
report = convert(sys.argv[1], sys.argv[2])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"converter: {report.tensors} tensors, {report.bytes_written / 2**30:.2f} GiB written; peak RSS {peak:.2f} GiB")
"""

LOAD = """
import resource, sys, torch
from svd_attention_lab.engine import load_model
import diffusers, transformers  # imported before the baseline, as the app has them
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
before = rss()
model = load_model(sys.argv[1], device="cpu", dtype=sys.argv[2])
pipe = model.pipe
size = sum(t.numel() * t.element_size() for part in (pipe.unet, pipe.vae, pipe.image_encoder)
           for t in [*part.parameters(), *part.buffers()]) / 2**30
peak = rss()
print(f"{model.describe()}")
print(f"model {size:.2f} GiB; peak RSS {peak:.2f} GiB ({before:.2f} before loading); "
      f"peak / model {peak / size:.2f}; growth / model {(peak - before) / size:.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--dtype", default="float16", choices=("float16", "float32"))
    args = parser.parse_args()
    folder, path = args.dir / "svd_xt_random", args.dir / "svd_xt_random.safetensors"
    try:
        subprocess.run([sys.executable, "-c", WRITE, str(folder)], cwd=ROOT, check=True)
        subprocess.run([sys.executable, "-c", CONVERT, str(folder), str(path)], cwd=ROOT, check=True)
        shutil.rmtree(folder)
        subprocess.run([sys.executable, "-c", LOAD, str(path), args.dtype], cwd=ROOT, check=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        path.unlink(missing_ok=True)

if __name__ == "__main__":
    main()
