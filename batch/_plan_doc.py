"""A plan's text, read and checked on its own: no files besides preset files, no model, no torch.

``read_plan_doc`` turns the bytes of a TOML or JSON plan into a ``PlanDoc`` of checked values, or
raises ``PlanError`` naming the plan and the entry. ``batch._plan`` then finds the images and the
model. Counting happens before anything is expanded: a grid or a seed range can describe billions
of jobs.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from pathlib import Path

from controls import FIELDS, SETTINGS, Multipliers, check_multiplier, check_number, setting_names, settings_dataclass
from presets import Preset, PresetError, nesting_depth, pick, read_json

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (ZeroGPU's): the same parser, as the tomli package
    import tomli as tomllib

MAX_PLAN_BYTES = 1_000_000
MAX_PLAN_DEPTH = 16  # a plan nests 3 levels; deeper is refused before parsing (no recursion in the parser)
MAX_JOBS = 100_000  # images x seeds x settings, counted before anything is expanded
KEYS = ("model", "output", "images", "seeds", "threads", "presets", "multipliers", "settings")
_CHECKED_SETTINGS = settings_dataclass(SETTINGS)  # the render settings' own checks


class PlanError(ValueError):
    """A plan that cannot run; the message names the plan and the entry."""


@dataclasses.dataclass(frozen=True)
class PlanDoc:
    """A plan's entries, checked; paths and the model are still as written."""

    model: str | None
    output: str
    images: tuple[str, ...]  # files, folders or globs, relative to the plan
    seeds: range | tuple[int, ...]
    threads: int
    grid: tuple[Multipliers, ...]  # the grid's combinations, then the presets', without repeats
    settings: dict


def read_plan_doc(raw: bytes, path: Path) -> PlanDoc:
    """Check every entry of the plan at ``path`` (its bytes ``raw``); preset files are read beside it."""
    name, here = path.name, path.resolve().parent
    doc = _parse(raw, path)
    unknown = sorted(set(doc) - set(KEYS))
    if unknown:
        raise PlanError(f"{name}: unknown key {unknown[0]!r} (a plan has {', '.join(KEYS)})")
    model = doc.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise PlanError(f"{name}: model must be a folder, file or Hub id as text")
    output = doc.get("output", "batch-results")
    if not isinstance(output, str) or not output:
        raise PlanError(f"{name}: output must be a folder name")
    seeds = _seeds(doc.get("seeds", [0]), name)
    count = len(seeds) * (_grid_size(doc.get("multipliers", {}), name) + len(_list(doc.get("presets", []), "presets",
                                                                                   name)))
    if count > MAX_JOBS:
        raise PlanError(f"{name}: {count:,} jobs per image; a plan holds at most {MAX_JOBS:,}")
    images = doc.get("images")
    if not isinstance(images, list) or not images:
        raise PlanError(f"{name}: images must be a non-empty list of files, folders or globs")
    for n, entry in enumerate(images):
        if not isinstance(entry, str) or not entry:
            raise PlanError(f"{name}: images[{n}] must be a path as text")
    grid = _grid(doc.get("multipliers", {}), name) + _presets(doc.get("presets", []), here, name)
    if not grid:
        raise PlanError(f"{name}: nothing to compare: give [multipliers] values or presets")
    return PlanDoc(model=model, output=output, images=tuple(images), seeds=seeds,
                   threads=_whole(doc.get("threads", 1), "threads", 1, 256, name), grid=tuple(dict.fromkeys(grid)),
                   settings=_settings(doc.get("settings", {}), name))


def _parse(raw: bytes, path: Path) -> dict:
    toml = path.suffix == ".toml"
    depth = nesting_depth(raw)
    if depth > MAX_PLAN_DEPTH:
        raise PlanError(f"{path.name}: nested {depth} levels deep; a plan nests at most {MAX_PLAN_DEPTH}")
    try:
        doc = tomllib.loads(raw.decode("utf-8")) if toml else read_json(raw, "the plan", MAX_PLAN_BYTES)
    except UnicodeDecodeError:
        raise PlanError(f"{path.name}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path.name}: not valid TOML: {exc}") from None
    except PresetError as exc:
        raise PlanError(f"{path.name}: {exc}") from None
    if not isinstance(doc, dict):
        raise PlanError(f"{path.name}: a plan is a table of {', '.join(KEYS)}")
    return doc


def _list(value, key: str, name: str) -> list:
    if not isinstance(value, list):
        raise PlanError(f"{name}: {key} must be a list")
    return value


def _whole(value, field: str, low: int, high: int, name: str) -> int:
    try:
        return int(check_number(field, value, int, low, high))
    except ValueError as exc:
        raise PlanError(f"{name}: {exc}") from None


def _seeds(value, name: str) -> range | tuple[int, ...]:
    if isinstance(value, dict):
        if set(value) - {"start", "stop"} or "stop" not in value:
            raise PlanError(f"{name}: seeds as a range is {{start = A, stop = B}} (B not included)")
        start = _whole(value.get("start", 0), "seeds.start", 0, 2**32 - 1, name)
        stop = _whole(value["stop"], "seeds.stop", start + 1, 2**32, name)
        return range(start, stop)  # not expanded: len() counts it
    if not isinstance(value, list) or not value:
        raise PlanError(f"{name}: seeds must be a list of whole numbers or {{start = A, stop = B}}")
    return tuple(dict.fromkeys(_whole(s, f"seeds[{n}]", 0, 2**32 - 1, name) for n, s in enumerate(value)))


def _grid_size(table, name: str) -> int:
    if not isinstance(table, dict):
        raise PlanError(f"{name}: multipliers must be a table of field = [values]")
    size = 1
    for field, values in table.items():
        if not isinstance(values, list) or not values:
            raise PlanError(f"{name}: multipliers.{field} must be a non-empty list of values")
        size *= len(values)
    return size if table else 0


def _grid(table, name: str) -> list[Multipliers]:
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        raise PlanError(f"{name}: multipliers.{unknown[0]} is not a multiplier ({', '.join(FIELDS)})")
    axes = []
    for field, values in table.items():
        try:
            axes.append([(field, check_multiplier(f"multipliers.{field}[{n}]", v)) for n, v in enumerate(values)])
        except ValueError as exc:
            raise PlanError(f"{name}: {exc}") from None
    return [Multipliers(**dict(combo)) for combo in itertools.product(*axes)] if axes else []


def _presets(entries, here: Path, name: str) -> list[Multipliers]:
    found = []
    for n, entry in enumerate(entries):
        if not isinstance(entry, str) or not entry:
            raise PlanError(f"{name}: presets[{n}] must be a name or a file as text")
        try:
            preset = Preset.from_file(here / entry) if entry.endswith(".json") else pick(entry)
        except (PresetError, OSError) as exc:
            raise PlanError(f"{name}: presets[{n}]: {exc}") from None
        found.append(preset.multipliers)
    return found


def _settings(table, name: str) -> dict:
    if not isinstance(table, dict):
        raise PlanError(f"{name}: settings must be a table of render settings")
    allowed = [s for s in setting_names() if s != "seed"]
    for key in table:
        if key not in allowed:
            hint = " (seeds are given by the plan's seeds)" if key == "seed" else ""
            raise PlanError(f"{name}: settings.{key} is not a render setting{hint}; one of {', '.join(allowed)}")
    try:
        _CHECKED_SETTINGS(**table)
    except ValueError as exc:
        raise PlanError(f"{name}: settings: {exc}") from None
    return dict(table)
