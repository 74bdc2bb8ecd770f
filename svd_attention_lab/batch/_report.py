"""A batch's static HTML report: each multiplier's metrics against its value, mean and 95 % interval
across images x seeds, a contact strip of representative renders, and the plan behind it."""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import numpy as np

from svd_attention_lab.files import atomic_write_bytes
from svd_attention_lab.controls import FIELDS, MULTIPLIER_DEFAULT
from svd_attention_lab.engine import PreviewError

from ._engines import MARKER

METRICS = (
    ("mean_change_vs_baseline", "change vs baseline (8-bit levels)"),
    ("flow_motion_ratio", "motion (optical flow): patched / baseline"),
    ("patched_warp_error", "warping error (levels)"),
    ("temporal_change_ratio", "mean change between frames: patched / baseline"),
    ("patched_jitter", "jitter (levels)"),
    ("patched_flicker", "flicker (levels)"),
)
FLOW_METRICS = ("flow_motion_ratio", "patched_warp_error")  # absent from tables written before the flow measures
BOOTSTRAP_SAMPLES = 2000


def load_results(path: str | os.PathLike):
    """The results table of a batch folder (Parquet, else CSV), or of a table file."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = next((path / n for n in ("results.parquet", "results.csv") if (path / n).is_file()),
                    path / "results.csv")
    if not path.is_file():
        raise PreviewError(f"{path}: no results table (run python -m svd_attention_lab.batch run PLAN first)")
    # round_trip: the floats as written (pandas before 3.0 reads CSV floats to the nearest few ulps by default)
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, float_precision="round_trip")
    required = ("job_id", "image", "seed", *FIELDS, *(m for m, _ in METRICS if m not in FLOW_METRICS))
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise PreviewError(f"{path.name} is not a batch results table: no column {', '.join(missing)}")
    return table


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean and a bootstrap percentile interval (a fixed seed: reports repeat)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    if values.size == 1:
        return float(values[0]), float(values[0]), float(values[0])
    rng = np.random.default_rng(0)
    means = values[rng.integers(0, values.size, (BOOTSTRAP_SAMPLES, values.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(values.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def shown_metrics(table) -> tuple[tuple[str, str], ...]:
    """The report's metrics this table has (older tables lack the optical-flow ones)."""
    return tuple((m, label) for m, label in METRICS if m in table.columns)


def field_curves(table) -> dict[str, dict]:
    """Per varied field: its values and, per metric, (mean, low, high, n) at each value. Rows with
    the other multipliers at 1 are used when the grid has them, so each curve shows one knob."""
    curves = {}
    for field in FIELDS:
        if table[field].nunique() < 2:
            continue
        others = [f for f in FIELDS if f != field]
        alone = table[(table[others] == MULTIPLIER_DEFAULT).all(axis=1)]
        rows = alone if alone[field].nunique() >= 2 else table
        values = sorted(rows[field].unique())
        curves[field] = {"values": values, "isolated": rows is alone, "rows": rows,
                         "metrics": {m: [(*interval(rows.loc[rows[field] == v, m].to_numpy()),
                                          int((rows[field] == v).sum())) for v in values]
                                     for m, _ in shown_metrics(table)}}
    return curves


