"""Plots: every file written and non-empty; functions draw on a given axes and return (fig, ax)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from prunebench.report import plots
from prunebench.report.plot_style import slug

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_write_all_plots(plotted_run):
    results, written = plotted_run
    names = {p.name for p in written}
    expected = {
        "curves_yolov5n_l1.png", "curves_yolov5s_bn-scale.png", "curves_by_model_baseline.png",
        "curves_by_model_l1_0.6.png", "losses_yolov5n_l1.png", "metrics_vs_level_yolov5s.png",
        "tradeoff_gflops.png", "tradeoff_latency.png", "size_vs_level.png", "gammas_yolov5n_bn-scale.png",
    }
    assert expected <= names
    assert {"recovery_yolov5n.png", "recovery_yolov5s.png"} <= names  # fine-tuning validated every epoch
    # 2x2 curve sets + 1 baseline + 2 pruners x 3 levels + 4 losses + 2 metric grids + 2 recovery + 2 trade-offs
    # + size + 2 gammas
    assert len(written) == 4 + 1 + 6 + 4 + 2 + 2 + 2 + 1 + 2
    for p in written:
        assert p.parent == results.run_dir / "plots"
        data = p.read_bytes()
        assert data[:8] == PNG_MAGIC
        assert len(data) > 10_000
    assert not plt.get_fignums()  # every figure closed
    assert {j.name for j in plots.plot_jobs(results)} == names


@pytest.mark.parametrize("draw", [
    lambda r, ax: plots.plot_confidence_curve(r, "yolov5n", "precision", ax=ax),
    lambda r, ax: plots.plot_pr_curve(r, "yolov5s", pruner="l1", ax=ax),
    lambda r, ax: plots.plot_confidence_curve_by_model(r, 0.6, "f1", pruner="l1", ax=ax),
    lambda r, ax: plots.plot_pr_curve_by_model(r, 0.0, ax=ax),
    lambda r, ax: plots.plot_metric_vs_level(r, "yolov5n", "map50", ax=ax),
    lambda r, ax: plots.plot_tradeoff(r, "latency_ms", "map50_95", ax=ax),
    lambda r, ax: plots.plot_size_vs_level(r, ax=ax),
    lambda r, ax: plots.plot_losses(r.cells[0], ax=ax),
    lambda r, ax: plots.plot_gamma_histogram(next(c for c in r.cells if "bn_gamma" in c.diagnostics), ax=ax),
])
def test_plot_functions_use_the_given_axes(fake_results, draw):
    fig, ax = plt.subplots()
    try:
        got_fig, got_ax = draw(fake_results, ax)
        assert got_ax is ax
        assert got_fig is fig
        assert ax.get_xlabel()
        assert ax.get_ylabel()
        assert ax.get_title()
        assert ax.lines or ax.patches or ax.collections
    finally:
        plt.close(fig)


def test_confidence_curve_has_one_line_per_level(fake_results):
    fig, ax = plots.plot_confidence_curve(fake_results, "yolov5n", "f1", pruner="l1")
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["baseline (0)", "level 0.3", "level 0.6", "level 0.9"]
    assert len(ax.lines[0].get_xdata()) == 1000
    plt.close(fig)


def test_latency_tradeoff_states_where_it_was_measured(fake_results):
    fig, ax = plots.plot_tradeoff(fake_results, x="latency_ms")
    assert "cpu, 2 threads, imgsz 128" in ax.get_title()
    assert ax.get_xlabel() == "Latency (ms, batch 1)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "unpruned models (smaller-model reference)" in labels
    plt.close(fig)


def test_missing_figures_are_written_on_the_plot(fake_results):
    for c in fake_results.cells:
        if c.model == "yolov5n" and c.pruner == "l1" and c.level == 0.9:
            c.metrics.pop("gflops")
    fig, ax = plots.plot_tradeoff(fake_results, x="gflops")
    notes = [t.get_text() for t in ax.texts if t.get_text().startswith("missing")]
    assert notes
    assert "yolov5n l1 0.9" in notes[0]
    plt.close(fig)


def test_slug():
    assert slug("yolov5n", "bn-scale", 0.6) == "yolov5n_bn-scale_0.6"
    assert slug("a/b c") == "a-b-c"


def test_recovery_curve_per_level_with_a_band_over_seeds(fake_results):
    from prunebench.report.recovery_plots import plot_recovery

    _fig, ax = plot_recovery(fake_results, "yolov5n", "l1")
    labels = [ln.get_label() for ln in ax.lines]
    assert labels[:3] == ["level 0.3 (n=2)", "level 0.6 (n=2)", "level 0.9 (n=2)"]
    assert "unpruned (after training)" in labels
    assert len(ax.collections) >= 3  # one 95 % band per level (two seeds each)
    xs = ax.lines[0].get_xdata()
    assert list(xs) == list(range(1, 9))  # the 8 fine-tuning epochs of the fixture
