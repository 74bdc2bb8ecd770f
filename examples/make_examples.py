"""Regenerate the bundled example images (procedural, so free of any licence): python examples/make_examples.py"""

from pathlib import Path

import numpy as np
from PIL import Image

from svd_attention_lab.demo_model.synthetic import make_video

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    for i, seed in enumerate((11, 23, 37, 41)):
        frame = make_video(np.random.default_rng(seed), motion_bucket_id=0, frames=1, size=256)[0]
        Image.fromarray(frame).save(HERE / f"shapes-{i + 1}.png", optimize=True)
