"""The controls, torch-free: the number checker, and handlers that take the settings and multipliers by name."""

import inspect

import numpy as np
import pytest

from svd_attention_lab import controls
from svd_attention_lab.controls import SETTINGS, check_number, with_named_parameters


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
        (True, int, "must be a number, got a boolean"),
        (None, float, "must be a number, got null"),
        ((1, 2), float, "must be a number, got tuple"),
        (np.float32(2.5), float, 2.5),  # a numpy scalar is a number
        (np.int64(7), int, 7),
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
    assert params[:5] == ["image", "self_structural", "self_temporal", "cross_structural", "cross_temporal"]
    assert params[5:17] == [f"{region}_{field}" for region in ("down", "mid", "up") for field in params[1:5]]
    assert params[17:] == [s.name for s in SETTINGS]
    multipliers, _ = handler("x", self_temporal=0.5, up_self_temporal=0.2)
    assert multipliers == controls.Multipliers(self_temporal=0.5,
                                               regions=controls.Regions.from_flat({"up.self_temporal": 0.2}))
    with pytest.raises(ValueError, match="cross_temporal must be between"):
        handler("x", cross_temporal=11)
    with pytest.raises(TypeError, match="neither"):
        with_named_parameters(lambda image: image)
