"""The settings table is the one definition: everything that lists settings grows with it."""

import argparse
import dataclasses
import inspect

import gradio as gr
import pytest

import app
import controls
import presets
import preview
from controls import SETTINGS, Setting, check_number, settings_dataclass, with_named_parameters

EXTRA = Setting("shift", float, 0.0, 4.0, 1.0, "Shift", "a setting that does not exist yet", step=0.1)
EXTENDED = (*SETTINGS, EXTRA)


def test_adding_one_table_entry_grows_every_consumer_by_exactly_that_entry():
    # RenderSettings (the dataclass)
    before = [f.name for f in dataclasses.fields(settings_dataclass(SETTINGS))]
    after = [f.name for f in dataclasses.fields(settings_dataclass(EXTENDED))]
    assert before == [f.name for f in dataclasses.fields(preview.RenderSettings)]
    assert after == before + ["shift"]
    assert settings_dataclass(EXTENDED)().shift == 1.0
    with pytest.raises(ValueError, match="shift must be between 0.0 and 4.0"):
        settings_dataclass(EXTENDED)(shift=5)

    # the CLI parser
    def flags(table):
        parser = argparse.ArgumentParser()
        controls.add_setting_options(parser, table)
        return {a.dest for a in parser._actions} - {"help"}

    assert flags(EXTENDED) - flags(SETTINGS) == {"shift"}
    assert len(flags(SETTINGS)) == len(SETTINGS)

    # the UI inputs
    defaults = preview.RenderSettings()
    with gr.Blocks():
        plain = app.setting_inputs(defaults)
        extended = app.setting_inputs(defaults, EXTENDED)
    assert list(extended) == list(plain) + ["shift"]
    assert extended["shift"].maximum == 4.0 and extended["shift"].value == 1.0

    # the preset schema's checks (a shared entry is carried by presets and links)
    with pytest.raises(ValueError, match="unknown setting 'shift'"):
        controls.check_settings({"shift": 2.0}, SETTINGS)
    assert controls.check_settings({"shift": 2}, EXTENDED) == {"shift": 2.0}

    # the handlers' keyword parameters
    def handler(image, settings, request=None):
        return settings

    plain_params = list(inspect.signature(with_named_parameters(handler)).parameters)
    extended_params = list(inspect.signature(with_named_parameters(handler, table=EXTENDED)).parameters)
    assert extended_params == plain_params[:-1] + ["shift", "request"]


def test_the_app_and_cli_list_the_table_in_order():
    names = [s.name for s in SETTINGS]
    start = 2 + len(controls.FIELDS) + len(controls.REGION_PARAMS)  # self, image, the multipliers, the regions
    assert list(inspect.signature(app.Lab.preview).parameters)[start:start + len(names)] == names
    assert presets.PRESET_SETTINGS == tuple(s for s in SETTINGS if s.shared)
    assert [f.name for f in dataclasses.fields(preview.RenderSettings)] == names
    assert {s.name: s.default for s in SETTINGS} == preview.RenderSettings().as_dict()


def test_expanded_handlers_receive_settings_by_name_or_position():
    @with_named_parameters
    def handler(image, settings, flag=False):
        return image, settings, flag

    image, settings, flag = handler("x", 7, frames=4, flag=True)
    assert image == "x" and settings["seed"] == 7 and settings["frames"] == 4 and flag is True
    assert settings["steps"] == 10  # the table's default
    assert handler("x")[1] == {s.name: s.default for s in SETTINGS}


@pytest.mark.parametrize(
    "value, kind, outcome",
    [
        (7, int, 7),
        (7.0, int, 7),  # sliders send whole numbers as floats
        (7.5, int, "must be a whole number, got 7.5"),
        ("7", int, "must be a number, got '7'"),
        ("7", float, "must be a number, got '7'"),
        (True, int, "must be a number, got True"),
        (None, float, "must be a number, got None"),
        (float("nan"), float, "must be a finite number"),
        (float("inf"), int, "must be a finite number"),
        (11, int, "must be between 0 and 10, got 11"),
        (-0.5, float, "must be between 0 and 10, got -0.5"),
        (2.5, float, 2.5),
    ],
)
def test_one_number_checker_for_every_knob(value, kind, outcome):
    if isinstance(outcome, str):
        with pytest.raises(ValueError, match="^x " + outcome.replace("(", r"\(")):
            check_number("x", value, kind, 0, 10)
    else:
        result = check_number("x", value, kind, 0, 10)
        assert result == outcome and type(result) is kind


def test_multipliers_are_spelled_out_as_the_four_field_names_and_the_region_factors():
    @with_named_parameters
    def handler(image, multipliers, settings):
        return multipliers, settings

    params = list(inspect.signature(handler).parameters)
    assert params[:5] == ["image", *controls.FIELDS] and params[5:17] == list(controls.REGION_PARAMS)
    assert params[17:] == [s.name for s in SETTINGS] and controls.REGION_PARAMS[-1] == "up_cross_temporal"
    multipliers, _ = handler("x", self_temporal=0.5, up_self_temporal=0.2)
    assert multipliers == controls.Multipliers(self_temporal=0.5,
                                               regions=controls.Regions.from_flat({"up.self_temporal": 0.2}))
    with pytest.raises(ValueError, match="cross_temporal must be between"):
        handler("x", cross_temporal=11)
    with pytest.raises(TypeError, match="neither"):
        with_named_parameters(lambda image: image)
