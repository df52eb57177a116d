"""Tables: baseline row first, mean ± std over seeds, retention against the baseline, failures, best pruner."""

from __future__ import annotations

import statistics

import pytest
from rich.console import Console

from prunebench.report.summary import Stat, best_pruners, short_error, summarize
from prunebench.report.tables import (
    MISSING,
    best_pruner_table,
    format_stat,
    markdown_table,
    model_tables,
    print_tables,
)
from prunebench.stats import t_interval


def _col(table, name):
    return table.headers.index(name)


def test_one_table_per_model_with_baseline_first(fake_results):
    tables = model_tables(fake_results)
    assert [t.title for t in tables] == ["yolov5n", "yolov5s"]
    for t in tables:
        assert t.rows[0][0] == "baseline"
        assert t.rows[0][1] == "0"
        assert [r[0] for r in t.rows[1:]] == ["l1"] * 3 + ["bn-scale"] * 3
        assert [r[1] for r in t.rows[1:4]] == ["0.3", "0.6", "0.9"]
        for h in ("Params", "GFLOPs", "Size MB", "Latency ms", "P", "R", "F1", "mAP50", "mAP50-95",
                  "mAP50 kept %", "Speed-up x", "fps (img/s)"):
            assert h in t.headers
        assert not any("latency_p90" in h for h in t.headers)  # auxiliary figure, not a registered metric


def test_mean_and_std_over_seeds(fake_results):
    rows = summarize(fake_results)
    row = next(r for r in rows if r.model == "yolov5n" and r.pruner == "l1" and r.level == 0.6)
    vals = [c.metrics["map50"] for c in row.cells]
    assert len(vals) == 2
    assert row.values["map50"].mean == pytest.approx(statistics.fmean(vals))
    assert row.values["map50"].std == pytest.approx(statistics.stdev(vals))
    table = model_tables(fake_results, rows)[0]
    cell = table.rows[2][_col(table, "mAP50")]
    lo, hi = t_interval(vals)  # the 95 % Student-t interval over the seeds, on a second line
    assert cell == f"{statistics.fmean(vals):.3f} ± {statistics.stdev(vals):.3f}\n[{lo:.3f}, {hi:.3f}]"


def test_retention_is_against_the_same_seed_baseline(fake_results):
    rows = summarize(fake_results)
    row = next(r for r in rows if r.model == "yolov5s" and r.pruner == "l1" and r.level == 0.9)
    ratios, speedups = [], []
    for c in row.cells:
        base = fake_results.baseline("yolov5s", c.seed)
        ratios.append(c.metrics["map50"] / base.metrics["map50"])
        speedups.append(base.metrics["latency_ms"] / c.metrics["latency_ms"])
    assert row.retention["map50_kept"].mean == pytest.approx(statistics.fmean(ratios))
    assert row.retention["speedup"].mean == pytest.approx(statistics.fmean(speedups))
    table = model_tables(fake_results, rows)[1]
    line = table.rows[3]
    assert line[_col(table, "mAP50 kept %")].startswith(f"{100 * statistics.fmean(ratios):.1f}%")
    assert line[_col(table, "Speed-up x")].startswith(f"{statistics.fmean(speedups):.2f}x")
    base_line = table.rows[0]
    assert base_line[_col(table, "mAP50 kept %")] == "100.0%"


def test_failed_seed_is_shown_not_dropped(fake_results, failed_key):
    rows = summarize(fake_results)
    row = next(r for r in rows if r.model == "yolov5s" and r.pruner == "bn-scale" and r.level == 0.9)
    assert row.status == "partial"
    assert [c.key for c in row.failed] == [failed_key]
    assert row.values["map50"].n == 1
    table = model_tables(fake_results, rows)[1]
    note = table.rows[-1][_col(table, "Note")]
    assert note.startswith("1/2 seeds failed: RuntimeError")
    assert table.rows[-1][_col(table, "Seeds")] == "1/2"


