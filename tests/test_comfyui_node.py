"""The ComfyUI node's own reading of the app's setting, without ComfyUI: the same values the app reads,
the schedule in sigma space, and nothing imported beyond torch and ComfyUI. Torch-free (run on Python 3.10
by .ci/py310)."""

from presets._comfyui import LAB_NODE_TYPE
from presets._comfyui import LAB_INPUTS
import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import presets
from comfyui_harness import NODE_DIR, node_setting
from svd_attention_lab.controls import (FIELDS, MULTIPLIER_MAX, MULTIPLIER_MIN, REGIONS, SETTINGS, Multipliers,
                                       Regions)

_setting = node_setting()
Setting, SettingError, key_target = _setting.Setting, _setting.SettingError, _setting.key_target

values = st.sampled_from([0.0, 0.25, 0.5, 0.8, 1.0, 1.2, 1.37, 2.0, 10.0])
schedules = st.tuples(st.sampled_from([0.0, 0.1, 0.3, 0.5]), st.sampled_from([0.6, 0.7, 0.95, 1.0]))


@st.composite
def whole_settings(draw):
    regions = {f"{r}.{f}": draw(values) for r in REGIONS for f in FIELDS if draw(st.booleans())}
    multipliers = Multipliers(**{f: draw(values) for f in FIELDS}, regions=Regions.from_flat(regions))
    return multipliers, draw(schedules)


def _same(setting, multipliers: Multipliers, start: float, end: float) -> None:
    assert (setting.start, setting.end) == (start, end)
    for region in (*REGIONS, None):
        for field in FIELDS:
            assert setting.value(field, region) == multipliers.value(field, region or "other")


@settings(max_examples=60, deadline=None)
@given(whole_settings())
def test_the_node_reads_presets_links_and_exports_as_the_app_writes_them(chosen):
    multipliers, (start, end) = chosen
    preset = presets.Preset(name="p", multipliers=multipliers, settings={"start": start, "end": end, "seed": 4})
    _same(Setting.from_text(preset.to_json()), multipliers, start, end)
    _same(Setting.from_text(presets.to_url(preset, "https://example.org/lab")), multipliers, start, end)
    _same(Setting.from_text(presets.to_query(preset)), multipliers, start, end)
    workflow = presets.to_ui_workflow(multipliers, {"start": start, "end": end})
    (node,) = [n for n in workflow["nodes"] if n["type"] in (LAB_NODE_TYPE, "UNetTemporalAttentionMultiply")]
    names = LAB_INPUTS if node["type"] == LAB_NODE_TYPE else FIELDS
    widgets = dict(zip(names, node["widgets_values"]))
    _same(Setting.from_node(widgets), multipliers, start if "start_percent" in widgets else 0.0,
          end if "end_percent" in widgets else 1.0)


def test_the_nodes_inputs_are_the_ones_the_app_exports():
    assert LAB_INPUTS == _setting.NODE_INPUTS == (*FIELDS, "start_percent", "end_percent",
                                                          *_setting.REGION_INPUTS, "setting")


def test_the_format_s_bounds_are_the_apps_table():
    """The reader's bounds for what a preset or link carries are the app's render-settings table (and the
    multipliers' bounds): the node refuses exactly what the app's controls refuse."""
    shared = {s.name: (s.kind, s.low, s.high) for s in SETTINGS if s.shared}
    assert {b.name: (b.kind, b.low, b.high) for b in _setting.SETTINGS} == shared
    assert (_setting.MULTIPLIER_MIN, _setting.MULTIPLIER_MAX) == (MULTIPLIER_MIN, MULTIPLIER_MAX)
    assert _setting.DEFAULT_STEPS == next(s.default for s in SETTINGS if s.name == "steps")  # version 3's steps
    assert all(hasattr(_setting, name) for name in _setting.__all__)


@pytest.mark.parametrize("percent, sigma", [(0.0, 999999999.9), (1.0, 0.0), (0.5, (700 * 0.002) ** 0.5)])
def test_percent_to_sigma_is_log_linear_between_svds_sigmas(percent, sigma):
    assert _setting.percent_to_sigma(percent) == pytest.approx(sigma, rel=1e-12)


def test_a_schedule_patches_the_calls_whose_sigma_lies_in_it():
    sigmas = _setting.karras_sigmas(25)
    assert len(sigmas) == 26 and sigmas[0] == pytest.approx(700.0) and sigmas[-2] == pytest.approx(0.002)
    assert _setting.percent_to_sigma(0.3) == pytest.approx(15.2, abs=0.01)  # ComfyUI's 0.3 at 25 steps: the first
    assert _setting.scheduled_steps(0.3, 1.0, sigmas)[0] == 13  # step below sigma 15.2 (0-based)
    setting = Setting(settings={"start": 0.3, "end": 0.7})
    chosen = [i for i, s in enumerate(sigmas[:-1]) if setting.active(s)]
    assert chosen == list(_setting.scheduled_steps(0.3, 0.7, sigmas))
    assert all(Setting().active(s) for s in sigmas)


def test_bad_text_is_refused_with_what_is_wrong():
    with pytest.raises(SettingError, match="self_temporal must be between 0.0 and 10.0"):
        Setting.from_text("?self_temporal=11")
    with pytest.raises(SettingError, match=r"settings.start \(0.8\) must be below settings.end \(0.2\)"):
        Setting.from_text('{"format": "svd-attention-preset", "version": 4, "name": "x", "settings": {"start": 0.8,'
                          ' "end": 0.2}}')
    with pytest.raises(SettingError, match="format must be 'svd-attention-preset', got null"):
        Setting.from_text('{"multipliers": {}}')
    with pytest.raises(SettingError, match="neither a preset JSON nor a share link"):
        Setting.from_text("hello")
    with pytest.raises(SettingError, match=r"start_percent \(0.7\) must be below end_percent \(0.2\)"):
        Setting.from_inputs({"start_percent": 0.7, "end_percent": 0.2})


def test_key_targets_follow_the_seed_nodes_rule_and_the_regions():
    assert key_target("diffusion_model.input_blocks.1.1.time_stack.0.attn1.to_out.0.weight") == ("self_temporal",
                                                                                                 "down")
    assert key_target("diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_out.0.bias") == (
        "cross_structural", "mid")
    assert key_target("diffusion_model.output_blocks.3.1.time_stack.0.attn1.to_q.weight") is None


def test_the_node_package_imports_only_torch_comfyui_and_itself():
    allowed = {"comfy", "comfy_api", "torch", "__future__", "dataclasses", "json", "math", "numbers", "re", "urllib",
               "typing", "logging"}
    for path in NODE_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            assert {n.split(".")[0] for n in names} <= allowed, (path.name, names)


def test_the_node_knows_every_key_of_the_apps_share_links():
    assert set(_setting.LINK_KEYS) == {*FIELDS, *(f"{r}.{f}" for r in REGIONS for f in FIELDS),
                                       *(s.name for s in presets.PRESET_SETTINGS), "name"}


def test_the_package_offers_comfyui_the_v3_entry_point_only():
    """ComfyUI v0.14.2 loads a folder through comfy_entrypoint (its V3 node API) when it has no V1 mappings:
    the package keeps none, and importing it loads nothing of ComfyUI."""
    import comfyui_svd_attention_lab as package

    assert "comfy_entrypoint" in package.__all__ and not hasattr(package, "NODE_CLASS_MAPPINGS")
    assert "V3" in (NODE_DIR / "nodes.py").read_text() or "define_schema" in (NODE_DIR / "nodes.py").read_text()
