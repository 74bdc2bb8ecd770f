"""Batch experiments: plans over images x seeds x multipliers, run on one model or on a Ray cluster,
resumable, with a results table and an HTML report.

``python -m svd_attention_lab.batch run PLAN`` and ``python -m svd_attention_lab.batch report RESULTS``.
Ray, pyarrow and matplotlib are needed here only (``requirements-batch.txt``); the app imports none.
Names load on first use, so reading a plan's text (``read_plan_doc``) needs no torch.
"""

import importlib

_HOMES = {
    "PlanError": "._plan_doc",
    "estimate": "._engines",
    "load_plan": "._plan",
    "load_results": "._report",
    "read_plan_doc": "._plan_doc",
    "run_batch": "._engines",
    "write_report": "._report",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'batch' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
