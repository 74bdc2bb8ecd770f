"""The motion target and the knob map for an app's visitors: what each will cost, said before it
starts, and refused when it would hold the model longer than the host allows (``Studio.budget_s``)."""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

import numpy as np
from PIL import Image

from svd_attention_lab.controls import Multipliers
from svd_attention_lab.engine import ProgressFn, RenderSettings
from svd_attention_lab.studies import (
    KNOB_MAP_VALUES,
    SMALL_KNOB_MAP_VALUES,
    KnobMap,
    MotionTarget,
    TargetResult,
    find_motion_target,
    knob_map,
    knob_map_renders,
)

from ._budget import Estimate, duration
from ._studio import Studio, _check_image, _settings


@dataclasses.dataclass(frozen=True)
class Cost:
    """Renders a study will spend (the baseline besides, unless cached) and what they take here."""

    renders: int
    estimate: Estimate | None  # None until the model is loaded
    budget_s: float | None

    @property
    def fits(self) -> bool:
        return self.budget_s is None or self.estimate is None or self.estimate.seconds <= self.budget_s

    def note(self, what: str) -> str:
        took = f" {self.estimate.short()} here" if self.estimate else ""
        limit = f" (this host allows {duration(self.budget_s)} per request)" if self.budget_s is not None else ""
        return f"{what}: up to {self.renders} renders and the baseline{took}{limit}."


def knob_map_plan(studio: Studio, settings: RenderSettings | Mapping) -> tuple[tuple[float, ...], Cost]:
    """The values a knob map sweeps here and its cost: four knobs over 0, 0.5, 1.5 and 2, or over 0.5
    and 1.5 where that does not fit the host's budget."""
    settings = _settings(settings)
    for values in (KNOB_MAP_VALUES, SMALL_KNOB_MAP_VALUES):
        renders = knob_map_renders(values)
        cost = Cost(renders, studio.estimate(settings, renders + 1), studio.budget_s)
        if cost.fits:
            break
    return values, cost


def target_cost(studio: Studio, settings: RenderSettings | Mapping, target: MotionTarget) -> Cost:
    settings = _settings(settings)
    return Cost(target.budget, studio.estimate(settings, target.budget + 1), studio.budget_s)


def run_knob_map(studio: Studio, image: Image.Image | np.ndarray | str, settings: RenderSettings | Mapping,
                 key: str = "local", progress: ProgressFn | None = None,
                 gone: Callable[[], bool] | None = None) -> KnobMap:
    """The knob map for this image and settings, within the host's budget (``knob_map_plan``)."""
    settings = _settings(settings)
    _check_image(image)
    studio.previewer()  # the estimate needs the loaded model
    values, cost = knob_map_plan(studio, settings)
    studio._within_budget(settings, cost.renders + 1)
    with studio._turn(key, gone) as cancel:
        return knob_map(studio.previewer(), image, settings, values, progress, cancel)


def run_motion_target(studio: Studio, image: Image.Image | np.ndarray | str, settings: RenderSettings | Mapping,
                      multipliers: Multipliers, target: MotionTarget, key: str = "local",
                      progress: ProgressFn | None = None, gone: Callable[[], bool] | None = None) -> TargetResult:
    """Search ``target.knob`` for the motion ``target.ratio`` × the baseline's, the other knobs as given."""
    settings = _settings(settings)
    _check_image(image)
    studio._within_budget(settings, target.budget + 1)
    with studio._turn(key, gone) as cancel:
        return find_motion_target(studio.previewer(), image, settings, target, multipliers, progress, cancel)