def test_fully_failed_row_and_missing_figure(fake_results):
    for c in fake_results.cells:
        if c.model == "yolov5n" and c.pruner == "l1" and c.level == 0.3:
            c.status, c.error, c.metrics = "failed", "ValueError: boom", {}
        if c.model == "yolov5n" and c.pruner is None:
            c.metrics.pop("gflops")  # a figure the metric did not produce
    table = model_tables(fake_results)[0]
    failed = table.rows[1]
    assert failed[_col(table, "mAP50")] == MISSING
    assert failed[_col(table, "Note")] == "failed: ValueError: boom"
    assert table.rows[0][_col(table, "GFLOPs")] == MISSING
    assert table.styles[1] == "red"


def test_format_stat():
    assert format_stat(Stat(None), ".3f") == MISSING
    assert format_stat(Stat(0.5, None, 1), ".3f") == "0.500"
    assert format_stat(Stat(0.5, 0.0, 2), ".3f") == "0.500"
    assert format_stat(Stat(1234567.0, 10.0, 2), ",.0f") == "1,234,567 ± 10"
    assert Stat.of([1.0, float("nan"), None, 3.0]) == Stat(2.0, statistics.stdev([1.0, 3.0]), 2)


def test_best_pruner_per_level_and_ties(fake_results):
    rows = summarize(fake_results)
    best = best_pruners(rows)
    assert len(best) == 6
    assert all(b.best == "l1" and b.runner_up == "bn-scale" and not b.tied for b in best)
    # make bn-scale equal to l1 at one level: a tie is noted
    for c in fake_results.cells:
        if c.model == "yolov5n" and c.pruner == "bn-scale" and c.level == 0.3:
            twin = next(x for x in fake_results.cells
                        if x.model == "yolov5n" and x.pruner == "l1" and x.level == 0.3 and x.seed == c.seed)
            c.metrics["map50_95"] = twin.metrics["map50_95"]
    table = best_pruner_table(fake_results)
    tied = next(r for r in table.rows if r[0] == "yolov5n" and r[1] == "0.3")
    ties = tied[table.headers.index("Ties")]
    assert ties == f"bn-scale (equal to {tied[table.headers.index('mAP50-95')]})"  # the tied value, no format code
    assert tied[table.headers.index("Verdict")].startswith("indistinguishable")  # equal means: never "best"


def test_no_best_table_with_one_pruner(fake_results):
    fake_results.cells = [c for c in fake_results.cells if c.pruner != "bn-scale"]
    assert best_pruner_table(fake_results) is None


def test_print_and_markdown(fake_results, failed_key):
    console = Console(record=True, width=260)
    print_tables(fake_results, console)
    text = console.export_text()
    assert "Best pruner per level" in text
    assert failed_key in text
    md = markdown_table(model_tables(fake_results)[0])
    lines = md.splitlines()
    assert lines[0].startswith("| Pruner | Level |")
    assert lines[2].startswith("| baseline | 0 |")
    assert len(lines) == 2 + 7


def test_short_error():
    assert short_error("Traceback\n  x\nKeyError: 'a'") == "KeyError: 'a'"
    assert short_error(None) == "unknown error"
    assert len(short_error("E" * 500, 30)) == 30


def test_narrow_console_splits_tables_and_keeps_numbers_whole(fake_results, failed_key):
    console = Console(record=True, width=100)
    print_tables(fake_results, console)
    text = console.export_text()
    assert "yolov5n: accuracy" in text
    assert "yolov5n: cost and speed" in text
    assert "1,760,518" in text  # a number is never broken over two lines
    assert "Notes: bn-scale 0.9: 1/2 seeds failed: RuntimeError" in text
    wide = model_tables(fake_results)[1]
    acc, cost = wide.split()
    assert acc.headers[:3] == cost.headers[:3] == ["Pruner", "Level", "Seeds"]
    assert "mAP50" in acc.headers
    assert "Latency ms" in cost.headers
    assert "Note" not in acc.headers + cost.headers
