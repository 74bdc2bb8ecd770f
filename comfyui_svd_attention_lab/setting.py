"""The SVD Temporal Attention Lab's setting, read from text: the one reader the node and the app share.

Plain Python (the standard library only). ComfyUI loads this folder from ``custom_nodes/`` with torch
and ComfyUI; the app imports this same file as ``comfyui_svd_attention_lab.setting``. So a preset JSON,
a share link or the node's own inputs mean the same setting in both, and what one of them refuses the
other refuses with the same sentence, naming the field.

What it reads:

- the app's preset documents (``"format": "svd-attention-preset"``, versions 1 to 4): the four
  multipliers, per-region factors (``regions``), the render settings (``settings``: seed, frames, the
  schedule's ``start`` / ``end``, ...), a name, a description and a model hint;
- the app's share links (``https://…/?self_temporal=0.8&up.self_temporal=0.5&start=0.3``, or the
  query string alone);
- the node's inputs (``self_temporal``, ``start_percent``, ``up_self_temporal``, ...).

``start`` / ``end`` are ComfyUI's ``start_percent`` / ``end_percent``: fractions of the sampling
schedule in sigma space (``model_sampling.percent_to_sigma``), so a model call at noise level sigma is
patched when ``percent_to_sigma(end) <= sigma <= percent_to_sigma(start)``, the rule ComfyUI applies to
its own start/end ranges. Presets before version 4 held fractions of the step count instead; reading
one converts them (``step_fraction_to_percent``) and says so in ``notes``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import re
import urllib.parse
from typing import Any, Mapping

__all__ = [
    "DEFAULT_STEPS", "FIELDS", "FORMAT_NAME", "FORMAT_VERSION", "LINK_KEYS", "MAX_DESCRIPTION_CHARS", "MAX_MODEL_CHARS",
    "MAX_NAME_CHARS", "MAX_TEXT_BYTES", "MULTIPLIER_MAX", "MULTIPLIER_MIN", "NODE_INPUTS", "REGIONS", "REGION_INPUTS",
    "SETTINGS", "SVD_SIGMA_MAX", "SVD_SIGMA_MIN", "Bound", "Setting", "SettingError", "check_number",
    "check_setting", "check_text", "karras_sigmas", "key_target", "nesting_depth", "percent_to_sigma",
    "read_json", "region_input", "scheduled_steps", "shown", "sigma_to_percent", "step_fraction_to_percent",
    "type_name",
]

FORMAT_NAME = "svd-attention-preset"
FORMAT_VERSION = 4  # 4: start/end are sigma-space percents (ComfyUI's); 3 had step fractions, schedule and regions
FIELDS = ("self_structural", "self_temporal", "cross_structural", "cross_temporal")
REGIONS = ("down", "mid", "up")  # the UNet's input blocks, middle block, output blocks
MULTIPLIER_MIN, MULTIPLIER_MAX = 0.0, 10.0  # the bounds of UNetTemporalAttentionMultiply's inputs
MAX_TEXT_BYTES = 64 * 1024  # a preset or link is far shorter
MAX_DEPTH = 64  # a preset nests 3 levels
MAX_NUMBER_CHARS = 40  # a float's shortest repr has at most 24; 10**309 no float holds
MAX_NAME_CHARS, MAX_DESCRIPTION_CHARS, MAX_MODEL_CHARS = 80, 1000, 200
SHOWN = 3  # unknown names a message lists
DEFAULT_STEPS = 10  # the app's default step count: what a version-3 schedule without settings.steps was made for

# SVD's sampling (ComfyUI's SVD_img2vid: sampling_settings; its KSampler's "karras" scheduler)
SVD_SIGMA_MIN, SVD_SIGMA_MAX, KARRAS_RHO = 0.002, 700.0, 7.0
_NO_LIMIT = 999999999.9  # ComfyUI's percent_to_sigma(0): above every sigma


@dataclasses.dataclass(frozen=True)
class Bound:
    """A render setting a preset or link may carry: its name, type and bounds (the app's table agrees)."""

    name: str
    kind: type  # int or float
    low: float
    high: float


SETTINGS = (
    Bound("seed", int, 0, 2**32 - 1), Bound("frames", int, 2, 50), Bound("steps", int, 1, 100),
    Bound("width", int, 0, 2048), Bound("height", int, 0, 2048), Bound("fps", int, 1, 60),
    Bound("motion_bucket_id", int, 0, 1023), Bound("noise_aug_strength", float, 0.0, 1.0),
    Bound("min_guidance", float, 0.0, 20.0), Bound("max_guidance", float, 0.0, 20.0),
    Bound("start", float, 0.0, 1.0), Bound("end", float, 0.0, 1.0),
)
_BOUNDS = {b.name: b for b in SETTINGS}
LINK_KEYS = (*FIELDS, *(f"{r}.{f}" for r in REGIONS for f in FIELDS), *_BOUNDS, "name")
_TOP_LEVEL = ("format", "version", "name", "description", "multipliers", "regions", "settings", "model")
_LINK_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_REGION_PREFIXES = {"input_blocks.": "down", "middle_block.": "mid", "output_blocks.": "up"}


class SettingError(ValueError):
    """A setting text, document or input that cannot be read; the message names the field."""


def region_input(region: str, field: str) -> str:
    """The node's input for one region factor: ``up_self_temporal``."""
    return f"{region}_{field}"


REGION_INPUTS = tuple(region_input(r, f) for r in REGIONS for f in FIELDS)
NODE_INPUTS = (*FIELDS, "start_percent", "end_percent", *REGION_INPUTS, "setting")  # the node's, in order


# --- values ---------------------------------------------------------------------------------------------


class _LongNumber:
    """A JSON number literal too long to convert: refused, naming its field, where a field reads it."""

    def __init__(self, text: str) -> None:
        self.length = len(text)


def type_name(value: Any) -> str:
    """JSON's name for a parsed value's type, for messages (a Python type's own name for any other)."""
    named = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value))
    return named or ("a number" if isinstance(value, numbers.Real) else type(value).__name__)


