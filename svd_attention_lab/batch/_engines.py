"""Batch runs: every job of a plan on one loaded model (``local``) or on Ray actors (``ray``).

Jobs sharing an image, settings and seed form a group whose baseline is rendered once, on one
worker. Each finished job is written atomically (``jobs/<id>.json`` last, so it marks the job
done); a re-run skips finished jobs and removes the temporary files of a run killed mid-write. The
results table (CSV and Parquet) is rebuilt from those files at the end, so every job appears
exactly once, whatever was retried or interrupted. A run holds its results folder (a lock on it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # not on POSIX: runs are not locked, and leave temporary files to the next locked one
    fcntl = None

import numpy as np
from PIL import Image


from svd_attention_lab.files import atomic_write_bytes
from svd_attention_lab.engine import Previewer, load_image, load_model, resolve_placement, resolve_source, weights_key
from svd_attention_lab.outputs import Metrics, write_side_by_side
from svd_attention_lab.studies import find_motion_target

from ._plan import Job, Plan, PlanError

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")
THUMBNAIL_FRAMES = 4
THUMBNAIL_HEIGHT = 96


@dataclasses.dataclass
class JobResult:
    row: dict
    thumbnail: bytes  # PNG: THUMBNAIL_FRAMES baseline frames over the same patched frames
    video: bytes | None  # mp4, baseline | patched, with --save-videos


@dataclasses.dataclass(frozen=True)
class BatchReport:
    jobs: int
    already_done: int
    done: int  # jobs finished in this run
    renders: int  # videos rendered in this run (baselines once per group, none for identity settings)
    seconds: float
    interrupted: bool
    table: Path


def render_group(previewer: Previewer, jobs: list[Job], save_videos: bool, worker: str) -> list[JobResult]:
    """One group's jobs on one model: the baseline rendered once (the previewer caches it)."""
    image = load_image(jobs[0].image)
    results = []
    for job in jobs:
        started = time.perf_counter()
        multipliers, found, searched = job.multipliers, {}, 0  # searched: renders the search made
        if job.target is not None:  # search first; the row then holds the setting found and its comparison
            result = find_motion_target(previewer, image, job.settings, job.target, job.multipliers)
            multipliers, searched = result.multipliers, result.renders + (0 if result.baseline_cached else 1)
            found = {"target_ratio": job.target.ratio, "target_knob": job.target.knob,
                     "target_reached": result.reached, "target_out_of_reach": result.out_of_reach,
                     "target_found_ratio": result.best.ratio, "target_renders": result.renders,
                     "target_sentence": result.sentence()}
        comparison = previewer.render(image, job.settings, multipliers)
        seconds = time.perf_counter() - started
        renders = searched + (0 if comparison.baseline_cached else 1) + (0 if multipliers.is_identity else 1)
        row = {
            "job_id": job.id, "group_id": job.group, "image": job.image, "image_sha256": job.image_sha256,
            "seed": job.settings.seed, **multipliers.columns(), **found,
            **{f"setting_{k}": v for k, v in job.settings.as_dict().items() if k != "seed"},
            "model": job.model, **Metrics.compare(comparison.baseline, comparison.patched, job.settings.fps).summary(),
            "baseline_sha256": _sha(comparison.baseline), "patched_sha256": _sha(comparison.patched),
            "render_seconds": round(seconds, 4), "renders": renders, "worker": worker,
        }
        video = None
        if save_videos:
            with tempfile.TemporaryDirectory() as tmp:
                video = write_side_by_side(comparison, Path(tmp) / "pair.mp4").read_bytes()
        results.append(JobResult(row, _thumbnail(comparison.baseline, comparison.patched), video))
    return results


