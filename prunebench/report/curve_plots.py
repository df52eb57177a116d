"""Curve plots from stored cells: P/R/F1 against confidence, PR curves, loss curves, BN-gamma histograms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from prunebench.report.plot_style import (
    LINESTYLES,
    as_mean_curve,
    level_colors,
    level_label,
    new_ax,
    note_missing,
    palette,
)
from prunebench.suite.results import CellResult, Results

__all__ = [
    "CURVE_LABELS",
    "GAMMA_DIAGNOSTIC",
    "mean_curve",
    "plot_confidence_curve",
    "plot_confidence_curve_by_model",
    "plot_gamma_histogram",
    "plot_losses",
    "plot_pr_curve",
    "plot_pr_curve_by_model",
]

#: Stored curve key -> axis label.
CURVE_LABELS = {"precision": ("p_curve", "Precision"), "recall": ("r_curve", "Recall"),
                "f1": ("f1_curve", "F1")}


def _cells(results: Results, model: str, pruner: str | None, level: float) -> list[CellResult]:
    return [c for c in results.cells if c.model == model and c.pruner == pruner and c.status == "done"
            and (pruner is None or abs(c.level - level) < 1e-9)]


def mean_curve(cells: Sequence[CellResult], x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The class- and seed-mean curve ``(x, y)`` of ``cells`` (None when no cell stored it)."""
    xs, ys = [], []
    for c in cells:
        x, y = as_mean_curve(c.curves.get(x_key)), as_mean_curve(c.curves.get(y_key))
        if x is None and y is not None:
            x = np.linspace(0.0, 1.0, len(y))
        if x is None or y is None or len(x) != len(y):
            continue
        xs.append(x)
        ys.append(y)
    if not ys:
        return None
    n = min(len(y) for y in ys)
    return np.mean([x[:n] for x in xs], axis=0), np.mean([y[:n] for y in ys], axis=0)


def _series(results: Results, model: str, pruner: str | None) -> list[tuple[str | None, float]]:
    """(pruner, level) of the baseline and every level of ``pruner`` (all pruners when None)."""
    keys: dict[tuple[str | None, float], None] = {(None, 0.0): None}
    pruners = results.pruners if pruner is None else [pruner]
    for p in pruners:
        for lv in sorted({c.level for c in results.cells if c.model == model and c.pruner == p}):
            keys[(p, lv)] = None
    return list(keys)


def _label(pruner: str | None, level: float, several: bool) -> str:
    if pruner is None:
        return "baseline (0)"
    return f"{pruner} {level:g}" if several else level_label(level)


def _finish_confidence(ax: Any, ylabel: str, title: str) -> None:
    ax.set_xlabel("Confidence threshold")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title)


def plot_confidence_curve(results: Results, model: str, metric: str = "f1", pruner: str | None = None,
                          ax: Any = None) -> tuple[Any, Any]:
    """``metric`` (precision, recall, f1) against confidence for ``model``: one line per level incl. baseline."""
    key, ylabel = CURVE_LABELS[metric]
    fig, ax = new_ax(ax)
    series = _series(results, model, pruner)
    colors = level_colors([lv for _p, lv in series])
    several = len({p for p, _ in series if p is not None}) > 1
    styles = {p: LINESTYLES[i % len(LINESTYLES)] for i, p in enumerate(results.pruners)}
    missing = []
    for p, lv in series:
        curve = mean_curve(_cells(results, model, p, lv), "px", key)
        if curve is None:
            missing.append(_label(p, lv, True))
            continue
        ax.plot(*curve, color=colors[lv], ls="-" if p is None else styles[p], lw=2 if p is None else 1.4,
                label=_label(p, lv, several))
    _finish_confidence(ax, ylabel, f"{ylabel}-confidence, {model}" + (f", {pruner}" if pruner else ""))
    if ax.lines:
        ax.legend(fontsize=8)
    note_missing(ax, missing)
    return fig, ax


def plot_pr_curve(results: Results, model: str, pruner: str | None = None, ax: Any = None) -> tuple[Any, Any]:
    """Precision against recall for ``model``: one line per level incl. baseline (mAP50 in the legend)."""
    fig, ax = new_ax(ax)
    series = _series(results, model, pruner)
    colors = level_colors([lv for _p, lv in series])
    several = len({p for p, _ in series if p is not None}) > 1
    styles = {p: LINESTYLES[i % len(LINESTYLES)] for i, p in enumerate(results.pruners)}
    missing = []
    for p, lv in series:
        cells = _cells(results, model, p, lv)
        curve = mean_curve(cells, "pr_recall", "pr_precision")
        if curve is None:
            missing.append(_label(p, lv, True))
            continue
        m50 = [c.metrics["map50"] for c in cells if c.metrics.get("map50") is not None]
        tag = f" (mAP50 {np.mean(m50):.3f})" if m50 else ""
        ax.plot(*curve, color=colors[lv], ls="-" if p is None else styles[p], lw=2 if p is None else 1.4,
                label=_label(p, lv, several) + tag)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"Precision-recall, {model}" + (f", {pruner}" if pruner else ""))
    if ax.lines:
        ax.legend(fontsize=8)
    note_missing(ax, missing)
    return fig, ax


