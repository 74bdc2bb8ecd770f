"""The settings table is the one definition: everything that lists settings grows with it."""

from svd_attention_lab.controls._signature import REGION_PARAMS
import argparse
import dataclasses
import inspect

import gradio as gr
import pytest

import app
from svd_attention_lab import controls
import presets
from svd_attention_lab import engine, hosting
from svd_attention_lab.controls import SETTINGS, Setting, with_named_parameters

EXTRA = Setting("shift", float, 0.0, 4.0, 1.0, "Shift", "a setting that does not exist yet", step=0.1)
EXTENDED = (*SETTINGS, EXTRA)


def test_render_settings_declare_exactly_the_tables_entries_with_their_types_and_defaults():
    fields = [(f.name, f.type, f.default) for f in dataclasses.fields(engine.RenderSettings)]
    assert fields == [(s.name, s.kind.__name__, s.default) for s in SETTINGS]
    with pytest.raises(ValueError, match="frames must be between 2 and 50"):
        engine.RenderSettings(frames=51)


def test_adding_one_table_entry_grows_every_consumer_by_exactly_that_entry():
    # the CLI parser
    def flags(table):
        parser = argparse.ArgumentParser()
        controls.add_setting_options(parser, table)
        return {a.dest for a in parser._actions} - {"help"}

    assert flags(EXTENDED) - flags(SETTINGS) == {"shift"}
    assert len(flags(SETTINGS)) == len(SETTINGS)

    # the UI inputs: the page holds one input per table entry, in the table's order, each made from its entry
    ids = [c["props"].get("elem_id") for c in app.build_demo(hosting.Studio()).get_config_file()["components"]]
    assert [i for i in ids if i in controls.setting_names()] == list(controls.setting_names())
    with gr.Blocks():
        shift = app.setting_input(EXTRA, EXTRA.default)
    assert shift.maximum == 4.0 and shift.value == 1.0 and shift.elem_id == "shift"

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
    api = app.build_demo(hosting.Studio()).get_api_info()["named_endpoints"]["/preview"]["parameters"]
    start = 1 + len(controls.FIELDS) + len(REGION_PARAMS)  # the image, the multipliers, the regions
    assert [p["parameter_name"] for p in api][start:start + len(names)] == names
    assert presets.PRESET_SETTINGS == tuple(s for s in SETTINGS if s.shared)
    assert [f.name for f in dataclasses.fields(engine.RenderSettings)] == names
    assert {s.name: s.default for s in SETTINGS} == engine.RenderSettings().as_dict()
