"""Batch experiments: plans over images x seeds x multipliers, run on one model or on a Ray cluster,
resumable, with a results table and an HTML report.

``python -m batch run PLAN`` and ``python -m batch report RESULTS``.
Ray, pyarrow and matplotlib are needed here only (``requirements-batch.txt``); the app imports none.
"""

from ._cli import batch_main, report_main
from ._engines import ENGINES, BatchReport, JobResult, ResultStore, estimate, render_group, run_batch
from ._plan import Job, Plan, PlanError, load_plan
from ._report import field_curves, interval, load_results, write_report

__all__ = [
    "ENGINES",
    "BatchReport",
    "Job",
    "JobResult",
    "Plan",
    "PlanError",
    "ResultStore",
    "batch_main",
    "estimate",
    "field_curves",
    "interval",
    "load_plan",
    "load_results",
    "render_group",
    "report_main",
    "run_batch",
    "write_report",
]
