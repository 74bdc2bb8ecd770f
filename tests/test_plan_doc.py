"""A batch plan's text, read torch-free (run on Python 3.10 by .ci/py310): TOML through tomllib, or tomli
where Python has no tomllib, and JSON, to the same checked entries."""

import json
from pathlib import Path

import pytest

from svd_attention_lab.batch import PlanError, read_plan_doc
from svd_attention_lab.controls import Multipliers

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


LONG = "1" + "0" * 5000  # 5001 digits: more than Python turns from text into a whole number (4,300)
GRID = {"multipliers": {"self_temporal": [1.0]}}
PLAN = 'images = ["a.png"]\n[multipliers]\nself_temporal = [1.0]\n'


def _json(doc: dict) -> str:
    return json.dumps(doc).replace('"LONG"', LONG)


@pytest.mark.parametrize("name, text, message", [
    pytest.param("plan.toml", f"seeds = [{LONG}]\n{PLAN}",
                 r"^plan.toml: seeds\[0\] must be between 0 and 4294967295, got a number of 5,001 digits$",
                 id="TOML seed"),
    pytest.param("plan.json", _json({"images": ["a.png"], "seeds": ["LONG"], **GRID}),
                 r"^plan.json: seeds\[0\] must be between 0 and 4294967295, got a number of 5,001 digits$",
                 id="JSON seed"),
    pytest.param("plan.toml", f"seeds = [1, -{LONG}]\n{PLAN}",
                 r"^plan.toml: seeds\[1\] must be between 0 and 4294967295, got a number of 5,001 digits$",
                 id="negative seed"),
    pytest.param("plan.toml", f"seeds = {{start = 0, stop = {LONG}}}\n{PLAN}",
                 r"^plan.toml: seeds.stop must be between 1 and 4294967296, got a number of 5,001 digits$",
                 id="seed range"),
    pytest.param("plan.json", _json({"images": ["a.png"], "threads": "LONG", **GRID}),
                 r"^plan.json: threads must be between 1 and 256, got a number of 5,001 digits$", id="threads"),
    pytest.param("plan.toml", f'images = ["a.png"]\n[multipliers]\nself_temporal = [1.0, {LONG}]\n',
                 r"^plan.toml: multipliers.self_temporal\[1\] must be between 0.0 and 10.0, got a number of 5,001 "
                 r"digits$", id="TOML multiplier"),
    pytest.param("plan.json", _json({"images": ["a.png"], "multipliers": {"self_temporal": ["LONG"]}}),
                 r"^plan.json: multipliers.self_temporal\[0\] must be between 0.0 and 10.0, got a number of 5,001 "
                 r"digits$", id="JSON multiplier"),
    pytest.param("plan.toml", f"{PLAN}[settings]\nsteps = {LONG}\n",
                 r"^plan.toml: settings: steps must be between 1 and 100, got a number of 5,001 digits$",
                 id="whole-number setting"),
    pytest.param("plan.json", _json({"images": ["a.png"], **GRID, "settings": {"min_guidance": "LONG"}}),
                 r"^plan.json: settings: min_guidance must be between 0.0 and 20.0, got a number of 5,001 digits$",
                 id="float setting"),
    # numbers Python reads, but past a float's range or too long to show
    pytest.param("plan.toml", f'seeds = [0x{"f" * 5000}]\n{PLAN}',
                 r"^plan.toml: seeds\[0\] must be between 0 and 4294967295, got a number of 6,021 digits$",
                 id="hexadecimal seed"),
    pytest.param("plan.toml", f'seeds = [{"9" * 4000}]\n{PLAN}',
                 r"^plan.toml: seeds\[0\] must be between 0 and 4294967295, got a number of 4,000 digits$",
                 id="4000-digit seed"),
    pytest.param("plan.json", _json({"images": ["a.png"], "multipliers": {"self_temporal": [int("9" * 400)]}}),
                 r"^plan.json: multipliers.self_temporal\[0\] must be between 0.0 and 10.0, got a number of 400 "
                 r"digits$", id="400-digit multiplier"),
    pytest.param("plan.toml", f'{PLAN}[settings]\nsteps = [0o{"7" * 5000}]\n',
                 r"^plan.toml: settings: steps must be a number, got a list$",
                 id="octal in a list"),
    # keys, strings, comments and floats keep their digits
    pytest.param("plan.toml", f'# {"1" * 5000}\n"{"2" * 40} x" = 1\nseeds = [{LONG}]\n{PLAN}',
                 rf"^plan.toml: unknown key '{'2' * 40} x'", id="TOML key and comment"),
    pytest.param("plan.json", f'{{"{"2" * 5000} x": 1, "seeds": [{LONG}]}}',
                 rf"^plan.json: unknown key '{'2' * 5000} x'", id="JSON key"),
    pytest.param("plan.toml", f'seeds = [0.5e{"0" * 40}0, {LONG}]\n{PLAN}',
                 r"^plan.toml: seeds\[0\] must be a whole number, got 0.5$", id="TOML float"),
    pytest.param("plan.json", f'{{"images": ["a.png"], "seeds": [0.5e{"0" * 40}0, {LONG}]}}',
                 r"^plan.json: seeds\[0\] must be a whole number, got 0.5$", id="JSON float"),
])
def test_numbers_too_long_to_read_are_refused_naming_the_plan_and_the_entry(tmp_path, name, text, message):
    with pytest.raises(PlanError, match=message):
        read_plan_doc(text.encode(), tmp_path / name)
