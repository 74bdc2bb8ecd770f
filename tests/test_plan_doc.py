"""A batch plan's text, read torch-free (run on Python 3.10 by .ci/py310): TOML through tomllib, or tomli
where Python has no tomllib, and JSON, to the same checked entries."""

import json
from pathlib import Path

import pytest

from batch import PlanError, read_plan_doc
from controls import Multipliers

TOML = b"""
images = ["photos/"]
seeds = {start = 0, stop = 3}
[multipliers]
self_temporal = [0.6, 1.4]
[settings]
steps = 4
"""
SAME_AS_JSON = {"images": ["photos/"], "seeds": {"start": 0, "stop": 3},
                "multipliers": {"self_temporal": [0.6, 1.4]}, "settings": {"steps": 4}}


def test_toml_and_json_plans_read_to_the_same_entries(tmp_path):
    toml = read_plan_doc(TOML, tmp_path / "plan.toml")
    assert toml == read_plan_doc(json.dumps(SAME_AS_JSON).encode(), tmp_path / "plan.json")
    assert toml.images == ("photos/",) and list(toml.seeds) == [0, 1, 2] and toml.settings == {"steps": 4}
    assert toml.grid == (Multipliers(self_temporal=0.6), Multipliers(self_temporal=1.4))
    assert (toml.model, toml.output, toml.threads) == (None, "batch-results", 1)


def test_presets_join_the_grid_without_repeats(tmp_path):
    doc = read_plan_doc(b'images = ["a.png"]\npresets = ["Identity", "Identity"]\n[multipliers]\n'
                        b'self_temporal = [1.0]\n', tmp_path / "plan.toml")
    assert doc.grid == (Multipliers(),)


@pytest.mark.parametrize("text, message", [
    (b"images = [", r"plan.toml: not valid TOML: "),
    (b"\xff\xfe", r"plan.toml: not UTF-8 text"),
    (b'images = ["a.png"]\ncolour = 1\n', r"unknown key 'colour'"),
    (b'images = []\n[multipliers]\nself_temporal = [1.0]\n', r"images must be a non-empty list"),
    (b'images = [3]\n[multipliers]\nself_temporal = [1.0]\n', r"images\[0\] must be a path as text"),
    (b'images = ["a.png"]\n', r"nothing to compare"),
    (b'images = ["a.png"]\n[multipliers]\nself_temporal = [11]\n', r"multipliers.self_temporal\[0\] must be between"),
    (b'images = ["a.png"]\n[multipliers]\nsideways = [1]\n', r"multipliers.sideways is not a multiplier"),
    (b'images = ["a.png"]\nseeds = {start = 0, stop = 200000}\n[multipliers]\nself_temporal = [1.0]\n',
     r"200,000 jobs per image; a plan holds at most 100,000"),
    (b'images = ["a.png"]\nseeds = [-1]\n[multipliers]\nself_temporal = [1.0]\n', r"seeds\[0\] must be between"),
    (b'images = ["a.png"]\n[multipliers]\nself_temporal = [1.0]\n[settings]\nseed = 3\n',
     r"settings.seed is not a render setting \(seeds are given by the plan's seeds\)"),
    (b'images = ["a.png"]\n[multipliers]\nself_temporal = [1.0]\n[settings]\nsteps = 0\n', r"settings: steps must be"),
    (b'a = ' + b'[' * 40 + b']' * 40, r"nested 40 levels deep; a plan nests at most 16"),
])
def test_a_bad_plan_is_refused_naming_the_plan_and_the_entry(tmp_path, text, message):
    with pytest.raises(PlanError, match=message):
        read_plan_doc(text, Path(tmp_path / "plan.toml"))
