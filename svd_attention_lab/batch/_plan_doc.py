"""A plan's text, read and checked on its own: no files besides preset files, no model, no torch.

``read_plan_doc`` turns the bytes of a TOML or JSON plan into a ``PlanDoc`` of checked values, or
raises ``PlanError`` naming the plan and the entry. ``batch._plan`` then finds the images and the
model. Counting happens before anything is expanded: a grid or a seed range can describe billions
of jobs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import sys
from pathlib import Path

from svd_attention_lab.controls import (
    FIELDS,
    MULTIPLIER_MAX,
    MULTIPLIER_MIN,
    SETTINGS,
    Multipliers,
    check_multiplier,
    check_number,
    setting_names,
    check_settings,
    default_settings,
)
from presets import Preset, PresetError, nesting_depth, pick, read_json

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (ZeroGPU's): the same parser, as the tomli package
    import tomli as tomllib

MAX_PLAN_BYTES = 1_000_000
MAX_PLAN_DEPTH = 16  # a plan nests 3 levels; deeper is refused before parsing (no recursion in the parser)
MAX_JOBS = 100_000  # images x seeds x settings, counted before anything is expanded
KEYS = ("model", "output", "images", "seeds", "threads", "presets", "multipliers", "settings", "motion_target")
TARGET_KEYS = ("ratios", "knob", "budget", "tolerance")
MAX_TARGET_BUDGET = 12  # renders per search (studies.MAX_BUDGET)
SHOWN_DIGITS = 30  # a whole number with more digits is shown by its length: no entry takes one

# Python turns at most 4,300 digits of text into a whole number (sys.get_int_max_str_digits), and both
# parsers raise its bare ValueError. So every whole number of more than SHOWN_DIGITS digits (outside
# strings, comments and keys) is rewritten to something the parser reads without converting it, and
# _long_numbers turns that into a _Long that knows its length: in JSON always (its strings are simple
# to skip), in TOML when the plain reading fails.
_TOML_LONG = re.compile(
    r'(#[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\')'  # kept
    r"|(?<![\w.+-])[+-]?[1-9](?:_?[0-9]){%d,}(?![\w.])(?![ \t]*=)" % SHOWN_DIGITS, re.S)
_TOML_MARK = "e0"  # 123...e0: a float to the parser, handed to _toml_float as text
_JSON_LONG = re.compile(rb'("(?:[^"\\]|\\.)*")|(?<![\w.+-])-?[1-9][0-9]{%d,}(?![\w.])' % SHOWN_DIGITS, re.S)
_JSON_MARK = "\x00a number of digits: "  # read back as a string (written \u0000...), then as a _Long


class PlanError(ValueError):
    """A plan that cannot run; the message names the plan and the entry."""


class _Long:
    """A whole number written with more than SHOWN_DIGITS digits: out of every entry's range, and
    shown by its length (past 4,300 digits Python would not even convert it to text). Not a dataclass:
    the settings' checks would turn one into a dict."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"a number of {self.digits:,} digits"


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
    targets: tuple[dict, ...] = ()  # motion targets: {ratio, knob, budget, tolerance}, checked


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
    targets = _targets(doc.get("motion_target"), name)
    count = len(seeds) * (_grid_size(doc.get("multipliers", {}), name) + len(_list(doc.get("presets", []), "presets",
                                                                                   name)) + len(targets))
    if count > MAX_JOBS:
        raise PlanError(f"{name}: {count:,} jobs per image; a plan holds at most {MAX_JOBS:,}")
    images = doc.get("images")
    if not isinstance(images, list) or not images:
        raise PlanError(f"{name}: images must be a non-empty list of files, folders or globs")
    for n, entry in enumerate(images):
        if not isinstance(entry, str) or not entry:
            raise PlanError(f"{name}: images[{n}] must be a path as text")
    grid = _grid(doc.get("multipliers", {}), name) + _presets(doc.get("presets", []), here, name)
    if not grid and not targets:
        raise PlanError(f"{name}: nothing to compare: give [multipliers] values, presets or a [motion_target]")
    return PlanDoc(model=model, output=output, images=tuple(images), seeds=seeds,
                   threads=_whole(doc.get("threads", 1), "threads", 1, 256, name), grid=tuple(dict.fromkeys(grid)),
                   settings=_settings(doc.get("settings", {}), name), targets=targets)


def _parse(raw: bytes, path: Path) -> dict:
    toml = path.suffix == ".toml"
    depth = nesting_depth(raw)
    if depth > MAX_PLAN_DEPTH:
        raise PlanError(f"{path.name}: nested {depth} levels deep; a plan nests at most {MAX_PLAN_DEPTH}")
    try:
        doc = _load_toml(raw.decode("utf-8")) if toml else read_json(_JSON_LONG.sub(_mark_json, raw), "the plan",
                                                                      MAX_PLAN_BYTES)
    except UnicodeDecodeError:
        raise PlanError(f"{path.name}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path.name}: not valid TOML: {exc}") from None
    except PresetError as exc:
        raise PlanError(f"{path.name}: {exc}") from None
    if not isinstance(doc, dict):
        raise PlanError(f"{path.name}: a plan is a table of {', '.join(KEYS)}")
    return _long_numbers(doc)


