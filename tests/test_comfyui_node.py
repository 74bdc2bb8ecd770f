"""The ComfyUI node's own reading of the app's setting, without ComfyUI: the same values the app reads,
the same steps, and nothing imported beyond torch and ComfyUI. Torch-free (run on Python 3.10 by .ci/py310)."""

import ast
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import presets
from comfyui_harness import NODE_DIR, node_setting
from svd_attention_lab.controls import FIELDS, REGIONS, Multipliers, Regions, patched_steps

_setting = node_setting()
REGION_INPUTS, Setting, key_target, step_of = _setting.REGION_INPUTS, _setting.Setting, _setting.key_target, \
    _setting.step_of

values = st.sampled_from([0.0, 0.25, 0.5, 0.8, 1.0, 1.2, 1.37, 2.0, 10.0])
schedules = st.tuples(st.sampled_from([0.0, 0.1, 0.3, 0.5]), st.sampled_from([0.6, 0.7, 0.95, 1.0]))


@st.composite
def whole_settings(draw):
    regions = {f"{r}.{f}": draw(values) for r in REGIONS for f in FIELDS if draw(st.booleans())}
    multipliers = Multipliers(**{f: draw(values) for f in FIELDS}, regions=Regions.from_flat(regions))
    return multipliers, draw(schedules)


def _same(setting: Setting, multipliers: Multipliers, start: float, end: float) -> None:
    assert (setting.start, setting.end) == (start, end)
    for region in (*REGIONS, None):
        for field in FIELDS:
            assert setting.value(field, region) == multipliers.value(field, region or "other")


@settings(max_examples=60, deadline=None)
@given(whole_settings())
def test_the_node_reads_presets_and_links_as_the_app_writes_them(chosen):
    multipliers, (start, end) = chosen
    preset = presets.Preset(name="p", multipliers=multipliers, settings={"start": start, "end": end, "seed": 4})
    _same(Setting.from_text(preset.to_json()), multipliers, start, end)
    _same(Setting.from_text(presets.to_url(preset, "https://example.org/lab")), multipliers, start, end)
    _same(Setting.from_text(presets.to_query(preset)), multipliers, start, end)
    widgets = dict(zip(presets.LAB_INPUTS, presets.to_ui_workflow(multipliers, start=start, end=end)["nodes"][0][
        "widgets_values"])) if presets.uses_lab_node(multipliers, start, end) else {**multipliers.node_values()}
    _same(Setting.from_inputs(widgets), multipliers, start if "start_percent" in widgets else 0.0,
          end if "end_percent" in widgets else 1.0)


def test_the_nodes_inputs_are_the_ones_the_app_exports():
    assert presets.LAB_INPUTS == (*FIELDS, "start_percent", "end_percent", *REGION_INPUTS, "setting")


@pytest.mark.parametrize("steps", [1, 3, 7, 10, 25, 50])
def test_the_node_acts_in_the_apps_steps(steps):
    for start, end in [(0.0, 1.0), (0.3, 0.7), (0.1, 0.15), (0.5, 1.0), (0.0, 0.05)]:
        assert Setting({}, start, end).steps(steps) == patched_steps(start, end, steps)
    sigmas = [700.0 * 0.6 ** i for i in range(steps)] + [0.0]
    assert [step_of(sigmas, s) for s in sigmas[:-1]] == list(range(steps))
    midway = [math.sqrt(a * b) for a, b in zip(sigmas[:-2], sigmas[1:-1])]  # a 2nd-order sampler's extra calls
    assert [step_of(sigmas, s) for s in midway] == list(range(steps - 1))


def test_bad_text_is_refused_with_what_is_wrong():
    with pytest.raises(ValueError, match="self_temporal must be between 0 and 10"):
        Setting.from_text("?self_temporal=11")
    with pytest.raises(ValueError, match="start_percent .* must be below end_percent"):
        Setting.from_text('{"format": "svd-attention-preset", "version": 3, "name": "x", "settings": {"start": 0.8,'
                          ' "end": 0.2}}')
    with pytest.raises(ValueError, match="not a preset"):
        Setting.from_text('{"multipliers": {}}')
    with pytest.raises(ValueError, match="neither a preset JSON nor a share link"):
        Setting.from_text("hello")


def test_the_node_package_imports_only_torch_comfyui_and_itself():
    allowed = {"comfy", "torch", "__future__", "dataclasses", "json", "math", "urllib", "typing", "logging"}
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
    assert set(_setting._LINK_SETTINGS) == {s.name for s in presets.PRESET_SETTINGS} | {"name"}