def _figure(curves: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [(m, label) for m, label in METRICS if m in next(iter(curves.values()))["metrics"]]
    fig, axes = plt.subplots(len(curves), len(shown), figsize=(3.2 * len(shown), 2.6 * len(curves)), squeeze=False)
    for row, (field, curve) in zip(axes, curves.items()):
        for ax, (metric, label) in zip(row, shown):
            mean, low, high, _ = (np.array(v) for v in zip(*curve["metrics"][metric]))
            ax.fill_between(curve["values"], low, high, alpha=0.25, color="tab:blue", linewidth=0)
            ax.plot(curve["values"], mean, "o-", color="tab:blue", markersize=4)
            ax.axvline(MULTIPLIER_DEFAULT, color="0.6", linewidth=0.8, linestyle=":")
            ax.set_xlabel(field)
            ax.set_title(label, fontsize=9)
            ax.tick_params(labelsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)
    return out.getvalue()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def write_report(results: str | os.PathLike, out: str | os.PathLike | None = None, *,
                 figure: str | os.PathLike | None = None) -> Path:
    results = Path(results)
    folder = results if results.is_dir() else results.parent
    table = load_results(results)
    targets = table.iloc[0:0]
    if "target_ratio" in table.columns:  # motion-target rows: their own section, not on the curves
        targets, table = table[table["target_ratio"].notna()], table[table["target_ratio"].isna()]
    curves = field_curves(table) if len(table) else {}
    if not curves and not len(targets):
        raise PreviewError("no multiplier varies in these results; nothing to plot")
    png = _figure(curves) if curves else None
    if figure is not None and png is not None:
        atomic_write_bytes(figure, png, replace=True)
    plan = (folder / MARKER).read_text() if (folder / MARKER).is_file() else "{}"  # the plan as run
    e = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'><title>SVD attention multipliers: batch report</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "figure{display:inline-block;margin:4px}figcaption{font-size:12px}pre{background:#f4f4f4;padding:1em;overflow:auto}"
        "</style>",
        f"<h1>Batch report</h1><p>{len(table)} jobs: {table['image'].nunique()} images × {table['seed'].nunique()} "
        f"seeds × {len(table.groupby(list(FIELDS)))} multiplier settings. Means with 95 % bootstrap intervals "
        "across images × seeds.</p>",
        f"<img alt='metrics against each multiplier' src='{_data_uri(png)}' style='max-width:100%'>" if png else "",
    ]
    if len(targets):
        parts.append("<h2>Motion targets</h2><p>Per image and seed, the knob value whose optical-flow motion is the "
                     "target × the baseline's (the closest found when out of reach).</p><table><tr><th>image</th>"
                     "<th>seed</th><th>target</th><th>knob</th><th>value found</th><th>motion ×</th><th>renders</th>"
                     "<th>reached</th></tr>")
        for _, row in targets.sort_values(["image", "seed", "target_ratio"]).iterrows():
            reached = "yes" if bool(row["target_reached"]) else ("out of reach" if bool(row["target_out_of_reach"])
                                                                 else "no")
            parts.append(f"<tr><td>{e(Path(str(row['image'])).name)}</td><td>{int(row['seed'])}</td>"
                         f"<td>×{row['target_ratio']:g}</td><td>{e(str(row['target_knob']))}</td>"
                         f"<td>{row[str(row['target_knob'])]:.2f}</td><td>{row['target_found_ratio']:.3f}</td>"
                         f"<td>{int(row['target_renders'])}</td><td>{reached}</td></tr>")
        parts.append("</table>")
    for field, curve in curves.items():
        scope = "other multipliers at 1" if curve["isolated"] else "averaged over the other multipliers' values"
        parts.append(f"<h2>{e(field)}</h2><p>{scope}</p><table><tr><th>{e(field)}</th><th>n</th>"
                     + "".join(f"<th>{e(label)}</th>" for _, label in shown_metrics(table)) + "</tr>")
        for i, value in enumerate(curve["values"]):
            cells = "".join("<td>{:.3f} [{:.3f}, {:.3f}]</td>".format(*curve["metrics"][m][i][:3])
                            for m, _ in shown_metrics(table))
            parts.append(f"<tr><td>{value:g}</td><td>{curve['metrics'][METRICS[0][0]][i][3]}</td>{cells}</tr>")
        parts.append("</table><p>Representative renders (first image and seed; baseline above, patched below):</p>")
        rows = curve["rows"].sort_values(["image", "seed"])
        for value in curve["values"]:
            job = rows[rows[field] == value].iloc[0]
            thumb = folder / "thumbs" / f"{job['job_id']}.png"
            if thumb.is_file():
                parts.append(f"<figure><img src='{_data_uri(thumb.read_bytes())}'><figcaption>{e(field)} = {value:g}, "
                             f"{e(Path(str(job['image'])).name)}, seed {int(job['seed'])}</figcaption></figure>")
    parts.append(f"<h2>Plan</h2><pre>{e(json.dumps(json.loads(plan), indent=2))}</pre>")
    out = Path(out) if out is not None else folder / "report.html"
    return atomic_write_bytes(out, "\n".join(parts).encode("utf-8"), replace=True)
