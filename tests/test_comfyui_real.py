"""ComfyUI import on real public workflows: the node's values, SVD's settings, and the truth about the model."""

from presets._comfyui import from_file_bytes
import json
from pathlib import Path

import pytest

import presets
from svd_attention_lab.controls import Multipliers

REAL = Path(__file__).resolve().parent / "fixtures" / "real"
WAN = sorted(REAL.glob("wan21_*.json"))


@pytest.mark.parametrize("path", WAN, ids=lambda p: p.name[:40])
def test_wan_workflows_give_the_nodes_values_and_say_the_node_changes_nothing(path):
    found = from_file_bytes(path.read_bytes())
    assert found.multipliers == Multipliers(1.0, 1.0, 1.2, 1.3)
    assert found.node_id == {"wan21_text2video": "52"}.get(path.name[:16], "68")
    assert found.settings == {"start": 0.0, "end": 1.0}  # Wan's sampler settings are not SVD's; the stock node
    assert found.warnings[0] == "the stock node acts in every step: schedule 0 to 1"
    assert any("Wan 2.x, not SVD" in w and "matches no tensor there and changes nothing" in w for w in found.warnings)
    assert "not imported: its model" in found.message


@pytest.mark.parametrize(
    "name, frames, model",
    [("svd_comfyui_examples__workflow_image_to_video.json", 14, "svd.safetensors"),
     ("svd_xt_comfyui_examples__workflow_txt_to_img_to_video.json", 25, "svd_xt.safetensors")],
)
def test_the_official_svd_examples_give_their_settings(name, frames, model):
    found = from_file_bytes((REAL / name).read_bytes())
    assert found.multipliers == Multipliers()  # they have no such node
    assert found.settings == {"width": 1024, "height": 576, "frames": frames, "motion_bucket_id": 127, "fps": 6,
                              "noise_aug_strength": 0.0, "steps": 20, "max_guidance": 2.5, "min_guidance": 1.0,
                              "seed": 237514639057514 % 2**32, "start": 0.0, "end": 1.0}
    assert model in found.models
    assert found.warnings[0] == "the workflow has no UNetTemporalAttentionMultiply node; the multipliers stay at 1.0"
    # ComfyUI's seeds go to 2**64 - 1, this app's to 2**32 - 1: reduced as ComfyUI's noise reduces them, and said
    assert found.warnings[1] == ("KSampler seed 237514639057514 is read as 2947588714: ComfyUI's noise generator "
                                 "(torch's, on the CPU) keeps a seed's low 32 bits, so 2947588714 draws the same noise")
    preset = found.to_preset()
    assert preset.settings == found.settings


def test_the_v3_node_type_is_read_too():
    doc = json.loads((REAL / WAN[0].name).read_text())
    for node in doc["nodes"]:
        if node["type"] == "UNetTemporalAttentionMultiply":
            node["type"] = "UNetTemporalAttentionMultiply_V3"
    assert presets.from_workflow(doc).multipliers == Multipliers(1.0, 1.0, 1.2, 1.3)
    prompt = {"9": {"class_type": "UNetTemporalAttentionMultiply_V3", "inputs": {"self_temporal": 0.7}},
              "3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 12, "cfg": 2.0}},
              "1": {"class_type": "ImageOnlyCheckpointLoader", "inputs": {"ckpt_name": "svd_xt_1_1.safetensors"}}}
    found = presets.from_workflow(prompt)
    assert found.multipliers.self_temporal == 0.7
    assert found.settings == {"seed": 5, "steps": 12, "max_guidance": 2.0, "start": 0.0, "end": 1.0}
    assert found.warnings == ["the stock node acts in every step: schedule 0 to 1"]
