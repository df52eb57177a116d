"""Shared plotting helpers: the Agg backend, figure creation, colours per level/model/pruner, file names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "LINESTYLES",
    "MARKERS",
    "as_mean_curve",
    "level_colors",
    "level_label",
    "new_ax",
    "note_missing",
    "palette",
    "save",
    "slug",
]

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.")


def new_ax(ax: Any = None, figsize: tuple[float, float] = (6.4, 4.4)) -> tuple[Any, Any]:
    """``(fig, ax)``: the given axes and its figure, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def palette(n: int) -> list[Any]:
    """``n`` distinct colours (tab10, then tab20)."""
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def level_colors(levels: Sequence[float]) -> dict[float, Any]:
    """Baseline (0) black; pruned levels from light to dark along a sequential colour map."""
    pruned = sorted({lv for lv in levels if lv > 0})
    cmap = plt.get_cmap("plasma")
    out: dict[float, Any] = {0.0: "black"}
    for i, lv in enumerate(pruned):
        out[lv] = cmap(0.15 + 0.7 * i / max(1, len(pruned) - 1))
    return out


def level_label(level: float) -> str:
    return "baseline (0)" if level == 0 else f"level {level:g}"


def slug(*parts: object) -> str:
    """A file-name-safe name from ``parts``: ``("yolov5n", "bn-scale")`` -> ``yolov5n_bn-scale``."""
    text = "_".join(str(p) for p in parts if p is not None and str(p) != "")
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", text).strip("-") or "plot"


def note_missing(ax: Any, missing: Sequence[str]) -> None:
    """Write which figures are missing onto the axes, so nothing disappears silently."""
    if not missing:
        return
    shown = list(missing[:4]) + ([f"... and {len(missing) - 4} more"] if len(missing) > 4 else [])
    ax.text(0.01, 0.01, "missing: " + "; ".join(shown), transform=ax.transAxes, fontsize=7,
            color="firebrick", va="bottom", ha="left", wrap=True)


def save(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Save ``fig`` as PNG and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def as_mean_curve(value: Any) -> np.ndarray | None:
    """A 1-D curve from a stored ``[n]`` or ``[nc][n]`` list (the class mean, as YOLOv5's "all classes")."""
    if value is None:
        return None
    arr = np.asarray(value, dtype=float)
    if arr.size == 0:
        return None
    if arr.ndim == 2:
        arr = arr.mean(axis=0)
    return arr if arr.ndim == 1 else None