def _load_toml(text: str) -> dict:
    try:
        return tomllib.loads(text, parse_float=_toml_float)
    except tomllib.TOMLDecodeError:
        raise
    except ValueError:  # a whole number of more than 4,300 digits
        return tomllib.loads(_TOML_LONG.sub(_mark_toml, text), parse_float=_toml_float)


def _mark_toml(match: re.Match) -> str:
    return match[0] if match[1] is not None else match[0] + _TOML_MARK


def _toml_float(text: str):
    digits = text[:-len(_TOML_MARK)].lstrip("+-").replace("_", "")
    if text.endswith(_TOML_MARK) and digits.isdigit() and len(digits) > SHOWN_DIGITS:
        return _Long(len(digits))
    return float(text)


def _mark_json(match: re.Match) -> bytes:
    if match[1] is not None:
        return match[0]
    return b'"\\u0000%s%d"' % (_JSON_MARK[1:].encode(), len(match[0].lstrip(b"-")))


def _long_numbers(value):
    """``value`` (parsed, at most MAX_PLAN_DEPTH deep) with every whole number of more than SHOWN_DIGITS
    digits as a ``_Long``: a float could not hold it, a message could not show it."""
    if isinstance(value, dict):
        return {key: _long_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_long_numbers(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**SHOWN_DIGITS:
        return _Long(_digits(abs(value)))
    if isinstance(value, str) and value.startswith(_JSON_MARK):
        return _Long(int(value[len(_JSON_MARK):]))
    return value


def _digits(n: int) -> int:
    """Decimal digits of ``n`` > 0, without converting it to text (past 4,300 digits Python refuses)."""
    digits = max(1, math.ceil(n.bit_length() * math.log10(2)))
    while n >= 10**digits:
        digits += 1
    while digits > 1 and n < 10 ** (digits - 1):
        digits -= 1
    return digits


def _refuse_long(value, field: str, low: float, high: float, name: str) -> None:
    if isinstance(value, _Long):
        raise PlanError(f"{name}: {field} must be between {low} and {high}, got {value!r}")


def _targets(table, name: str) -> tuple[dict, ...]:
    """``[motion_target]``: ``ratios = [0.6, 1.4]`` (× the baseline's optical-flow motion), optional
    ``knob`` (default self_temporal), ``budget`` (renders, default 6) and ``tolerance`` (default 0.05)."""
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise PlanError(f"{name}: motion_target must be a table (ratios = [0.6, 1.4], knob = ..., budget = ...)")
    unknown = sorted(set(table) - set(TARGET_KEYS))
    if unknown:
        raise PlanError(f"{name}: motion_target.{unknown[0]} is unknown (a motion target has {', '.join(TARGET_KEYS)})")
    ratios = _list(table.get("ratios"), "motion_target.ratios", name)
    if not ratios:
        raise PlanError(f"{name}: motion_target.ratios must list at least one ratio, e.g. [0.6, 1.4]")
    knob = table.get("knob", "self_temporal")
    if knob not in FIELDS:
        raise PlanError(f"{name}: motion_target.knob must be one of {', '.join(FIELDS)}, got {knob!r}")
    budget = _whole(table.get("budget", 6), "motion_target.budget", 1, MAX_TARGET_BUDGET, name)
    tolerance = _fraction(table.get("tolerance", 0.05), "motion_target.tolerance", 0.005, 0.5, name)
    checked = [_fraction(r, f"motion_target.ratios[{n}]", 0.01, 10.0, name) for n, r in enumerate(ratios)]
    return tuple(dict(ratio=r, knob=knob, budget=budget, tolerance=tolerance) for r in dict.fromkeys(checked))


def _number(value, field: str, kind: type, low: float, high: float, name: str) -> int | float:
    _refuse_long(value, field, low, high, name)
    try:
        return kind(check_number(field, value, kind, low, high))
    except ValueError as exc:
        raise PlanError(f"{name}: {exc}") from None


def _fraction(value, field: str, low: float, high: float, name: str) -> float:
    return _number(value, field, float, low, high, name)


def _whole(value, field: str, low: int, high: int, name: str) -> int:
    return _number(value, field, int, low, high, name)


def _list(value, key: str, name: str) -> list:
    if not isinstance(value, list):
        raise PlanError(f"{name}: {key} must be a list")
    return value



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
        for n, value in enumerate(values):
            _refuse_long(value, f"multipliers.{field}[{n}]", MULTIPLIER_MIN, MULTIPLIER_MAX, name)
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
        except (ValueError, OSError) as exc:  # ValueError: PresetError, or a number too long for Python
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
    for setting in SETTINGS:
        _refuse_long(table.get(setting.name), f"settings: {setting.name}", setting.low, setting.high, name)
    try:
        check_settings(default_settings() | table)  # the render settings' own checks, with the defaults
    except ValueError as exc:
        raise PlanError(f"{name}: settings: {exc}") from None
    return dict(table)
