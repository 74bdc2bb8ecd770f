"""Batch plans: images x seeds x multiplier settings, read strictly from TOML or JSON, expanded into jobs.

A plan (paths are relative to the plan file)::

    model = "demo"                  # as --model; default $SVD_MODEL, else the demo model
    output = "batch-results"        # where results go
    images = ["photos/", "*.png"]   # files, folders, globs
    seeds = [0, 1, 2]               # or {start = 0, stop = 8} (a range)
    threads = 1                     # CPU threads per render (on the CPU, part of a render's numerics)
    presets = ["Damped temporal attention"]   # optional: built-in names or preset files

    [multipliers]                   # a grid: every combination (fields not named stay 1)
    self_temporal = [0.6, 1.0, 1.4]

    [settings]                      # render settings, the app's names; others take the preview defaults
    steps = 10
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import tomllib
from pathlib import Path

from controls import FIELDS, Multipliers, check_multiplier, check_number, setting_names
from presets import Preset, PresetError, nesting_depth, pick, read_json

from preview import ModelSource, PreviewError, RenderSettings, load_image, preview_settings, resolve_source

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MAX_PLAN_BYTES = 1_000_000
MAX_PLAN_DEPTH = 16  # a plan nests 3 levels; deeper is refused before parsing (no recursion in the parser)
MAX_JOBS = 100_000  # images x seeds x settings, counted before anything is expanded
MAX_IMAGES = 10_000
_GLOB_CHARS = frozenset("*?[")
KEYS = ("model", "output", "images", "seeds", "threads", "presets", "multipliers", "settings")


class PlanError(PreviewError):
    """A plan that cannot run; the message names the entry."""


@dataclasses.dataclass(frozen=True)
class Job:
    id: str  # stable: the image's content, the settings, the multipliers, the model
    group: str  # jobs sharing image, settings (seed included) and model share one baseline render
    image: str  # path as the plan resolved it
    image_sha256: str
    settings: RenderSettings
    multipliers: Multipliers
    model: str


@dataclasses.dataclass(frozen=True)
class Plan:
    path: Path
    model: str | None
    output: Path
    images: tuple[Path, ...]
    seeds: tuple[int, ...]
    threads: int
    grid: tuple[Multipliers, ...]  # the grid's combinations, then the presets', without repeats
    settings: dict  # as written (validated); preview defaults fill the rest per model

    def as_dict(self) -> dict:
        return {"plan": str(self.path), "model": self.model, "output": str(self.output),
                "images": [str(p) for p in self.images], "seeds": list(self.seeds), "threads": self.threads,
                "multipliers": [m.as_dict() for m in self.grid], "settings": self.settings}

    def jobs(self, source: ModelSource, model_key: str) -> list[Job]:
        """Every job, images x seeds x multipliers; ``model_key`` names the weights and numerics."""
        base = preview_settings(source, **self.settings)
        jobs = []
        for image in self.images:
            digest = hashlib.sha256(image.read_bytes()).hexdigest()
            for seed in self.seeds:
                settings = base.replace(seed=seed)
                group = _digest(digest, settings.as_dict(), model_key, self.threads)
                for multipliers in self.grid:
                    job_id = _digest(group, multipliers.as_dict(), image.name)  # two names, same bytes: two jobs
                    jobs.append(Job(job_id, group, str(image), digest, settings, multipliers, model_key))
        return jobs


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def load_plan(path: str | Path) -> Plan:
    """Read and check a whole plan before anything renders; every message names the plan and the entry."""
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"{path}: no such plan file")
    if path.stat().st_size > MAX_PLAN_BYTES:
        raise PlanError(f"{path}: a plan is at most {MAX_PLAN_BYTES:,} bytes")
    doc = _parse(path.read_bytes(), path)
    unknown = sorted(set(doc) - set(KEYS))
    if unknown:
        raise PlanError(f"{path.name}: unknown key {unknown[0]!r} (a plan has {', '.join(KEYS)})")
    here = path.resolve().parent
    model = doc.get("model")
    if model is not None:
        if not isinstance(model, str) or not model:
            raise PlanError(f"{path.name}: model must be a folder, file or Hub id as text")
        if (here / model).exists():
            model = str(here / model)
        try:
            resolve_source(model)
        except PreviewError as exc:
            raise PlanError(f"{path.name}: model: {exc}") from None
    output = doc.get("output", "batch-results")
    if not isinstance(output, str) or not output:
        raise PlanError(f"{path.name}: output must be a folder name")
    # Counted before anything is expanded: a grid or a seed range can describe billions of jobs.
    seeds = _seeds(doc.get("seeds", [0]), path.name)
    grid_size = _grid_size(doc.get("multipliers", {}),
                           path.name) + len(_list(doc.get("presets", []), "presets", path.name))
    count = len(seeds) * grid_size
    if count > MAX_JOBS:
        raise PlanError(f"{path.name}: {count:,} jobs per image; a plan holds at most {MAX_JOBS:,}")
    images = _images(doc.get("images"), here, path.name)
    count *= len(images)
    if count > MAX_JOBS:
        raise PlanError(f"{path.name}: {count:,} jobs; a plan holds at most {MAX_JOBS:,}")
    grid = _grid(doc.get("multipliers", {}), path.name) + _presets(doc.get("presets", []), here, path.name)
    if not grid:
        raise PlanError(f"{path.name}: nothing to compare: give [multipliers] values or presets")
    return Plan(path=path, model=model, output=here / output, images=images, seeds=tuple(seeds),
                threads=_whole(doc.get("threads", 1), "threads", 1, 256, path.name), grid=tuple(dict.fromkeys(grid)),
                settings=_settings(doc.get("settings", {}), path.name))


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


def _images(entries, here: Path, name: str) -> tuple[Path, ...]:
    if not isinstance(entries, list) or not entries:
        raise PlanError(f"{name}: images must be a non-empty list of files, folders or globs")
    found: dict[Path, None] = {}
    for n, entry in enumerate(entries):
        if not isinstance(entry, str) or not entry:
            raise PlanError(f"{name}: images[{n}] must be a path as text")
        target = here / entry
        if target.is_dir():
            matches = sorted(p for p in target.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif target.is_file():
            matches = [target]
        else:
            matches = _glob(here, entry)
        if not matches:
            raise PlanError(f"{name}: images[{n}] {entry!r} matches no image")
        for match in matches:
            found[match.resolve()] = None
            if len(found) > MAX_IMAGES:
                raise PlanError(f"{name}: images[{n}] {entry!r}: more than {MAX_IMAGES:,} images")
    for image in found:
        try:
            load_image(image)  # a text file named .png, /etc/passwd, a decompression bomb: refused now
        except PreviewError as exc:
            raise PlanError(f"{name}: images: {image.name}: {exc}") from None
    return tuple(found)


def _glob(here: Path, pattern: str) -> list[Path]:
    """``pattern`` below its fixed leading folders; ``**`` never follows a link to a folder, so a
    symbolic link loop cannot make it run forever."""
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if _GLOB_CHARS & set(part)), len(parts))
    base, rest = here.joinpath(*parts[:fixed]), parts[fixed:]
    if not rest or not base.is_dir():
        return []
    matches = []
    for p in base.glob(str(Path(*rest))):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            matches.append(p)
            if len(matches) > MAX_IMAGES:
                break
    return sorted(matches)


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
        RenderSettings(**table)
    except ValueError as exc:
        raise PlanError(f"{name}: settings: {exc}") from None
    return dict(table)
