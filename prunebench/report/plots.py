"""Every plot of a run, drawn from stored results only; ``write_all_plots`` writes them as PNG files.

Each ``plot_*`` function takes ``ax=None`` and returns ``(fig, ax)`` (matplotlib, Agg backend).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from prunebench.report.curve_plots import (
    GAMMA_DIAGNOSTIC,
    plot_confidence_curve,
    plot_confidence_curve_by_model,
    plot_gamma_histogram,
    plot_losses,
    plot_pr_curve,
    plot_pr_curve_by_model,
)
from prunebench.report.plot_style import save, slug
from prunebench.report.recovery_plots import has_recovery, plot_recovery
from prunebench.report.summary import latency_setting, summarize
from prunebench.report.summary_plots import plot_metric_vs_level, plot_size_vs_level, plot_tradeoff
from prunebench.speed.report import speed_plot_jobs
from prunebench.suite.results import Results

__all__ = [
    "PlotJob",
    "plot_confidence_curve",
    "plot_confidence_curve_by_model",
    "plot_gamma_histogram",
    "plot_jobs",
    "plot_losses",
    "plot_metric_vs_level",
    "plot_pr_curve",
    "plot_pr_curve_by_model",
    "plot_size_vs_level",
    "plot_tradeoff",
    "write_all_plots",
]

LEVEL_METRICS = ("map50", "map50_95", "precision", "recall", "f1", "latency_ms")


@dataclass(frozen=True)
class PlotJob:
    """One PNG file: its name under ``plots/``, a caption, its section and how to draw it."""

    name: str
    caption: str
    section: str
    draw: Callable[[], Any]  # returns the figure


def _grid(nrows: int, ncols: int, w: float = 5.2, h: float = 3.9) -> tuple[Any, Any]:
    fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), layout="constrained", squeeze=False)
    return fig, axes.ravel()


def _curves_model(results: Results, model: str, pruner: str) -> Any:
    fig, axes = _grid(2, 2)
    for ax, metric in zip(axes, ("precision", "recall", "f1")):
        plot_confidence_curve(results, model, metric, pruner=pruner, ax=ax)
    plot_pr_curve(results, model, pruner=pruner, ax=axes[3])
    fig.suptitle(f"{model}, {pruner}: curves per level (class mean, seed mean)")
    return fig


def _curves_level(results: Results, level: float, pruner: str | None) -> Any:
    fig, axes = _grid(2, 2)
    for ax, metric in zip(axes, ("precision", "recall", "f1")):
        plot_confidence_curve_by_model(results, level, metric, pruner=pruner, ax=ax)
    plot_pr_curve_by_model(results, level, pruner=pruner, ax=axes[3])
    fig.suptitle("Unpruned models compared" if level == 0 else f"Models compared at {pruner} level {level:g}")
    return fig


def _losses(results: Results, model: str, pruner: str) -> Any:
    seed = results.seeds[0] if results.seeds else 0
    cells = [c for c in results.cells if c.model == model and c.seed == seed
             and (c.pruner is None or c.pruner == pruner)]
    cells.sort(key=lambda c: (c.pruner is not None, c.level))
    ncols = min(2, max(1, len(cells)))
    fig, axes = _grid(-(-max(1, len(cells)) // ncols), ncols, w=5.6, h=3.6)
    for ax, cell in zip(axes, cells):
        where = "baseline" if cell.pruner is None else f"level {cell.level:g}"
        plot_losses(cell, ax=ax, title=f"{where} (seed {cell.seed})")
    for ax in axes[len(cells):]:
        ax.set_visible(False)
    fig.suptitle(f"{model}, {pruner}: losses per epoch (baseline training; pruned cells: their stages)")
    return fig


def _metrics_vs_level(results: Results, model: str, rows: Any) -> Any:
    fig, axes = _grid(2, 3, w=4.8)
    for ax, metric in zip(axes, LEVEL_METRICS):
        plot_metric_vs_level(results, model, metric, ax=ax, rows=rows)
    fig.suptitle(f"{model}: metrics against pruning level (error bars: 95 % intervals)")
    return fig


def _recovery(results: Results, model: str) -> Any:
    pruners = results.pruners
    ncols = min(3, max(1, len(pruners)))
    fig, axes = _grid(-(-max(1, len(pruners)) // ncols), ncols, w=4.8, h=3.6)
    for ax, pruner in zip(axes, pruners):
        plot_recovery(results, model, pruner, ax=ax)
    for ax in axes[len(pruners):]:
        ax.set_visible(False)
    fig.suptitle(f"{model}: recovery of mAP50 during fine-tuning")
    return fig


def _tradeoff(results: Results, x: str, rows: Any) -> Any:
    fig, axes = _grid(1, 2, w=6.4, h=4.8)
    for ax, y in zip(axes, ("map50", "map50_95")):
        plot_tradeoff(results, x=x, y=y, ax=ax, rows=rows)
    return fig


def _single(draw: Callable[..., tuple[Any, Any]], *args: Any, **kwargs: Any) -> Any:
    fig, _ax = draw(*args, **kwargs)
    return fig


def plot_jobs(results: Results) -> list[PlotJob]:
    """Every plot this run supports, in report order (nothing is drawn until ``job.draw()``)."""
    rows = summarize(results)
    jobs: list[PlotJob] = []
    models, pruners = results.models, results.pruners
    for model in models:
        for pruner in pruners:
            jobs.append(PlotJob(f"curves_{slug(model, pruner)}.png",
                                f"{model}, {pruner}: precision, recall and F1 against confidence, and the PR "
                                f"curve, one line per level (baseline black).", "Curves per level",
                                lambda m=model, p=pruner: _curves_model(results, m, p)))
    jobs.append(PlotJob("curves_by_model_baseline.png", "Unpruned models: P, R, F1 and PR curves side by side.",
                        "Curves per model", lambda: _curves_level(results, 0.0, None)))
    for pruner in pruners:
        levels = sorted({c.level for c in results.cells if c.pruner == pruner})
        for level in levels:
            jobs.append(PlotJob(f"curves_by_model_{slug(pruner, level)}.png",
                                f"{pruner} at level {level:g}: P, R, F1 and PR curves of every model.",
                                "Curves per model", lambda p=pruner, lv=level: _curves_level(results, lv, p)))
    for model in models:
        for pruner in pruners:
            jobs.append(PlotJob(f"losses_{slug(model, pruner)}.png",
                                f"{model}, {pruner}: training and fine-tuning losses per epoch "
                                f"(train solid, val dashed).", "Loss curves",
                                lambda m=model, p=pruner: _losses(results, m, p)))
    for model in models:
        jobs.append(PlotJob(f"metrics_vs_level_{slug(model)}.png",
                            f"{model}: mAP50, mAP50-95, P, R, F1 and latency against pruning level, per "
                            f"pruner (error bars: 95 % intervals, Student t over seeds or the image bootstrap "
                            f"with one seed; grey band: the baseline's).", "Metrics against level",
                            lambda m=model: _metrics_vs_level(results, m, rows)))
    if has_recovery(results):
        for model in models:
            jobs.append(PlotJob(f"recovery_{slug(model)}.png",
                                f"{model}: validation mAP50 after each fine-tuning epoch, one line per level, one "
                                f"panel per pruner (band: 95 % t interval over seeds; dotted: unpruned).",
                                "Recovery during fine-tuning", lambda m=model: _recovery(results, m)))
    jobs.append(PlotJob("tradeoff_gflops.png", "Accuracy against GFLOPs: pruned models per pruner, and the "
                        "unpruned models as the smaller-model reference (dashed).", "Trade-off",
                        lambda: _tradeoff(results, "gflops", rows)))
    jobs.append(PlotJob("tradeoff_latency.png", "Accuracy against measured latency "
                        f"({latency_setting(results)}).", "Trade-off",
                        lambda: _tradeoff(results, "latency_ms", rows)))
    jobs.extend(speed_plot_jobs(results))  # the speed stage's per-runtime figures, when the run has them
    jobs.append(PlotJob("size_vs_level.png", "Size of the saved model file at each level.", "Model size",
                        lambda: _single(plot_size_vs_level, results, rows=rows)))
    seen: set[tuple[str, str | None]] = set()
    for cell in results.cells:
        if isinstance(cell.diagnostics.get(GAMMA_DIAGNOSTIC), dict) and (cell.model, cell.pruner) not in seen:
            seen.add((cell.model, cell.pruner))
            jobs.append(PlotJob(f"gammas_{slug(cell.model, cell.pruner)}.png",
                                f"{cell.model}, {cell.pruner}: BN gamma magnitudes before and after sparsity "
                                f"training.", "BN gamma", lambda c=cell: _single(plot_gamma_histogram, c)))
    return jobs


def write_all_plots(results: Results, out_dir: str | Path) -> list[Path]:
    """Draw every plot of :func:`plot_jobs` into ``out_dir`` (PNG); return the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for job in plot_jobs(results):
        fig = job.draw()
        written.append(save(fig, out / job.name))
    return written
