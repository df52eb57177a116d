"""Stored results of a run, as reporters and users read them (loaded from the SQLite store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CellResult", "Results"]


@dataclass
class CellResult:
    """One benchmark cell: a model, a pruner (None for the unpruned baseline), a level and a seed."""

    key: str  # stable id, e.g. "yolov5n/l1/0.6/s0" or "yolov5n/baseline/s0"
    model: str
    pruner: str | None  # the pruner's label in the spec (its name unless a label was given)
    level: float  # 0.0 for the baseline
    seed: int
    status: str = "pending"  # pending | done | failed
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    #: per stage ("train", "sparsity", "finetune") the per-epoch rows (results.csv columns)
    history: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    #: curves for plots: px, p_curve, r_curve, f1_curve ([nc][1000]), pr_recall, pr_precision, names
    curves: dict[str, Any] = field(default_factory=dict)
    prune_record: dict[str, Any] | None = None
    #: BN-gamma values for bn-scale: {"before": [...], "after": [...]}
    gammas: dict[str, list[float]] | None = None
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> path relative to the run folder

    @property
    def is_baseline(self) -> bool:
        return self.pruner is None


@dataclass
class Results:
    run_dir: Path
    name: str
    spec: dict[str, Any]
    spec_text: str
    environment: dict[str, Any]
    cells: list[CellResult]
    #: metric name -> {"unit", "higher_is_better", "kind", "fmt", "description"}
    metric_info: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: str | Path) -> Results:
        """Read a run folder's results store (``results.sqlite``)."""
        from prunebench.suite.store import load_results

        return load_results(Path(run_dir))

    def baseline(self, model: str, seed: int) -> CellResult | None:
        for c in self.cells:
            if c.is_baseline and c.model == model and c.seed == seed:
                return c
        return None

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(c.model for c in self.cells))

    @property
    def pruners(self) -> list[str]:
        return list(dict.fromkeys(c.pruner for c in self.cells if c.pruner is not None))

    @property
    def seeds(self) -> list[int]:
        return sorted({c.seed for c in self.cells})