def _sha(frames: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()


def _thumbnail(baseline: np.ndarray, patched: np.ndarray) -> bytes:
    picks = np.linspace(0, len(baseline) - 1, THUMBNAIL_FRAMES).round().astype(int)
    strip = np.concatenate([np.concatenate(list(v[picks]), axis=1) for v in (baseline, patched)], axis=0)
    image = Image.fromarray(strip)
    if image.height > 2 * THUMBNAIL_HEIGHT:
        image = image.resize((round(image.width * 2 * THUMBNAIL_HEIGHT / image.height), 2 * THUMBNAIL_HEIGHT),
                             Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


MARKER = "batch.json"  # names the plan whose results a folder holds; nothing is written into a folder without it
MARKER_FORMAT = "svd-attention-batch-results"
# What a run writes, folder by folder, and the temporary file atomic_write_bytes writes each through
# (.NAME.XXXXXXXX.part beside it): a run killed mid-write leaves that behind, the next run removes it.
OWN_FILES = {".": r"batch\.json|results\.csv|results\.parquet", "jobs": r"[0-9a-f]{16}\.json",
             "thumbs": r"[0-9a-f]{16}\.png", "videos": r"[0-9a-f]{16}\.mp4"}
_OWN_TEMPORARY = {sub: re.compile(rf"\.(?:{names})\.[a-z0-9_]{{8}}\.part") for sub, names in OWN_FILES.items()}


class ResultStore:
    """A results folder: ``batch.json`` (the marker and the plan as run), ``jobs/<id>.json``,
    ``thumbs/<id>.png``, ``videos/<id>.mp4``, and the table ``results.csv`` / ``results.parquet``.

    Opening a store writes nothing; :meth:`claim` refuses a file, a non-empty folder without the
    marker, another plan's results, or a folder another run holds, before the first write."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def check(self, plan_path: Path, record: dict) -> None:
        """Raise ``PlanError`` unless this run may write here: the folder is missing, empty, or holds
        results of the same plan (``record``: the plan as run)."""
        folder, plan_path = self.folder, Path(plan_path).resolve()
        if folder.exists() and not folder.is_dir():
            raise PlanError(f"{plan_path.name}: output {folder} is a file, not a folder")
        if not folder.is_dir() or not any(folder.iterdir()):
            return
        marker = folder / MARKER
        try:
            owner = json.loads(marker.read_text())
            ours = owner.get("format") == MARKER_FORMAT
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise PlanError(f"{plan_path.name}: output {folder} is not empty and holds no batch results "
                            f"({MARKER} missing); choose an empty or new folder (--out DIR)")
        if not _same_plan(owner, plan_path, record):
            raise PlanError(f"{plan_path.name}: output {folder} holds the results of another plan "
                            f"({owner.get('plan')}); choose another folder (--out DIR)")

    @contextlib.contextmanager
    def claim(self, plan_path: Path, record: dict) -> Iterator[None]:
        """Check, then create the folder, hold it for this run (a lock on the folder, released when the
        block ends), remove the temporary files a killed run left, and write the marker with the plan as run."""
        self.check(plan_path, record)
        for sub in ("jobs", "thumbs"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        with self._held(Path(plan_path).name) as held:
            if held:  # no other run of ours is writing here, so every temporary file of ours is stale
                for path in self.stale_files():
                    path.unlink(missing_ok=True)
            marker = {"format": MARKER_FORMAT} | record | {"plan": str(Path(plan_path).resolve())}
            atomic_write_bytes(self.folder / MARKER, json.dumps(marker, indent=2).encode(), replace=True)
            yield

    @contextlib.contextmanager
    def _held(self, plan_name: str) -> Iterator[bool]:
        """An exclusive lock on the folder for the block; False where the system has none to give."""
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            held = fcntl is not None
            if held:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise PlanError(f"{plan_name}: output {self.folder} is in use by another run; wait for it to "
                                    f"end or choose another folder (--out DIR)") from None
                except OSError:  # e.g. a network file system without locks: run, but remove nothing
                    held = False
            yield held
        finally:
            os.close(fd)  # releases the lock

    def stale_files(self) -> list[Path]:
        """Temporary files of this store's own names: what a run killed mid-write leaves."""
        return sorted(path for sub, pattern in _OWN_TEMPORARY.items() if (self.folder / sub).is_dir()
                      for path in (self.folder / sub).iterdir() if pattern.fullmatch(path.name) and path.is_file())

    def done(self) -> set[str]:
        jobs = self.folder / "jobs"
        return {p.stem for p in jobs.glob("*.json")} if jobs.is_dir() else set()

    def save(self, result: JobResult) -> None:
        job_id = result.row["job_id"]
        atomic_write_bytes(self.folder / "thumbs" / f"{job_id}.png", result.thumbnail, replace=True)
        if result.video is not None:
            (self.folder / "videos").mkdir(exist_ok=True)
            atomic_write_bytes(self.folder / "videos" / f"{job_id}.mp4", result.video, replace=True)
        row = json.dumps(result.row, indent=1).encode()
        atomic_write_bytes(self.folder / "jobs" / f"{job_id}.json", row, replace=True)  # last: marks it done

    def rows(self, job_ids: list[str] | None = None) -> list[dict]:
        ids = job_ids if job_ids is not None else sorted(self.done())
        return [json.loads((self.folder / "jobs" / f"{i}.json").read_text()) for i in ids
                if (self.folder / "jobs" / f"{i}.json").is_file()]

    def write_table(self, job_ids: list[str]) -> Path:
        """``results.csv`` and ``results.parquet``: one row per finished job of the plan, in plan order."""
        import pandas as pd

        table = pd.DataFrame(self.rows(job_ids))
        csv = self.folder / "results.csv"
        atomic_write_bytes(csv, table.to_csv(index=False).encode(), replace=True)
        parquet = io.BytesIO()
        table.to_parquet(parquet, index=False)
        atomic_write_bytes(self.folder / "results.parquet", parquet.getvalue(), replace=True)
        return csv


AS_RUN = ("output", "images", "seeds", "threads", "multipliers", "settings")  # the plan as run, paths resolved


def _same_plan(owner: dict, plan_path: Path, record: dict) -> bool:
    """Whether a marker names the plan at ``plan_path`` (resolved): the same file, however its path was
    typed. Markers written before the path was recorded resolved hold it as typed, relative to a working
    folder no one knows now: those name this plan when the file's name and the plan as run are the same."""
    recorded = owner.get("plan")
    if not isinstance(recorded, str) or not recorded:
        return False
    if Path(recorded).is_absolute():
        try:
            return Path(recorded).resolve() == plan_path or os.path.samefile(recorded, plan_path)
        except OSError:  # the recorded plan is gone: another file, even if this one has its text
            return False
    return Path(recorded).name == plan_path.name and all(owner.get(k) == record.get(k) for k in AS_RUN)


class BatchWorker:
    """Loads the model once, then renders whole groups: a Ray actor, or the local engine in this process."""

    def __init__(self, model: str | None, options: dict, threads: int, name: str | None = None) -> None:
        import torch

        torch.set_num_threads(threads)  # on the CPU the thread count is part of the numerics
        self.previewer = Previewer(load_model(model, **options))
        self.name = name or f"{os.uname().nodename}:{os.getpid()}"

    def pid(self) -> int:
        return os.getpid()

    def run(self, group: list[Job], save_videos: bool) -> list[JobResult]:
        return render_group(self.previewer, group, save_videos, self.name)


class LocalRunner:
    """One loaded model in this process; the existing Previewer and its baseline cache."""

    def __init__(self, model: str | None, options: dict, threads: int) -> None:
        self.model, self.options, self.threads = model, options, threads

    def run(self, groups: list[list[Job]], save_videos: bool) -> Iterator[JobResult]:
        worker = BatchWorker(self.model, self.options, self.threads, name=f"local:{os.getpid()}")
        for group in groups:
            yield from worker.run(group, save_videos)

    def close(self) -> None:
        pass


class RayRunner:
    """Ray actors, one per GPU (or per ``threads`` CPUs), each with the model loaded once; a group
    per task. An actor that dies is restarted and its task retried (Ray's own fault tolerance)."""

    def __init__(self, model: str | None, options: dict, threads: int, address: str | None = None,
                 workers: int | None = None, retries: int = 3) -> None:
        import ray

        import patcher
        import presets
        import svd_attention_lab

        self._started = not ray.is_initialized()
        if self._started:
            # the code, shipped to every node
            runtime_env = {"py_modules": [svd_attention_lab, patcher, presets]}
            cpus = (workers or max(1, (os.cpu_count() or 1) // threads)) * threads
            kwargs = {"address": address} if address else {"num_cpus": cpus}
            ray.init(runtime_env=runtime_env, include_dashboard=False, log_to_driver=False, **kwargs)
        gpus = ray.cluster_resources().get("GPU", 0)
        count = workers or (int(gpus) if gpus else max(1, int(ray.cluster_resources().get("CPU", 1)) // threads))
        actor = ray.remote(max_restarts=retries, max_task_retries=retries)(BatchWorker)
        self.actors = [actor.options(num_cpus=threads, num_gpus=1 if gpus else 0).remote(model, options, threads)
                       for _ in range(count)]
        self.pids = ray.get([a.pid.remote() for a in self.actors])  # also waits until every model is loaded


    def run(self, groups: list[list[Job]], save_videos: bool) -> Iterator[JobResult]:
        from ray.util import ActorPool

        pool = ActorPool(self.actors)
        for results in pool.map_unordered(lambda actor, group: actor.run.remote(group, save_videos), groups):
            yield from results

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
        if self._started:
            ray.shutdown()


def plan_jobs(plan: Plan, model: str | None, model_options: dict | None) -> tuple[str | None, dict, list[Job]]:
    """The model to load (``model``, else the plan's), its load options (those set), and every job:
    each job names the weights and the numerics its frames depend on."""
    model = model or plan.model
    options = {k: v for k, v in (model_options or {}).items() if v is not None and v is not False}
    source = resolve_source(model, base=options.get("base"), frames=options.get("frames"))
    key = weights_key(source, *resolve_placement(options.get("device"), options.get("dtype")), options.get("numerics"))
    return model, options, plan.jobs(source, key)


def _as_run(plan: Plan, model: str | None, jobs: list[Job]) -> dict:
    """The marker's record of the plan as run, as JSON reads it back."""
    record = plan.as_dict() | {"plan": str(plan.path.resolve()), "model": model, "model_key": jobs[0].model,
                               "jobs": len(jobs)}
    return json.loads(json.dumps(record))


def run_batch(
    plan: Plan,
    *,
    engine: str = "local",
    model: str | None = None,
    model_options: dict | None = None,
    address: str | None = None,
    workers: int | None = None,
    save_videos: bool = False,
    progress: bool = True,
    on_result: Callable[[JobResult, object], None] | None = None,
) -> BatchReport:
    """Run every unfinished job of ``plan``; Ctrl-C stops cleanly, keeping what is done."""
    if engine not in ENGINES:
        raise PlanError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    model, options, jobs = plan_jobs(plan, model, model_options)
    store = ResultStore(plan.output)
    with store.claim(plan.path, _as_run(plan, model, jobs)):  # the folder is this run's until the table is written
        finished = store.done()
        todo = [j for j in jobs if j.id not in finished]
        groups: dict[str, list[Job]] = {}
        for job in todo:
            groups.setdefault(job.group, []).append(job)

        from tqdm.auto import tqdm

        started, done, renders, interrupted = time.perf_counter(), 0, 0, False
        bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), unit="job", disable=not progress)
        runner = None
        try:
            if todo:
                runner = LocalRunner(model, options, plan.threads) if engine == "local" else \
                    RayRunner(model, options, plan.threads, address=address, workers=workers)
                for result in runner.run(list(groups.values()), save_videos):
                    store.save(result)
                    done += 1
                    renders += result.row["renders"]
                    bar.update()
                    if on_result is not None:
                        on_result(result, runner)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
            if runner is not None:
                runner.close()
            table = store.write_table([j.id for j in jobs])
    return BatchReport(len(jobs), len(jobs) - len(todo), done, renders, time.perf_counter() - started, interrupted,
                       table)


def estimate(plan: Plan, model: str | None = None, model_options: dict | None = None) -> dict[str, int]:
    """Counts before running: jobs, groups (one baseline each), renders with baseline reuse, and still to do."""
    model, _, jobs = plan_jobs(plan, model, model_options)
    store = ResultStore(plan.output)
    store.check(plan.path, _as_run(plan, model, jobs))  # a dry run refuses what a run would, and writes nothing
    finished = store.done()
    todo = [j for j in jobs if j.id not in finished]
    return {"jobs": len(jobs), "groups": len({j.group for j in jobs}),
            "renders": len({j.group for j in todo}) + sum(j.target.budget + 1 if j.target else  # a search: at most
                                                          not j.multipliers.is_identity for j in todo),
            "renders_without_reuse": 2 * len(todo), "to_do": len(todo)}
