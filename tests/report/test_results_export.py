"""results.json keeps its documented layout; results.csv has one row per cell and every metric."""

from __future__ import annotations

import csv
import json

from prunebench.report.cost import COST_COLUMNS
from prunebench.report.results_export import CSV_CELL_COLUMNS, CSV_PRUNE_COLUMNS, write_csv, write_json
from prunebench.report.summary import DEFAULT_METRICS

CELL_KEYS = {"key", "model", "pruner", "level", "seed", "status", "error", "metrics", "prune", "cost"}


def test_results_json_layout(fake_results, tmp_path, failed_key):
    path = write_json(fake_results, tmp_path / "results.json")
    data = json.loads(path.read_text())
    assert set(data) == {"name", "spec", "environment", "cells", "summary", "comparisons"}
    row = next(r for r in data["summary"] if (r["model"], r["pruner"], r["level"], r["metric"])
               == ("yolov5n", "l1", 0.3, "map50"))
    assert set(row) == {"model", "pruner", "level", "metric", "n", "mean", "std", "ci95_low", "ci95_high", "source"}
    assert row["source"] == "seeds"
    assert row["n"] == 2
    assert row["ci95_low"] < row["mean"] < row["ci95_high"]
    assert data["name"] == "tea-bud-test"
    assert data["environment"]["device"] == "cpu"
    assert len(data["cells"]) == len(fake_results.cells)
    for cell in data["cells"]:
        assert set(cell) == CELL_KEYS
    base = [c for c in data["cells"] if c["pruner"] is None]
    assert len(base) == 4
    assert all(c["level"] == 0 and isinstance(c["level"], int) and c["prune"] is None for c in base)
    pruned = next(c for c in data["cells"] if c["key"] == "yolov5n/l1/0.6/s1")
    assert pruned["level"] == 0.6
    assert pruned["seed"] == 1
    assert set(DEFAULT_METRICS) <= set(pruned["metrics"])
    assert pruned["prune"]["params_after"] < pruned["prune"]["params_before"]
    failed = next(c for c in data["cells"] if c["key"] == failed_key)
    assert failed["status"] == "failed"
    assert "RuntimeError" in failed["error"]
    assert failed["metrics"] == {}


def test_non_finite_values_become_null(fake_results, tmp_path):
    fake_results.cells[0].metrics["latency_ms"] = float("nan")
    data = json.loads(write_json(fake_results, tmp_path / "r.json").read_text())
    assert data["cells"][0]["metrics"]["latency_ms"] is None


def test_results_csv_columns(fake_results, tmp_path, failed_key):
    path = write_csv(fake_results, tmp_path / "results.csv")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    assert header[: len(CSV_CELL_COLUMNS)] == list(CSV_CELL_COLUMNS)
    assert header[len(CSV_CELL_COLUMNS): len(CSV_CELL_COLUMNS) + len(DEFAULT_METRICS)] == list(DEFAULT_METRICS)
    assert "fps" in header
    assert "latency_p90_ms" in header  # auxiliary figures are exported, not shown in the tables
    start = header.index(CSV_PRUNE_COLUMNS[0])
    assert header[start:start + len(CSV_PRUNE_COLUMNS)] == list(CSV_PRUNE_COLUMNS)
    assert header[-len(COST_COLUMNS):] == list(COST_COLUMNS)
    assert "map50_boot_low" in header
    assert len(rows) == len(fake_results.cells)
    row = next(r for r in rows if r["key"] == "yolov5s/l1/0.3/s0")
    cell = next(c for c in fake_results.cells if c.key == "yolov5s/l1/0.3/s0")
    assert float(row["map50"]) == cell.metrics["map50"]
    assert float(row["params_reduction"]) > 0
    assert row["prune_scope"] == "backbone"
    failed = next(r for r in rows if r["key"] == failed_key)
    assert failed["map50"] == ""
    assert failed["error"].startswith("RuntimeError")
    base = next(r for r in rows if r["key"] == "yolov5n/baseline/s0")
    assert base["pruner"] == ""
    assert base["level"] == "0"