def _by_model(results: Results, level: float, pruner: str | None) -> list[tuple[str, list[CellResult]]]:
    return [(m, _cells(results, m, None if level == 0 else pruner, level)) for m in results.models]


def plot_confidence_curve_by_model(results: Results, level: float, metric: str = "f1",
                                   pruner: str | None = None, ax: Any = None) -> tuple[Any, Any]:
    """``metric`` against confidence at one ``level`` (0: the baselines), one line per model."""
    key, ylabel = CURVE_LABELS[metric]
    fig, ax = new_ax(ax)
    colors = palette(len(results.models))
    missing = []
    for color, (model, cells) in zip(colors, _by_model(results, level, pruner)):
        curve = mean_curve(cells, "px", key)
        if curve is None:
            missing.append(model)
            continue
        ax.plot(*curve, color=color, lw=1.6, label=model)
    where = "baseline" if level == 0 else f"{pruner} level {level:g}"
    _finish_confidence(ax, ylabel, f"{ylabel}-confidence, {where}")
    if ax.lines:
        ax.legend(fontsize=8)
    note_missing(ax, missing)
    return fig, ax


def plot_pr_curve_by_model(results: Results, level: float, pruner: str | None = None,
                           ax: Any = None) -> tuple[Any, Any]:
    """Precision against recall at one ``level`` (0: the baselines), one line per model."""
    fig, ax = new_ax(ax)
    missing = []
    for color, (model, cells) in zip(palette(len(results.models)), _by_model(results, level, pruner)):
        curve = mean_curve(cells, "pr_recall", "pr_precision")
        if curve is None:
            missing.append(model)
            continue
        ax.plot(*curve, color=color, lw=1.6, label=model)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title("Precision-recall, " + ("baseline" if level == 0 else f"{pruner} level {level:g}"))
    if ax.lines:
        ax.legend(fontsize=8)
    note_missing(ax, missing)
    return fig, ax


def _loss_keys(rows: Sequence[dict[str, float]]) -> list[str]:
    keys: dict[str, None] = {}
    for r in rows:
        for k in r:
            if "loss" in k:
                keys[k] = None
    return list(keys)


def plot_losses(cell: CellResult, ax: Any = None, stages: Sequence[str] = ("train", "sparsity", "finetune"),
                title: str | None = None) -> tuple[Any, Any]:
    """Every loss of ``cell`` per epoch, stages one after another (train solid, val dashed)."""
    fig, ax = new_ax(ax)
    offset = 0
    comps: dict[str, Any] = {}
    for stage in stages:
        rows = cell.history.get(stage) or []
        if not rows:
            continue
        if offset:
            ax.axvline(offset - 0.5, color="grey", lw=0.8, ls=":")
        ax.text(offset + (len(rows) - 1) / 2, 0.99, stage, transform=ax.get_xaxis_transform(), fontsize=8,
                va="top", ha="center", color="dimgrey")
        epochs = np.arange(offset, offset + len(rows))
        for key in _loss_keys(rows):
            comp = key.split("/")[-1]
            if comp not in comps:
                comps[comp] = palette(10)[len(comps) % 10]
            ys = np.array([r.get(key, np.nan) for r in rows], dtype=float)
            split = key.split("/")[0] if "/" in key else "train"
            first = not any(line.get_label() == key for line in ax.lines)
            ax.plot(epochs, ys, color=comps[comp], ls="--" if split == "val" else "-", marker=".", ms=3,
                    label=key if first else "_nolegend_")
        offset += len(rows)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Epoch (stages in order)")
    ax.set_ylabel("Loss")
    ax.grid(alpha=0.3)
    ax.set_title(title or f"Losses, {cell.key}")
    if ax.lines:
        ax.legend(fontsize=7, ncol=2)
    else:
        note_missing(ax, [f"no per-epoch history stored for {cell.key}"])
    return fig, ax


#: the diagnostic the γ histogram plots: ``{"before": [...], "after": [...]}`` of a sparsity training
GAMMA_DIAGNOSTIC = "bn_gamma"


def plot_gamma_histogram(cell: CellResult, ax: Any = None, bins: int = 60) -> tuple[Any, Any]:
    """|BN gamma| before and after sparsity training (log count axis): sparsity drives gammas to 0.

    Reads the cell's ``diagnostics["bn_gamma"]`` (any pruner may provide it, see docs/writing-plugins.md).
    """
    fig, ax = new_ax(ax)
    gammas = cell.diagnostics.get(GAMMA_DIAGNOSTIC)
    gammas = gammas if isinstance(gammas, dict) else {}
    missing = []
    for key, color in (("before", "tab:blue"), ("after", "tab:orange")):
        vals = np.abs(np.asarray(gammas.get(key) or [], dtype=float))
        if vals.size == 0:
            missing.append(f"diagnostics[{GAMMA_DIAGNOSTIC!r}][{key!r}]")
            continue
        ax.hist(vals, bins=bins, alpha=0.55, color=color, label=f"{key} sparsity training (n={vals.size})",
                log=True)
    ax.set_xlabel("|BN gamma| (scale factor)")
    ax.set_ylabel("Channels (log scale)")
    ax.set_title(f"BN gamma distribution, {cell.model} ({cell.pruner})")
    ax.grid(alpha=0.3)
    if ax.patches:
        ax.legend(fontsize=8)
    note_missing(ax, missing)
    return fig, ax
