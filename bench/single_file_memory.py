"""Peak memory of loading a single-file checkpoint's UNet, against the UNet's own size.

    python bench/single_file_memory.py [--dir /tmp]   # writes a 3 GB SVD-XT UNet file (random fp16), then loads it

Builds SVD-XT's UNet from the published configuration with random weights, writes it in SGM naming
as one .safetensors file, then, in a fresh process, builds an empty UNet and reads the file into it
with preview's single-file loader, printing peak RSS / UNet size (at most 1.25 is the target).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WRITE = """
import sys, torch
from safetensors.torch import save_file
from diffusers import UNetSpatioTemporalConditionModel
from patcher import diffusers_to_sgm
from preview._architecture import svd_xt_config
torch.set_default_dtype(torch.float16)
unet = UNetSpatioTemporalConditionModel(**{k: v for k, v in svd_xt_config("unet").items() if not k.startswith("_")})
save_file({diffusers_to_sgm(k): v.contiguous() for k, v in unet.state_dict().items()}, sys.argv[1])
"""

LOAD = """
import resource, sys, torch
from diffusers import UNetSpatioTemporalConditionModel
from preview._architecture import svd_xt_config
from preview._single_file import load_unet_weights
torch.set_default_dtype(torch.float16)
with torch.device("meta"):
    unet = UNetSpatioTemporalConditionModel(**{k: v for k, v in svd_xt_config("unet").items() if not k.startswith("_")})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
unet = unet.to_empty(device="cpu")
size = sum(p.numel() * p.element_size() for p in unet.parameters()) / 2**30
load_unet_weights(unet, sys.argv[1])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"UNet {size:.2f} GiB; peak RSS {peak:.2f} GiB ({before:.2f} before loading); "
      f"peak / UNet {peak / size:.2f}; growth / UNet {(peak - before) / size:.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    path = args.dir / "svd_xt_unet_random.safetensors"
    try:
        subprocess.run([sys.executable, "-c", WRITE, str(path)], cwd=ROOT, check=True)
        subprocess.run([sys.executable, "-c", LOAD, str(path)], cwd=ROOT, check=True)
    finally:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
