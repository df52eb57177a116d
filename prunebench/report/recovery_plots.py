"""Recovery curves: mAP50 against fine-tuning epoch, per level and pruner (mean over seeds, 95 % band)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from prunebench.report.plot_style import new_ax, note_missing, palette
from prunebench.report.uncertainty import compute_statistics
from prunebench.stats.intervals import SeedSummary
from prunebench.suite.results import Results

__all__ = ["RECOVERY_COLUMN", "has_recovery", "plot_recovery"]

#: the history column of the validation mAP50 after each epoch (YOLOv5's results.csv name)
RECOVERY_COLUMN = "metrics/mAP_0.5"


def _curve(history: list[dict[str, Any]]) -> dict[int, float]:
    out = {}
    for i, row in enumerate(history):
        v = row.get(RECOVERY_COLUMN)
        if v is not None and isinstance(v, int | float) and math.isfinite(v):
            out[int(row.get("epoch", i)) + 1] = float(v)
    return out


def has_recovery(results: Results) -> bool:
    """Whether any pruned cell validated during fine-tuning (a curve needs at least two epochs)."""
    return any(len(_curve(c.history.get("finetune", []))) >= 2 for c in results.cells if c.pruner is not None)


def plot_recovery(results: Results, model: str, pruner: str, ax: Any = None) -> tuple[Any, Any]:
    """One line per level: validation mAP50 after each fine-tuning epoch; the unpruned model as reference.

    With several seeds the line is the mean and the band the Student-t 95 % interval over seeds.
    """
    fig, ax = new_ax(ax)
    levels = sorted({c.level for c in results.cells if c.model == model and c.pruner == pruner})
    missing = []
    for level, color in zip(levels, palette(len(levels))):
        curves = [_curve(c.history.get("finetune", [])) for c in results.cells
                  if c.model == model and c.pruner == pruner and c.level == level and c.status == "done"]
        curves = [c for c in curves if c]
        if not curves:
            missing.append(f"{level:g}")
            continue
        epochs = sorted(set().union(*curves))
        stats = [SeedSummary.of(c.get(e) for c in curves) for e in epochs]
        mean = np.array([s.mean for s in stats], dtype=float)
        ax.plot(epochs, mean, color=color, marker="o", ms=3, lw=1.5,
                label=f"level {level:g} (n={max(s.n for s in stats)})")
        lo = np.array([np.nan if s.low is None else s.low for s in stats])
        hi = np.array([np.nan if s.high is None else s.high for s in stats])
        if np.isfinite(lo).any():
            ax.fill_between(epochs, lo, hi, color=color, alpha=0.18, lw=0)
    base = compute_statistics(results).stat(model, None, 0.0, "map50")
    if base is not None and base.mean is not None:
        ax.axhline(base.mean, color="black", lw=0.9, ls=":", label="unpruned (after training)")
        if base.has_interval:
            ax.axhspan(base.low, base.high, color="black", alpha=0.08, lw=0)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_xlabel("Fine-tuning epoch")
    ax.set_ylabel("Validation mAP50")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Recovery during fine-tuning: {model}, {pruner}", fontsize=10)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    note_missing(ax, missing)
    return fig, ax
