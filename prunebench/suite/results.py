"""Stored results of a run, as reporters and users read them (loaded from the SQLite store)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prunebench.suite.stage import StageResult
from prunebench.suite.store import Store

__all__ = ["CellResult", "Results", "load_results"]

#: CellResult.artifacts name -> the stage kind whose ``weights`` it is
_ARTIFACT_KINDS = (("weights", "evaluate"), ("pruned", "prune"), ("baseline", "train"), ("sparse", "sparsity"))


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
    #: named diagnostics of the cell's stages (later stages win on a shared name), e.g. a pruner's
    #: ``bn_gamma`` = {"before": [...], "after": [...]} of its sparsity training
    diagnostics: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> path relative to the run folder
    #: stage kind -> stage key of the cell's chain (its results are in ``Results.stages``)
    stage_keys: dict[str, str] = field(default_factory=dict)

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
    #: every finished stage's result by stage key (also stages outside the cells' chains)
    stages: dict[str, StageResult] = field(default_factory=dict)

    @classmethod
    def load(cls, run_dir: str | Path) -> Results:
        """Read a run folder's results store (``results.sqlite``)."""
        return load_results(run_dir)

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


def _cell(row: dict[str, Any], kinds: dict[str, str], stages: dict[str, StageResult]) -> CellResult:
    cell = CellResult(key=row["key"], model=row["model"], pruner=row["pruner"], level=float(row["level"]),
                      seed=int(row["seed"]), status=row["status"], error=row["error"], stage_keys=kinds)
    by_kind = {kind: stages[key] for kind, key in kinds.items() if key in stages}
    if row["status"] == "done" and "evaluate" in by_kind:
        cell.metrics = dict(by_kind["evaluate"].metrics)  # type: ignore[arg-type]
    for kind in ("train", "sparsity", "finetune"):
        if kind in by_kind and by_kind[kind].history:
            cell.history[kind] = by_kind[kind].history
    if "evaluate" in by_kind:
        cell.curves = by_kind["evaluate"].curves
    if "prune" in by_kind:
        cell.prune_record = by_kind["prune"].record
    for result in by_kind.values():
        cell.diagnostics.update(result.diagnostics)
    for name, kind in _ARTIFACT_KINDS:
        weights = by_kind[kind].weights if kind in by_kind else None
        if weights:
            cell.artifacts[name] = weights
    return cell


def load_results(run_dir: str | Path) -> Results:
    """Read a run folder's ``results.sqlite`` into :class:`Results` (nothing is run or written)."""
    run_dir = Path(run_dir)
    with Store(run_dir, readonly=True) as store:
        meta = store.meta()
        cell_rows = store.cell_rows()
        stages = store.stage_results()
        info = store.metric_info()
        kinds = {key: row["kind"] for key, row in store.stage_rows().items()}
    cells = [_cell(row, {kinds[k]: k for k in json.loads(row["stages"]) if k in kinds}, stages)
             for row in cell_rows]
    return Results(run_dir=run_dir, name=meta.get("name", run_dir.name), spec=json.loads(meta.get("spec", "{}")),
                   spec_text=meta.get("spec_text", ""), environment=json.loads(meta.get("environment", "{}")),
                   cells=cells, metric_info=info, stages=stages)
