"""Results as files: ``results.json`` (fixed layout) and ``results.csv`` (model export is model_export.py)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from prunebench.files import write_text_atomic
from prunebench.report.summary import metric_columns
from prunebench.suite.results import CellResult, Results

__all__ = ["CSV_CELL_COLUMNS", "CSV_PRUNE_COLUMNS", "cell_to_json", "results_to_json", "write_csv", "write_json"]

#: The cell columns of results.csv, before the metric columns.
CSV_CELL_COLUMNS: tuple[str, ...] = ("key", "model", "pruner", "level", "seed", "status", "error")
#: The prune-record columns of results.csv, after the metric columns.
CSV_PRUNE_COLUMNS: tuple[str, ...] = (
    "prune_target", "prune_scope", "params_reduction", "flops_reduction", "channel_reduction", "weights",
)


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, tuples lists, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar / 0-d tensor
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def cell_to_json(cell: CellResult) -> dict[str, Any]:
    """One cell in the results.json layout (baseline: ``pruner`` null and ``level`` 0)."""
    return {
        "key": cell.key,
        "model": cell.model,
        "pruner": cell.pruner,
        "level": 0 if cell.pruner is None else float(cell.level),
        "seed": int(cell.seed),
        "status": cell.status,
        "error": cell.error,
        "metrics": _clean(dict(cell.metrics)),
        "prune": None if cell.prune_record is None else _clean(dict(cell.prune_record)),
    }


def results_to_json(results: Results) -> dict[str, Any]:
    """``{"name", "spec", "environment", "cells", "summary", "comparisons"}``: the documented layout.

    ``summary``: one row per (model, pruner, level, metric) with n, mean, std, ci95_low/high and source
    (seeds | bootstrap | timing | single); ``comparisons``: paired differences a - b per (model, level,
    metric) with ci95_low/high, p and p_holm (see docs/statistics.md). Each cell carries its ``cost``.
    """
    from prunebench.report.cost import cell_cost
    from prunebench.report.uncertainty import compute_statistics

    stats = compute_statistics(results)
    cells = []
    for c in results.cells:
        entry = cell_to_json(c)
        entry["cost"] = _clean(cell_cost(results, c))
        cells.append(entry)
    return {
        "name": results.name,
        "spec": _clean(results.spec),
        "environment": _clean(results.environment),
        "cells": cells,
        "summary": [_clean(s.to_dict()) for s in stats.summary],
        "comparisons": [_clean(c.to_dict()) for c in stats.comparisons],
    }


def write_json(results: Results, path: str | Path) -> Path:
    """Write results.json atomically; return its path."""
    text = json.dumps(results_to_json(results), indent=2, allow_nan=False) + "\n"
    return write_text_atomic(Path(path), text)


def _reduction(record: dict[str, Any], before: str, after: str) -> float | None:
    b, a = record.get(before), record.get(after)
    if not isinstance(b, int | float) or not isinstance(a, int | float) or not b:
        return None
    return 1.0 - float(a) / float(b)


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(v)
    return v


def write_csv(results: Results, path: str | Path) -> Path:
    """Write results.csv (one row per cell: cell columns, every metric, prune-record summary, the image
    bootstrap's 95 % interval of each accuracy metric, and the compute cost)."""
    import io

    from prunebench.report.cost import COST_COLUMNS, cell_cost
    from prunebench.stats.bootstrap import BOOTSTRAP_METRICS
    from prunebench.stats.cell import BOOTSTRAP_DIAGNOSTIC

    metrics = metric_columns(results, auxiliary=True)
    boot_cols = [f"{m}_boot_{side}" for m in BOOTSTRAP_METRICS for side in ("low", "high")]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*CSV_CELL_COLUMNS, *metrics, *CSV_PRUNE_COLUMNS, *boot_cols, *COST_COLUMNS])
    for c in results.cells:
        rec = c.prune_record or {}
        row = [c.key, c.model, c.pruner or "", 0 if c.pruner is None else float(c.level), c.seed, c.status,
               (c.error or "").strip().splitlines()[-1] if c.error else ""]
        row += [c.metrics.get(m) for m in metrics]
        row += [rec.get("target"), rec.get("scope"),
                _reduction(rec, "params_before", "params_after"),
                _reduction(rec, "gflops_before", "gflops_after"),
                _reduction(rec, "channels_before", "channels_after"),
                c.artifacts.get("weights")]
        boot = (c.diagnostics.get(BOOTSTRAP_DIAGNOSTIC) or {}).get("metrics", {})
        row += [boot.get(m, {}).get(side) for m in BOOTSTRAP_METRICS for side in ("low", "high")]
        cost = cell_cost(results, c)
        row += [cost[k] for k in COST_COLUMNS]
        writer.writerow([_csv_value(v) for v in row])
    return write_text_atomic(Path(path), buf.getvalue())