def shown(value: Any, limit: int = 40) -> str:
    """A value as a message quotes it: short, one line, printable."""
    text = repr(value) if isinstance(value, str) else str(value)
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in text)


def check_number(name: str, value: Any, kind: type = float, low: float = MULTIPLIER_MIN,
                 high: float = MULTIPLIER_MAX) -> int | float:
    """``value`` as ``kind`` within ``[low, high]``, or a ``SettingError`` naming ``name``: the one number
    check of the node and the app. Text and booleans are not numbers (any other real number is, a numpy
    scalar included); a whole number must be whole (7.0 is 7, 7.5 is refused)."""
    if isinstance(value, _LongNumber):
        raise SettingError(f"{name} is a number {value.length:,} characters long; numbers of at most "
                           f"{MAX_NUMBER_CHARS} characters are read")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        got = shown(value) if isinstance(value, str) else type_name(value)
        raise SettingError(f"{name} must be a number, got {got}")
    if not math.isfinite(value):
        raise SettingError(f"{name} must be a finite number, got {value!r}")
    if kind is int:
        if value != int(value):
            raise SettingError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    if not low <= value <= high:
        raise SettingError(f"{name} must be between {low} and {high}, got {value!r}")
    return value


def check_setting(name: str, value: Any, prefix: str = "settings.") -> int | float:
    bound = _BOUNDS.get(name)
    if bound is None:
        raise SettingError(f"unknown setting {shown(name)}; expected some of {', '.join(_BOUNDS)}")
    return check_number(prefix + name, value, bound.kind, bound.low, bound.high)


