"""Batch experiments: plans over images x seeds x multipliers, run on one model or on a Ray cluster,
resumable, with a results table and an HTML report.

``python -m batch run PLAN`` and ``python -m batch report RESULTS``.
Ray, pyarrow and matplotlib are needed here only (``requirements-batch.txt``); the app imports none.
"""

from ._cli import batch_main, report_main
from ._engines import estimate, run_batch
from ._plan import Job, PlanError, load_plan
from ._report import write_report

__all__ = [
    "Job",
    "PlanError",
    "batch_main",
    "estimate",
    "load_plan",
    "report_main",
    "run_batch",
    "write_report",
]
