"""Which state-dict keys the operation touches, for the SGM/ComfyUI and the diffusers naming."""

from __future__ import annotations

import re
from collections import Counter
from typing import NamedTuple

from ._families import SVD, ModelFamily, detect_family, is_attention_output, is_temporal

# Full single-file checkpoints also hold the VAE and the image encoder; only the UNet is patched.
NON_UNET_PREFIXES = ("first_stage_model.", "conditioner.", "cond_stage_model.", "vae.", "image_encoder.")

_KINDS = (("attn1.", "self"), ("attn2.", "cross"))  # self- and cross-attention, as ComfyUI's rule tells them
_REGIONS = (
    (re.compile(r"(^|\.)(input_blocks|down_blocks)\."), "down"),
    (re.compile(r"(^|\.)(middle_block|mid_block)\."), "mid"),
    (re.compile(r"(^|\.)(output_blocks|up_blocks)\."), "up"),
)

KEY_REGIONS = ("down", "mid", "up", "other")  # controls.REGIONS, plus keys outside the three


class KeyMatch(NamedTuple):
    field: str  # one of Multipliers' fields
    region: str  # "down", "mid", "up" or "other"


def match_key(name: str, family: ModelFamily = SVD) -> KeyMatch | None:
    """Classify one state-dict key by ``family``'s naming: the multiplier and UNet region that apply, or None."""
    suffix = next((s for s in family.attention_suffixes if name.endswith(s)), None)
    attention = next((kind for prefix, kind in _KINDS if suffix and suffix.startswith(prefix)), None)
    if attention is None or name.startswith(NON_UNET_PREFIXES):
        return None
    field = f"{attention}_{'temporal' if is_temporal(name, family) else 'structural'}"
    region = next((region for pattern, region in _REGIONS if pattern.search(name)), "other")
    return KeyMatch(field, region)


def classify_key(name: str) -> str | None:
    """The multiplier field that scales the tensor ``name``, or None when it is not touched."""
    match = match_key(name)
    return match.field if match else None


def family_warnings(names: list[str]) -> list[str]:
    """What ComfyUI's rule would and would not scale in a checkpoint of another video family."""
    family = detect_family(names)
    if family is None or family is SVD:
        return []
    temporal = [n for n in names if is_temporal(n, family) and is_attention_output(n, family)]
    scaled = Counter(field for n in temporal if (field := classify_key(n)) is not None)
    text = f"this checkpoint is {family.name}, not SVD: {family.note}"
    if temporal:
        as_what = ", ".join(f"{count} as {field}" for field, count in sorted(scaled.items())) or "none of them"
        text += (f" ComfyUI's rule (followed here exactly) knows only SVD's temporal naming; of its {len(temporal)} "
                 f"temporal attention output tensors it scales {as_what}, so the *_temporal multipliers do not "
                 "reach them.")
    if not any(classify_key(n) for n in names):
        text += " The node's rule matches no tensor here, so it changes nothing."
    return [text + " The app's preview supports SVD only."]