def _check_schedule(settings: Mapping[str, int | float], start_name: str, end_name: str) -> None:
    if settings.get("min_guidance", -math.inf) > settings.get("max_guidance", math.inf):
        raise SettingError(f"settings.min_guidance ({settings['min_guidance']}) must not exceed "
                           f"settings.max_guidance ({settings['max_guidance']})")
    start, end = settings.get("start", 0.0), settings.get("end", 1.0)
    if start >= end:
        raise SettingError(f"{start_name} ({start}) must be below {end_name} ({end})")


def check_text(name: str, value: Any, limit: int, required: bool = False) -> str:
    if not isinstance(value, str):
        raise SettingError(f"{name} must be a string, got {type_name(value)}")
    if required and not value.strip():
        raise SettingError(f"{name} must not be empty")
    if len(value) > limit:
        raise SettingError(f"{name} is {len(value)} characters; at most {limit} are allowed")
    return value


def _names(names: list[str]) -> str:
    listed = ", ".join(shown(n, 40)[1:-1] if isinstance(n, str) else shown(n) for n in names[:SHOWN])
    return listed + (f" and {len(names) - SHOWN:,} more" if len(names) > SHOWN else "")


# --- the setting ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Setting:
    """A whole setting: the four multipliers, the per-region factors that are not 1, the render
    settings a text carried (``start`` / ``end`` in sigma space), and a preset's name, description
    and model hint. ``notes`` says what reading changed (an older format converted, link parameters
    ignored)."""

    multipliers: Mapping[str, float] = dataclasses.field(default_factory=dict)  # field -> value; absent is 1
    factors: Mapping[tuple[str, str], float] = dataclasses.field(default_factory=dict)  # (region, field) -> factor
    settings: Mapping[str, int | float] = dataclasses.field(default_factory=dict)
    name: str | None = None
    description: str = ""
    model: str | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [f for f in self.multipliers if f not in FIELDS]
        if unknown:
            raise SettingError(f"unknown multiplier(s) {_names(unknown)}; expected some of {', '.join(FIELDS)}")
        values = {f: check_number(f, self.multipliers.get(f, 1.0)) for f in FIELDS}
        factors = {}
        for (region, field), value in self.factors.items():
            if region not in REGIONS:
                raise SettingError(f"unknown region {shown(region)}; expected one of {', '.join(REGIONS)}")
            if field not in FIELDS:
                raise SettingError(f"unknown multiplier {shown(field)} in region {region}; "
                                   f"expected one of {', '.join(FIELDS)}")
            factor = check_number(f"{region}.{field}", value)
            if factor != 1.0:
                factors[(region, field)] = factor
        settings = {name: check_setting(name, value) for name, value in self.settings.items()}
        _check_schedule(settings, "settings.start", "settings.end")
        object.__setattr__(self, "multipliers", values)
        object.__setattr__(self, "factors", dict(sorted(factors.items())))
        object.__setattr__(self, "settings", settings)
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def start(self) -> float:
        return self.settings.get("start", 0.0)

    @property
    def end(self) -> float:
        return self.settings.get("end", 1.0)

    @property
    def every_step(self) -> bool:
        return self.start == 0.0 and self.end == 1.0

    def value(self, field: str, region: str | None) -> float:
        """The scale in force for a tensor of ``field`` in ``region``: the global value times the
        region's factor (exactly the global value where the factor is 1), as the app computes it."""
        value = self.multipliers[field]
        factor = self.factors.get((region, field), 1.0)
        return value if factor == 1.0 else value * factor

    def active(self, sigma: float, to_sigma=None) -> bool:
        """Whether a model call at noise level ``sigma`` is patched: ComfyUI's rule for its own start/end
        percents (``to_sigma``: the model's ``percent_to_sigma``; SVD's by default)."""
        to_sigma = to_sigma or percent_to_sigma
        return to_sigma(self.end) <= sigma <= to_sigma(self.start)

    # --- readers

    @classmethod
    def from_text(cls, text: str | bytes, what: str = "the setting") -> Setting:
        """A preset JSON document or a share link (a URL, or its query string), as the node's ``setting``
        input and the app's imports take them. A byte order mark and surrounding white space are
        ignored; text that is neither a JSON document nor a link naming a setting is refused."""
        if isinstance(text, (bytes, bytearray)):
            text = _decoded(text, what)
        if not isinstance(text, str):
            raise SettingError(f"{what} must be text, got {type_name(text)}")
        text = text.lstrip("\ufeff")
        body = text.strip()
        if body[:1] in ("{", "[", '"', "-") or body[:1].isdigit() or body in ("true", "false", "null"):
            return cls.from_preset(read_json(text, "preset"))
        body = _decoded(body, what)
        if not body:
            raise SettingError(f"{what} is empty; paste a preset JSON or a share link")
        setting = cls.from_link(body)
        if not any(key in LINK_KEYS for key, _ in _pairs(body)):
            raise SettingError(f"{what} is neither a preset JSON nor a share link: it names no setting "
                               f"(self_temporal=…, start=…, …); got {shown(body)}")
        return setting

    @classmethod
    def from_preset_text(cls, text: str | bytes, what: str = "preset") -> Setting:
        """A preset JSON document (a file's bytes or text; UTF-8, a byte order mark allowed)."""
        if isinstance(text, (bytes, bytearray)):
            text = _decoded(text, what)
        return cls.from_preset(read_json(text.lstrip("\ufeff") if isinstance(text, str) else text, what))

    @classmethod
    def from_preset(cls, doc: Any) -> Setting:
        """A parsed preset document, any version; older ones are brought to the current meaning."""
        if not isinstance(doc, dict):
            raise SettingError(f"the preset must be a JSON object, got {type_name(doc)}")
        if doc.get("format") != FORMAT_NAME:
            got = shown(doc["format"]) if isinstance(doc.get("format"), str) else type_name(doc.get("format"))
            raise SettingError(f"format must be {FORMAT_NAME!r}, got {got}")
        version = doc.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            got = shown(version) if isinstance(version, (int, str)) and not isinstance(version, bool) \
                else type_name(version) if not isinstance(version, bool) else str(version).lower()
            raise SettingError(f"version must be a positive whole number, got {got}")
        if version > FORMAT_VERSION:
            raise SettingError(f"this preset was made by a newer version of the app (format version {version:,}; "
                               f"this one reads up to {FORMAT_VERSION}); update the app or node to open it")
        doc = dict(doc)
        if version == 1:  # the four multipliers at the top level, as ComfyUI's node lists its inputs
            if "multipliers" in doc:
                raise SettingError("multipliers: a version-1 preset keeps the multipliers at the top level")
            doc["multipliers"] = {f: doc.pop(f) for f in FIELDS if f in doc}
        unknown = [k for k in doc if k not in _TOP_LEVEL]
        if unknown:
            raise SettingError(f"unknown field(s) {_names(unknown)}")
        if "name" not in doc:
            raise SettingError("name is missing")
        name = check_text("name", doc["name"], MAX_NAME_CHARS, required=True)
        description = check_text("description", doc.get("description", ""), MAX_DESCRIPTION_CHARS)
        model = doc.get("model")
        if model is not None:
            model = check_text("model", model, MAX_MODEL_CHARS, required=True)
        multipliers = _object(doc.get("multipliers", {}), "multipliers")
        if "regions" in multipliers:
            raise SettingError("multipliers.regions: region factors go in the top-level regions object")
        unknown = [k for k in multipliers if k not in FIELDS]
        if unknown:
            raise SettingError(f"multipliers: unknown multiplier(s) {_names(unknown)}; "
                               f"expected some of {', '.join(FIELDS)}")
        multipliers = {f: check_number(f"multipliers.{f}", v) for f, v in multipliers.items()}
        factors = {}
        for region, table in _object(doc.get("regions", {}), "regions").items():
            if region not in REGIONS:
                raise SettingError(f"regions: unknown region {shown(region)}; expected one of {', '.join(REGIONS)}")
            for field, value in _object(table, f"regions.{region}").items():
                if field not in FIELDS:
                    raise SettingError(f"regions.{region}: unknown multiplier {shown(field)}; "
                                       f"expected one of {', '.join(FIELDS)}")
                factors[(region, field)] = check_number(f"regions.{region}.{field}", value)
        settings = _object(doc.get("settings", {}), "settings")
        settings = {k: check_setting(k, v) for k, v in settings.items()}
        _check_schedule(settings, "settings.start", "settings.end")
        notes = ()
        if version < 4 and ("start" in settings or "end" in settings):
            settings, note = _upgrade_schedule(settings, version)
            notes = (note,)
        return cls(multipliers, factors, settings, name, description, model, notes)

    @classmethod
    def from_link(cls, params: Mapping[str, str] | str) -> Setting:
        """A share link: a URL, its query string, or its parsed parameters. Parameters that are not the
        app's are ignored (and listed in ``notes``); a region factor of an unknown region is refused."""
        if isinstance(params, str):
            params = dict(_pairs(params))
        multipliers, factors, settings, unknown = {}, {}, {}, []
        name = None
        for key, raw in params.items():
            if key == "name":
                name = check_text("link parameter name", raw, MAX_NAME_CHARS)
            elif key in FIELDS:
                multipliers[key] = check_number(key, _link_number(key, raw))
            elif key in _BOUNDS:
                settings[key] = check_setting(key, _link_number(key, raw))
            elif "." in key and (key.partition(".")[0] in REGIONS or key.partition(".")[2] in FIELDS):
                region, _, field = key.partition(".")
                if region not in REGIONS:
                    raise SettingError(f"link parameter {shown(key)[1:-1]}: unknown region {shown(region)}; "
                                       f"expected one of {', '.join(REGIONS)}")
                if field not in FIELDS:
                    raise SettingError(f"link parameter {shown(key)[1:-1]}: unknown multiplier {shown(field)}; "
                                       f"expected one of {', '.join(FIELDS)}")
                factors[(region, field)] = check_number(key, _link_number(key, raw))
            else:
                unknown.append(key)
        _check_schedule(settings, "settings.start", "settings.end")
        notes = (_unknown_note(unknown),) if unknown else ()
        return cls(multipliers, factors, settings, name if name and name.strip() else None, notes=notes)

    @classmethod
    def from_node(cls, inputs: Mapping[str, Any]) -> Setting:
        """The node's inputs as the node reads them: its ``setting`` text where it holds more than white
        space, else its widgets."""
        text = inputs.get("setting") or ""
        if not isinstance(text, str):
            raise SettingError(f"setting must be text, got {type_name(text)}")
        if text.strip():
            return cls.from_text(text)
        return cls.from_inputs({k: v for k, v in inputs.items() if k != "setting"})

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, Any]) -> Setting:
        """The node's inputs: the four fields, ``start_percent`` / ``end_percent``, ``up_self_temporal``, ..."""
        multipliers = {f: check_number(f, inputs[f]) for f in FIELDS if f in inputs}
        factors = {(r, f): check_number(region_input(r, f), inputs[region_input(r, f)])
                   for r in REGIONS for f in FIELDS if region_input(r, f) in inputs}
        schedule = {name: check_number(key, inputs[key], float, 0.0, 1.0)
                    for name, key in (("start", "start_percent"), ("end", "end_percent")) if key in inputs}
        _check_schedule(schedule, "start_percent", "end_percent")
        return cls(multipliers, factors, schedule)


