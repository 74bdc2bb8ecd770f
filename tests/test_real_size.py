"""SVD-XT at full size, on the meta device (shapes only, no memory): the published configuration
builds the real architecture, and the patch finds what ComfyUI's node scales there."""

from pathlib import Path

import pytest

from patcher import FIELDS, AttentionPatch
from preview._architecture import svd_xt_components

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"


@pytest.fixture(scope="module")
def unet():
    return svd_xt_components("meta")["unet"]


def test_the_configuration_builds_svd_xts_attention_modules_in_order(unet):
    names = (REAL / "svd_xt_diffusers_attn_processor_names.txt").read_text().split()
    assert list(unet.attn_processors) == names and len(names) == 64


def test_the_patch_finds_32_tensors_per_multiplier_and_3_25_percent_of_the_parameters(unet):
    summary = AttentionPatch(unet).summary()
    assert [summary["groups"][f]["tensors"] for f in FIELDS] == [32, 32, 32, 32]
    assert summary["unet_parameters"] == 1_524_623_082
    assert summary["fraction"] == pytest.approx(0.0325, abs=0.0001)
