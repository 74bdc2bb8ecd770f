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

    [motion_target]                 # optional: per image and seed, find the knob value for each ratio
    ratios = [0.6, 1.4]             # × the baseline's optical-flow motion
    knob = "self_temporal"          # default; budget = 6 renders, tolerance = 0.05
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import logging
import os
from pathlib import Path

from svd_attention_lab.controls import Multipliers
from svd_attention_lab.studies import MotionTarget
from svd_attention_lab.engine import (
    ModelSource,
    PreviewError,
    RenderSettings,
    load_image,
    preview_settings,
    resolve_source,
)

from ._plan_doc import MAX_JOBS, MAX_PLAN_BYTES, PlanError, read_plan_doc

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MAX_IMAGES = 10_000
_GLOB_CHARS = frozenset("*?[")


@dataclasses.dataclass(frozen=True)
class Job:
    id: str  # stable: the image's content, the settings, the multipliers, the model
    group: str  # jobs sharing image, settings (seed included) and model share one baseline render
    image: str  # path as the plan resolved it
    image_sha256: str
    settings: RenderSettings
    multipliers: Multipliers  # for a motion target: the other knobs (all 1); its row holds the setting found
    model: str
    target: MotionTarget | None = None


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
    targets: tuple[MotionTarget, ...] = ()

    def as_dict(self) -> dict:
        return {"plan": str(self.path), "model": self.model, "output": str(self.output),
                "images": [str(p) for p in self.images], "seeds": list(self.seeds), "threads": self.threads,
                "multipliers": [m.as_dict() for m in self.grid], "settings": self.settings,
                **({"motion_targets": [t.as_dict() for t in self.targets]} if self.targets else {})}

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
                for target in self.targets:
                    job_id = _digest(group, {"motion_target": target.as_dict()}, image.name)
                    jobs.append(Job(job_id, group, str(image), digest, settings, Multipliers(), model_key, target))
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
    doc = read_plan_doc(path.read_bytes(), path)
    here = path.resolve().parent
    model = doc.model
    if model is not None:
        if (here / model).exists():
            model = str(here / model)
        try:
            resolve_source(model)
        except PreviewError as exc:
            raise PlanError(f"{path.name}: model: {exc}") from None
    images = _images(doc.images, here, path.name)
    count = len(doc.seeds) * (len(doc.grid) + len(doc.targets)) * len(images)
    if count > MAX_JOBS:
        raise PlanError(f"{path.name}: {count:,} jobs; a plan holds at most {MAX_JOBS:,}")
    return Plan(path=path, model=model, output=here / doc.output, images=images, seeds=tuple(doc.seeds),
                threads=doc.threads, grid=doc.grid, settings=doc.settings,
                targets=tuple(MotionTarget(**t) for t in doc.targets))


def _images(entries, here: Path, name: str) -> tuple[Path, ...]:
    found: dict[Path, None] = {}
    for n, entry in enumerate(entries):
        target = here / entry
        if target.is_dir():
            matches = sorted(p for p in target.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif target.is_file():
            matches = [target]
        else:
            matches, links = _glob(here, entry)
            if links:
                note = f"a glob follows no link to a folder: {_shown(links[0], here)}"
                if not matches:
                    raise PlanError(f"{name}: images[{n}] {entry!r} matches no image ({note})")
                logger.warning("%s: images[%d] %r: %s%s", name, n, entry, note,
                               f" and {len(links) - 1} more" if len(links) > 1 else "")
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


def _shown(path: Path, here: Path) -> str:
    try:
        return str(path.relative_to(here))
    except ValueError:
        return str(path)


def _glob(here: Path, pattern: str) -> tuple[list[Path], list[Path]]:
    """The images ``pattern`` matches below its fixed leading folders, and the links to folders it
    passed by. No wildcard (``**`` included) enters a link to a folder, on every Python: folders linked
    to each other or to themselves can neither loop nor multiply the paths. A folder the pattern names
    outright is entered, link or not: one step per name."""
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if _GLOB_CHARS & set(part)), len(parts))
    base, rest = here.joinpath(*parts[:fixed]), parts[fixed:]
    if not rest or not base.is_dir():
        return [], []
    matches: list[Path] = []
    links: list[Path] = []
    seen: set[tuple[Path, int]] = set()  # (folder, part): two **s reach a folder many ways, once is enough
    todo = [(base, 0)]
    while todo and len(matches) <= MAX_IMAGES:
        folder, i = todo.pop()
        if (folder, i) in seen:
            continue
        seen.add((folder, i))
        part, last = rest[i], i == len(rest) - 1
        if not _GLOB_CHARS & set(part):
            if last and part.lower().endswith(IMAGE_SUFFIXES) and (folder / part).is_file():
                matches.append(folder / part)
            elif not last and (folder / part).is_dir():
                todo.append((folder / part, i + 1))
            continue
        if part == "**":
            if last:  # ** at the end matches folders, never images
                continue
            todo.append((folder, i + 1))  # ** as no folder at all
        for entry in _entries(folder):
            path = folder / entry.name
            if part != "**" and not fnmatch.fnmatchcase(entry.name, part):
                continue
            if not last:  # a folder to go into (** stays at the same part: any depth)
                if entry.is_dir(follow_symlinks=False):
                    todo.append((path, i if part == "**" else i + 1))
                elif entry.is_symlink() and _is_dir(entry):
                    links.append(path)
            elif path.suffix.lower() in IMAGE_SUFFIXES and entry.is_file():  # a link to a file is fine
                matches.append(path)
    return sorted(matches), sorted(links)


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError:  # unreadable, or gone meanwhile: nothing to match there
        return []


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
