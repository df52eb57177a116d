"""Summary plots from stored results: metric against level, accuracy-cost trade-off, model size per level."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prunebench.report.plot_style import MARKERS, new_ax, note_missing, palette
from prunebench.report.summary import Row, latency_setting, metric_info, summarize
from prunebench.report.uncertainty import Statistics, compute_statistics
from prunebench.suite.results import Results

__all__ = ["plot_metric_vs_level", "plot_size_vs_level", "plot_tradeoff"]


def _axis_label(results: Results, metric: str) -> str:
    info = metric_info(results, metric)
    if info.get("axis"):
        return str(info["axis"])
    label = str(info.get("label") or metric)
    unit = info.get("unit")
    return f"{label} ({unit})" if unit and unit not in label else label


def _rows(results: Results, rows: Sequence[Row] | None) -> Sequence[Row]:
    return summarize(results) if rows is None else rows


def plot_metric_vs_level(results: Results, model: str, metric: str = "map50_95", ax: Any = None,
                         rows: Sequence[Row] | None = None) -> tuple[Any, Any]:
    """``metric`` against pruning level for ``model``, one line per pruner from the baseline.

    Error bars (and the band around the baseline) are the 95 % intervals of :mod:`prunebench.report.uncertainty`
    (Student t over seeds, or the image bootstrap with one seed); the sample std where there is no interval.
    """
    fig, ax = new_ax(ax)
    stats = compute_statistics(results)
    rows = [r for r in _rows(results, rows) if r.model == model]
    base = next((r for r in rows if r.is_baseline), None)
    missing = []
    for i, (pruner, color) in enumerate(zip(results.pruners, palette(len(results.pruners)))):
        pts = ([base] if base is not None else []) + [r for r in rows if r.pruner == pruner]
        xs, ys, lo, hi = [], [], [], []
        for r in pts:
            st = r.values.get(metric)
            if st is None or st.mean is None:
                missing.append(f"{r.label} {r.level:g}")
                continue
            xs.append(r.level)
            ys.append(st.mean)
            e_lo, e_hi = _err(stats, r, metric, st.mean, st.std)
            lo.append(e_lo)
            hi.append(e_hi)
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], color=color, marker=MARKERS[i % len(MARKERS)], capsize=3, lw=1.5,
                        label=pruner)
    if base is not None and base.values.get(metric) and base.values[metric].mean is not None:
        ax.axhline(base.values[metric].mean, color="black", lw=0.8, ls=":", label="baseline")
        band = stats.stat(model, None, 0.0, metric)
        if band is not None and band.has_interval:
            ax.axhspan(band.low, band.high, color="black", alpha=0.08, lw=0, label="baseline 95% CI")
    if metric_info(results, metric).get("kind") in ("accuracy", "complexity", "speed"):
        ax.set_ylim(bottom=0)  # P, R, F1, mAP, sizes and latencies are never negative
    ax.set_xlabel("Pruning level (fraction of channels removed; 0 = baseline)")
    ax.set_ylabel(_axis_label(results, metric))
    title = f"{metric_info(results, metric)['label']} vs level, {model}"
    if metric_info(results, metric).get("kind") == "speed":
        title += f"\n({latency_setting(results)})"
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    note_missing(ax, sorted(set(missing)))
    return fig, ax


def _err(stats: Statistics, row: Row, metric: str, mean: float, std: float | None) -> tuple[float, float]:
    """Lower and upper error-bar lengths: the 95 % interval around ``mean``, else ± the std, else 0."""
    s = stats.stat(row.model, row.pruner, row.level, metric)
    if s is not None and s.has_interval:
        low = max(0.0, s.low)  # type: ignore[type-var]  # every plotted figure is non-negative
        return max(0.0, mean - low), max(0.0, s.high - mean)  # type: ignore[operator]
    return (std or 0.0, std or 0.0)


def plot_tradeoff(results: Results, x: str = "gflops", y: str = "map50_95", ax: Any = None,
                  rows: Sequence[Row] | None = None) -> tuple[Any, Any]:
    """Accuracy ``y`` against cost ``x`` (gflops, latency_ms, params, size_mb).

    Pruned points per model and pruner (levels joined by a line), and the unpruned models joined by a
    dashed black line: the "just train a smaller model" reference that pruning has to beat.
    """
    fig, ax = new_ax(ax, figsize=(7.2, 4.8))
    rows = _rows(results, rows)
    stats = compute_statistics(results)
    missing = []
    ladder = []
    model_colors = dict(zip(results.models, palette(len(results.models))))
    pruner_markers = {p: MARKERS[(i + 1) % len(MARKERS)] for i, p in enumerate(results.pruners)}

    def point(r: Row) -> tuple[float, float, float, tuple[float, float]] | None:
        sx, sy = r.values.get(x), r.values.get(y)
        if sx is None or sy is None or sx.mean is None or sy.mean is None:
            missing.append(f"{r.model} {r.label} {r.level:g}")
            return None
        return sx.mean, sy.mean, sx.std or 0.0, _err(stats, r, y, sy.mean, sy.std)

    for model in results.models:
        mrows = [r for r in rows if r.model == model]
        base = next((r for r in mrows if r.is_baseline), None)
        bp = point(base) if base is not None else None
        if bp is not None:
            ladder.append((bp[0], bp[1], model))
        for pruner in results.pruners:
            pts = [p for p in (point(r) for r in mrows if r.pruner == pruner) if p is not None]
            if not pts:
                continue
            line = ([bp] if bp is not None else []) + pts
            ax.plot([p[0] for p in line], [p[1] for p in line], color=model_colors[model], lw=1, alpha=0.6)
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], xerr=[p[2] for p in pts],
                        yerr=[[p[3][0] for p in pts], [p[3][1] for p in pts]], ls="none",
                        marker=pruner_markers[pruner], ms=6,
                        color=model_colors[model], capsize=2, label=f"{model} {pruner}")
    generations: dict[str, list[tuple[float, float, str]]] = {}
    for p in ladder:  # one reference line per generation (yolov5n/s/m, yolov8n/s/m, ...)
        generations.setdefault(p[2].rstrip("nsmlx") or p[2], []).append(p)
    for gi, (gen, pts) in enumerate(sorted(generations.items())):
        pts.sort()
        label = ("unpruned models (smaller-model reference)" if len(generations) == 1
                 else f"unpruned {gen} (smaller-model reference)")
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "k" + ("--", ":", "-.")[gi % 3], marker="o", ms=8,
                mfc="white", lw=1.5, label=label, zorder=5)
        for px_, py_, name in pts:
            ax.annotate(name, (px_, py_), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel(_axis_label(results, x))
    ax.set_ylabel(_axis_label(results, y))
    title = f"{metric_info(results, y)['label']} vs {metric_info(results, x)['label']}"
    if metric_info(results, x).get("kind") == "speed":
        title += f"\n(latency: {latency_setting(results)})"
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7, loc="lower right")
    note_missing(ax, sorted(set(missing)))
    return fig, ax


def plot_size_vs_level(results: Results, metric: str = "size_mb", ax: Any = None,
                       rows: Sequence[Row] | None = None) -> tuple[Any, Any]:
    """Model size (``size_mb`` or ``params``) against level: one line per model and pruner."""
    fig, ax = new_ax(ax)
    rows = _rows(results, rows)
    missing = []
    colors = dict(zip(results.models, palette(len(results.models))))
    styles = {p: ("-", "--", ":", "-.")[i % 4] for i, p in enumerate(results.pruners)}
    for model in results.models:
        mrows = [r for r in rows if r.model == model]
        base = [r for r in mrows if r.is_baseline]
        for i, pruner in enumerate(results.pruners):
            xs, ys = [], []
            for r in base + [r for r in mrows if r.pruner == pruner]:
                st = r.values.get(metric)
                if st is None or st.mean is None:
                    missing.append(f"{model} {r.label} {r.level:g}")
                    continue
                xs.append(r.level)
                ys.append(st.mean)
            if xs:
                ax.plot(xs, ys, color=colors[model], ls=styles[pruner], marker=MARKERS[i % len(MARKERS)],
                        label=f"{model} {pruner}")
    ax.set_xlabel("Pruning level (0 = baseline)")
    ax.set_ylabel(_axis_label(results, metric))
    ax.set_title(f"Model size per level ({metric_info(results, metric)['description'] or metric})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    if ax.lines:
        ax.legend(fontsize=8)
    note_missing(ax, sorted(set(missing)))
    return fig, ax
