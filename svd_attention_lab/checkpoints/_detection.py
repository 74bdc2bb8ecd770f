"""Whether ComfyUI's checkpoint loaders will recognise a single file as SVD, from its tensor shapes alone.

ComfyUI (v0.14.2, ``comfy/model_detection.py``) reads a UNet configuration off the file's shapes and
picks the first supported model whose fixed configuration it matches; its ``SVD_img2vid`` fixes eight
values (``comfy/supported_models.py``). A file whose UNet differs in any of them (a small model such as
the demo model) is refused with "Could not detect model type". The values here are read the way that
detection reads them: the first convolution's shape, the transformer blocks counted per input block,
the first cross-attention's key width, and so on.
"""

from __future__ import annotations

import re
from typing import Mapping

UNET_PREFIX = "model.diffusion_model."
# ComfyUI's SVD_img2vid.unet_config: what a file's UNet must show to be detected as SVD
SVD_DETECTION = {
    "model_channels": 320,
    "in_channels": 8,
    "use_linear_in_transformer": True,
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
    "context_dim": 1024,
    "adm_in_channels": 768,
    "use_temporal_attention": True,
    "use_temporal_resblock": True,
}
_INPUT_BLOCK = re.compile(r"input_blocks\.(\d+)\.")


def comfyui_detection(shapes: Mapping[str, tuple[int, ...]], prefix: str = UNET_PREFIX) -> dict:
    """The eight values ComfyUI's detection compares, as it would read them from these tensor shapes."""
    first = shapes.get(f"{prefix}input_blocks.0.0.weight", ())
    label = shapes.get(f"{prefix}label_emb.0.0.weight")
    found = {"model_channels": first[0] if first else None, "in_channels": first[1] if len(first) > 1 else None,
             "use_linear_in_transformer": False, "transformer_depth": [], "context_dim": None,
             "adm_in_channels": label[1] if label else None, "use_temporal_attention": False,
             "use_temporal_resblock": False}
    blocks = sorted({int(m.group(1)) for key in shapes if key.startswith(prefix)
                     and (m := _INPUT_BLOCK.match(key[len(prefix):]))})
    for block in blocks:
        at = f"{prefix}input_blocks.{block}."
        if f"{at}0.in_layers.0.weight" not in shapes:  # the input convolution, or a downsampler
            continue
        transformers = {key[len(f"{at}1.transformer_blocks."):].split(".", 1)[0] for key in shapes
                        if key.startswith(f"{at}1.transformer_blocks.")}
        found["transformer_depth"].append(len(transformers))
        if transformers and found["context_dim"] is None:
            key_width = shapes.get(f"{at}1.transformer_blocks.0.attn2.to_k.weight", (None, None))
            found["context_dim"] = key_width[1]
            found["use_linear_in_transformer"] = len(shapes.get(f"{at}1.proj_in.weight", ())) == 2
            temporal = any(key.startswith(f"{at}1.time_stack.") for key in shapes)
            found["use_temporal_attention"] = found["use_temporal_resblock"] = temporal
    return found


def comfyui_detection_note(shapes: Mapping[str, tuple[int, ...]], name: str) -> str | None:
    """A sentence saying why ComfyUI will not detect the file as SVD, or None when it will."""
    found = comfyui_detection(shapes)
    differ = [f"{key} {_shown(found[key])} (SVD's: {_shown(value)})" for key, value in SVD_DETECTION.items()
              if found[key] != value]
    if not differ:
        return None
    return (f"ComfyUI will not detect {name} as SVD (its loaders say 'Could not detect model type'): of the values "
            f"its detection compares, {'; '.join(differ)}. The app and this converter read it; ComfyUI reads only "
            "SVD's real sizes.")


def _shown(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