def _object(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise SettingError(f"{name} must be an object, got {type_name(value)}")
    return value


def _decoded(text: str | bytes, what: str) -> str:
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_TEXT_BYTES:
            raise SettingError(f"{what} is {len(text):,} bytes; at most {MAX_TEXT_BYTES // 1024} KB are allowed")
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise SettingError(f"{what} is not UTF-8 text") from None
    if not isinstance(text, str):
        raise SettingError(f"{what} must be text, got {type_name(text)}")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape in an outer document
        raise SettingError(f"{what} is not valid Unicode text") from None
    if size > MAX_TEXT_BYTES:
        raise SettingError(f"{what} is {size:,} bytes; at most {MAX_TEXT_BYTES // 1024} KB are allowed")
    return text


def _pairs(text: str) -> list[tuple[str, str]]:
    """A link's parameters, from a whole URL or a query string (with or without its ``?``)."""
    query = urllib.parse.urlsplit(text).query if "?" in text or "://" in text else text
    return urllib.parse.parse_qsl(query, keep_blank_values=True)


def _link_number(key: str, raw: str) -> float | _LongNumber:
    if len(raw) > MAX_NUMBER_CHARS and _LINK_NUMBER.fullmatch(raw):
        return _LongNumber(raw)
    if not _LINK_NUMBER.fullmatch(raw):
        text = raw if len(raw) <= 80 else raw[:79] + "…"  # quoted on one line, not all of it
        raise SettingError(f"link parameter {key} must be a number, got {text!r}")
    return float(raw)


def _unknown_note(keys: list[str]) -> str:
    if len(keys) == 1:
        return f"ignored unknown link parameter {keys[0][:40]!r}"
    names = ", ".join(repr(k[:40]) for k in keys[:SHOWN])
    more = f" and {len(keys) - SHOWN:,} more" if len(keys) > SHOWN else ""
    return f"ignored {len(keys):,} unknown link parameters: {names}{more}"


# --- JSON -----------------------------------------------------------------------------------------------


def read_json(text: str, what: str) -> Any:
    """Strict JSON of at most ``MAX_TEXT_BYTES``: nesting and number lengths checked before Python
    builds or converts anything; NaN and Infinity refused."""
    text = _decoded(text, what)
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise SettingError(f"{what} is nested {depth} levels deep; at most {MAX_DEPTH} levels are allowed")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_number(int), parse_float=_number(float))
    except json.JSONDecodeError as exc:
        raise SettingError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting outside strings (no parse, no recursion)."""
    depth = deepest = 0
    for char in _STRING.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _number(convert):
    def parse(text: str):
        return convert(text) if len(text) <= MAX_NUMBER_CHARS else _LongNumber(text)

    return parse


def _reject_constant(name: str) -> None:
    raise SettingError(f"contains {name}, which is not a number JSON allows")


# --- the schedule in sigma space ------------------------------------------------------------------------


def percent_to_sigma(percent: float, sigma_min: float = SVD_SIGMA_MIN, sigma_max: float = SVD_SIGMA_MAX) -> float:
    """ComfyUI's ``percent_to_sigma`` for SVD's sampling (``ModelSamplingContinuousEDM``): 0 is above
    every sigma, 1 is 0, and between them sigma falls log-linearly from ``sigma_max`` to ``sigma_min``."""
    if percent <= 0.0:
        return _NO_LIMIT
    if percent >= 1.0:
        return 0.0
    low = math.log(sigma_min)
    return math.exp((math.log(sigma_max) - low) * (1.0 - percent) + low)


def sigma_to_percent(sigma: float, sigma_min: float = SVD_SIGMA_MIN, sigma_max: float = SVD_SIGMA_MAX) -> float:
    """The inverse of ``percent_to_sigma`` between ``sigma_min`` and ``sigma_max``."""
    low = math.log(sigma_min)
    return 1.0 - (math.log(sigma) - low) / (math.log(sigma_max) - low)


def karras_sigmas(steps: int, sigma_min: float = SVD_SIGMA_MIN, sigma_max: float = SVD_SIGMA_MAX,
                  rho: float = KARRAS_RHO) -> list[float]:
    """The noise levels of a ``steps``-step Karras schedule (ComfyUI's "karras" scheduler, diffusers'
    ``use_karras_sigmas``), highest first, then 0: step i is evaluated at ``sigmas[i]``."""
    high, low = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    ramp = [i / (steps - 1) for i in range(steps)] if steps > 1 else [0.0]
    return [(high + r * (low - high)) ** rho for r in ramp] + [0.0]


def scheduled_steps(start: float, end: float, sigmas, sigma_min: float = SVD_SIGMA_MIN,
                    sigma_max: float = SVD_SIGMA_MAX) -> range:
    """The steps (0-based) a schedule patches in a run whose step i is evaluated at ``sigmas[i]`` (falling;
    a trailing 0, the end of the run, is not a step): those with
    ``percent_to_sigma(end) <= sigmas[i] <= percent_to_sigma(start)``, ComfyUI's rule for start/end percents."""
    sigmas = [float(s) for s in sigmas]
    if sigmas and sigmas[-1] == 0.0:
        sigmas = sigmas[:-1]
    high, low = percent_to_sigma(start, sigma_min, sigma_max), percent_to_sigma(end, sigma_min, sigma_max)
    chosen = [i for i, sigma in enumerate(sigmas) if low <= sigma <= high]
    return range(chosen[0], chosen[-1] + 1) if chosen else range(0)


