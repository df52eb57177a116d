"""The evaluate stage keeps per-image statistics and the image bootstrap; the report redraws from them."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from prunebench.stats import ImageStats, point_metrics
from prunebench.stats.cell import BOOTSTRAP_DIAGNOSTIC, PER_IMAGE_ARTIFACT


def test_evaluate_stores_per_image_statistics_and_bootstrap(reference_run: Any) -> None:
    results = reference_run
    done = [c for c in results.cells if c.status == "done"]
    assert done
    for cell in done:
        boot = cell.diagnostics[BOOTSTRAP_DIAGNOSTIC]
        assert boot["resamples"] == 1000
        assert boot["seed"] == 0
        for name in ("precision", "recall", "f1", "map50", "map50_95"):
            m = boot["metrics"][name]
            assert m["point"] == pytest.approx(cell.metrics[name], abs=1e-9)  # the same numbers as the metric
            assert m["low"] <= m["high"]
            assert len(boot["draws"][name]) == 1000
        ev = results.stages[cell.stage_keys["evaluate"]]
        st = ImageStats.load(results.run_dir / ev.path(PER_IMAGE_ARTIFACT))
        assert st.n_images == boot["n_images"]
        assert point_metrics(st)["map50"] == pytest.approx(cell.metrics["map50"], abs=1e-9)
    train = results.stages[done[0].stage_keys["train"]]
    assert train.values["images_seen"] > 0


def test_results_json_has_bootstrap_summary_rows(reference_run: Any, tmp_path: Any) -> None:
    from prunebench.report.results_export import write_json

    data = json.loads(write_json(reference_run, tmp_path / "r.json").read_text())
    rows = [r for r in data["summary"] if r["metric"] == "map50"]
    assert rows
    seeds = {c.seed for c in reference_run.cells}
    expected = "bootstrap" if len(seeds) == 1 else "seeds"
    assert all(r["source"] == expected for r in rows if r["n"] >= 1)
    assert all(r["ci95_low"] <= r["mean"] <= r["ci95_high"] for r in rows if r["ci95_low"] is not None)
    assert np.all([c["cost"]["train_epochs"] for c in data["cells"] if c["status"] == "done"])
