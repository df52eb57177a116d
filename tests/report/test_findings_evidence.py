"""Findings pick their verbs from intervals and tests, and cite them; summary rows and comparisons."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunebench.report.findings import findings, pareto_front
from prunebench.report.summary import summarize
from prunebench.report.uncertainty import compute_statistics
from prunebench.stats.cell import bootstrap_diagnostic
from prunebench.stats.synthetic import synthetic_image_stats
from prunebench.suite.results import CellResult, Results
from prunebench.suite.stage import StageResult


def _results(tmp_path: Path, map50: dict[tuple[str | None, float], list[float]], seeds: int = 3,
             speed: dict[tuple[str, float], tuple[float, float, float]] | None = None) -> Results:
    cells = []
    for (pruner, level), values in map50.items():
        for seed in range(seeds):
            key = f"yolov5n/{pruner or 'baseline'}/{level}/s{seed}"
            m = {"map50": values[seed], "map50_95": values[seed] / 2, "params": 1e6 * (1 - level),
                 "latency_ms": 40 * (1 - level / 2), "precision": 0.5, "recall": 0.5, "f1": 0.5}
            cells.append(CellResult(key=key, model="yolov5n", pruner=pruner, level=level, seed=seed, status="done",
                                    metrics=m))
    stages = {}
    if speed:
        rows = [{"variant": f"yolov5n/{p}/{lv}/s0", "status": "ok", "speedup": s, "speedup_lo": lo, "speedup_hi": hi}
                for (p, lv), (s, lo, hi) in speed.items()]
        stages["speed-x"] = StageResult(kind="speed", diagnostics={"speed": rows})
    return Results(run_dir=tmp_path, name="t", spec={}, spec_text="", environment={}, cells=cells, stages=stages)


def _line(lines: list[str], start: str) -> str:
    return next(ln for ln in lines if ln.startswith(start))


def test_falls_with_the_level_only_when_every_step_is_significant(tmp_path: Path) -> None:
    clear = {(None, 0.0): [0.90, 0.91, 0.89], ("l1", 0.3): [0.70, 0.72, 0.69], ("l1", 0.6): [0.40, 0.43, 0.41]}
    line = _line(findings(_results(tmp_path, clear)), "yolov5n, l1:")
    assert "it falls with the level (every step is significant)" in line
    assert "p_holm" in line
    assert "n=3 seeds" in line
    # the second step now lies within the noise: the verb must change
    noisy = {**clear, ("l1", 0.6): [0.71, 0.66, 0.72]}
    line = _line(findings(_results(tmp_path, noisy)), "yolov5n, l1:")
    assert "falls with the level (every step" not in line
    assert "falls, but not at every step" in line
    assert "(not significant)" in line


def test_speed_verb_follows_the_interval(tmp_path: Path) -> None:
    maps = {(None, 0.0): [0.9], ("l1", 0.3): [0.8], ("l1", 0.6): [0.7]}
    slow = findings(_results(tmp_path, maps, seeds=1, speed={("l1", 0.3): (0.81, 0.70, 0.95),
                                                             ("l1", 0.6): (1.22, 1.10, 1.35)}))
    assert any("yolov5n, l1 at 0.3 is slower than unpruned: speed-up 0.81 [0.70, 0.95]" in ln for ln in slow)
    assert any("yolov5n, l1 at 0.6 is faster than unpruned" in ln for ln in slow)
    noisy = findings(_results(tmp_path, maps, seeds=1, speed={("l1", 0.3): (0.81, 0.60, 1.05)}))
    assert any("l1 at 0.3 is not distinguishable from unpruned in speed" in ln for ln in noisy)
    assert not any("slower than unpruned" in ln for ln in noisy)


def test_best_pruner_only_when_significantly_ahead(tmp_path: Path) -> None:
    base = {(None, 0.0): [0.9, 0.91, 0.9]}
    apart = {**base, ("l1", 0.3): [0.80, 0.81, 0.79], ("random", 0.3): [0.60, 0.62, 0.58]}
    lines = findings(_results(tmp_path, apart))
    assert any("best pruner by mAP50-95 is l1, significantly ahead of random" in ln for ln in lines)
    close = {**base, ("l1", 0.3): [0.80, 0.70, 0.79], ("random", 0.3): [0.76, 0.78, 0.71]}
    lines = findings(_results(tmp_path, close))
    assert any("are indistinguishable by mAP50-95 at this budget" in ln for ln in lines)
    assert not any("best pruner by" in ln for ln in lines)


def test_summary_rows_and_holm_adjusted_comparisons(tmp_path: Path) -> None:
    maps = {(None, 0.0): [0.90, 0.91, 0.89], ("l1", 0.3): [0.70, 0.72, 0.69], ("random", 0.3): [0.60, 0.62, 0.58]}
    stats = compute_statistics(_results(tmp_path, maps))
    s = stats.stat("yolov5n", "l1", 0.3, "map50")
    assert s is not None
    assert s.source == "seeds"
    assert s.n == 3
    assert s.low < s.mean < s.high
    kept = stats.stat("yolov5n", "l1", 0.3, "map50_kept")
    assert kept.mean == pytest.approx((0.70 / 0.90 + 0.72 / 0.91 + 0.69 / 0.89) / 3)
    table = [c for c in stats.comparisons if c.metric == "map50" and c.level == 0.3]
    assert {(c.a, c.b) for c in table} == {("l1", "baseline"), ("random", "baseline"), ("l1", "random")}
    assert all(c.method == "paired t" and c.p_holm >= c.p for c in table)


def test_single_seed_uses_the_paired_image_bootstrap(tmp_path: Path) -> None:
    good = bootstrap_diagnostic(synthetic_image_stats(40, recall=0.8, seed=1), resamples=300)
    bad = bootstrap_diagnostic(synthetic_image_stats(40, recall=0.4, seed=1), resamples=300)
    cells = []
    for pruner, level, diag in ((None, 0.0, good), ("l1", 0.6, bad)):
        m = {k: v["point"] for k, v in diag["metrics"].items()}
        cells.append(CellResult(key=f"{pruner}", model="yolov5n", pruner=pruner, level=level, seed=0,
                                status="done", metrics=m, diagnostics={"bootstrap": diag}))
    stats = compute_statistics(Results(run_dir=tmp_path, name="t", spec={}, spec_text="", environment={},
                                       cells=cells))
    s = stats.stat("yolov5n", "l1", 0.6, "map50")
    assert s.source == "bootstrap"
    assert s.low <= s.mean <= s.high
    c = stats.comparison("yolov5n", 0.6, "map50", "l1", "baseline")
    assert c.method == "paired bootstrap"
    assert c.high < 0
    assert c.significant
    kept = stats.stat("yolov5n", "l1", 0.6, "map50_kept")
    assert kept.source == "bootstrap"
    assert kept.high < 1


def test_pareto_front(tmp_path: Path) -> None:
    maps = {(None, 0.0): [0.9], ("l1", 0.3): [0.8], ("l1", 0.6): [0.85]}
    rows = summarize(_results(tmp_path, maps, seeds=1))
    front = pareto_front(rows, "latency_ms")
    assert [(r.label, r.level) for r in front] == [("l1", 0.6), ("baseline", 0.0)]


def test_best_pruner_evidence_is_best_minus_runner_up(tmp_path: Path) -> None:
    maps = {(None, 0.0): [0.9, 0.91, 0.9], ("l1", 0.3): [0.60, 0.62, 0.58], ("random", 0.3): [0.80, 0.81, 0.79]}
    line = next(ln for ln in findings(_results(tmp_path, maps)) if "best pruner" in ln)
    assert "random, significantly ahead of l1" in line
    diff, low = (float(x) for x in line.split("random - l1 Δ ")[1].split(",")[0].replace("[", "").split())
    assert diff > 0
    assert low > 0  # the interval was turned round with the difference


def test_the_speed_up_column_reads_the_speed_stage_not_latency_taken_apart(tmp_path: Path) -> None:
    from prunebench.report.tables import model_tables

    maps = {(None, 0.0): [0.9], ("l1", 0.3): [0.8]}
    res = _results(tmp_path, maps, seeds=1, speed={("l1", 0.3): (1.12, 1.09, 1.15)})
    rows = res.stages["speed-x"].diagnostics["speed"]
    rows.insert(0, {"variant": "yolov5n/baseline/0.0/s0", "status": "ok", "speedup": 1.0, "speedup_lo": 1.0,
                    "speedup_hi": 1.0})
    for r in rows:
        r.update(runtime="onnxruntime", threads=2, imgsz=640, batch=1, cpu="AMD EPYC")
    # latency_ms taken apart says 40 / 34 = 1.18x: the column must not use it
    row = next(r for r in summarize(res) if r.pruner == "l1")
    assert row.retention["speedup"].mean == pytest.approx(1.12)
    table = model_tables(res)[0]
    col = table.headers.index("Speed-up x")
    assert table.rows[1][col] == "1.12x\n[1.09, 1.15]x"
    assert table.rows[0][col].startswith("1.00x")
    assert "speed-up: onnxruntime on AMD EPYC, 2 threads, imgsz 640" in table.caption
    # without a speed stage the separately timed latency ratio remains (no interval)
    plain = model_tables(_results(tmp_path, maps, seeds=1))[0]
    assert plain.rows[1][col] == f"{40 / (40 * (1 - 0.3 / 2)):.2f}x"
    assert "latency:" in plain.caption


def test_without_a_latency_metric_the_latency_column_shows_the_speed_stages_median(tmp_path: Path) -> None:
    from prunebench.report.tables import model_tables

    maps = {(None, 0.0): [0.9], ("l1", 0.3): [0.8]}
    res = _results(tmp_path, maps, seeds=1, speed={("l1", 0.3): (1.12, 1.09, 1.15)})
    for c in res.cells:
        del c.metrics["latency_ms"]
    rows = res.stages["speed-x"].diagnostics["speed"]
    rows.insert(0, {"variant": "yolov5n/baseline/0.0/s0", "status": "ok", "speedup": 1.0, "speedup_lo": 1.0,
                    "speedup_hi": 1.0})
    for r, ms in zip(rows, (20.5, 18.3), strict=True):
        r.update(runtime="onnxruntime", threads=2, imgsz=640, batch=1, cpu="AMD EPYC", median_ms=ms,
                 median_lo_ms=ms - 0.5, median_hi_ms=ms + 0.7)
    table = model_tables(res)[0]
    col = next(i for i, h in enumerate(table.headers) if h.lower().startswith("latency"))
    assert table.rows[0][col] == "20.5\n[20.0, 21.2]"
    assert table.rows[1][col] == "18.3\n[17.8, 19.0]"
    assert "latency and speed-up: onnxruntime on AMD EPYC" in table.caption