def step_fraction_to_percent(fraction: float, steps: int) -> float:
    """A step fraction of format versions 1 to 3 (step i of n patched from ``ceil(fraction * n)`` on, or
    until before it) as the sigma-space percent that selects the same steps in SVD's ``steps``-step
    Karras schedule: the point midway (in log sigma) between the neighbouring steps' sigmas, to 4
    decimals; 0 and 1 stay."""
    boundary = math.ceil(round(fraction * steps, 9))
    if boundary <= 0:
        return 0.0
    if boundary >= steps:
        return 1.0
    sigmas = karras_sigmas(steps)
    midway = math.sqrt(sigmas[boundary - 1] * sigmas[boundary])
    return round(sigma_to_percent(midway), 4)


def _upgrade_schedule(settings: dict, version: int) -> tuple[dict, str]:
    steps = settings.get("steps", DEFAULT_STEPS)
    old = (settings.get("start", 0.0), settings.get("end", 1.0))
    new = tuple(step_fraction_to_percent(f, steps) for f in old)
    if new[0] >= new[1]:  # both fell in one step: the old schedule patched no step at this count
        raise SettingError(f"settings.start ({old[0]}) and settings.end ({old[1]}) of this version-{version} preset "
                           f"select no step of {steps}")
    upgraded = dict(settings)
    for name, value in zip(("start", "end"), new):
        if name in settings:
            upgraded[name] = value
    chosen = scheduled_steps(*new, karras_sigmas(steps))
    return upgraded, (f"version-{version} preset: its schedule {old[0]:g}–{old[1]:g} was a fraction of the steps; "
                      f"as ComfyUI's sigma-space start/end percents it is {new[0]:g}–{new[1]:g}, which patch the same "
                      f"steps ({chosen[0] + 1} to {chosen[-1] + 1} of {steps}, SVD's Karras schedule)")


# --- the node's keys ------------------------------------------------------------------------------------


def key_target(key: str) -> tuple[str, str | None] | None:
    """For a UNet state-dict key: the multiplier field that scales it (the rule of ComfyUI's
    ``UNetTemporalAttentionMultiply``) and its region, or None when it is not scaled."""
    if key.endswith(("attn1.to_out.0.bias", "attn1.to_out.0.weight")):
        kind = "self"
    elif key.endswith(("attn2.to_out.0.bias", "attn2.to_out.0.weight")):
        kind = "cross"
    else:
        return None
    field = f"{kind}_{'temporal' if '.time_stack.' in key else 'structural'}"
    stripped = key.split("diffusion_model.", 1)[-1]
    region = next((r for prefix, r in _REGION_PREFIXES.items() if stripped.startswith(prefix)), None)
    return field, region
