"""Atomic checkpoint files: model weights through the family's save, training state as a plain tensor dict."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import ModelFamily

__all__ = ["load_state", "save_model", "save_state", "write_results_csv"]


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def save_model(family: ModelFamily, model: nn.Module, path: Path, **meta: Any) -> Path:
    """``family.save`` to a temporary file, then rename over ``path`` (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        written = Path(family.save(model, tmp, **meta))
        os.replace(written, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_state(state: Mapping[str, Any], path: Path) -> Path:
    """``torch.save`` a dict of tensors and plain values atomically (loadable with ``weights_only=True``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        torch.save(dict(state), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_state(path: Path) -> dict[str, Any]:
    """Load a training-state file without executing code (``weights_only=True``)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def write_results_csv(rows: Sequence[Mapping[str, float]], path: Path, columns: Sequence[str]) -> Path:
    """YOLOv5's results.csv (one row per epoch), rewritten atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for row in rows:
            w.writerow([int(row[c]) if c == "epoch" else f"{float(row.get(c, float('nan'))):.5g}" for c in columns])
    os.replace(tmp, path)
    return path
