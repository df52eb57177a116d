"""Expand a spec into benchmark cells and their stages, each with a cache key hashed from its inputs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.engine.config import BootstrapConfig
from prunebench.spec import resolve_spec
from prunebench.speed.runtimes import check_runtimes
from prunebench.speed.stage import SPEED_KIND, speed_stage_inputs
from prunebench.suite.stage import Stage, file_sha256

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.plugins import Catalogue
    from prunebench.spec import Spec

__all__ = ["STAGE_KINDS", "STAGE_VERSIONS", "Cell", "Plan", "Stage", "build_plan", "cell_key", "file_sha256",
           "stage_key"]

#: The stage kinds in the order a cell runs them.
STAGE_KINDS: tuple[str, ...] = ("data", "train", "sparsity", "prune", "finetune", "evaluate")

#: A code version per stage kind: bump one when the way that stage computes its result changes, and
#: every cached result of that kind (and everything downstream of it) is recomputed.
STAGE_VERSIONS: dict[str, int] = {"data": 1, "train": 2, "sparsity": 2, "prune": 1, "finetune": 2, "evaluate": 2,
                               "speed": 1}


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def stage_key(kind: str, inputs: dict[str, Any], deps: tuple[str, ...]) -> str:
    """The cache key of a stage: a hash of its kind, code version, inputs and upstream keys."""
    payload = {"kind": kind, "version": STAGE_VERSIONS[kind], "inputs": inputs, "deps": list(deps)}
    digest = hashlib.sha256(_canonical(payload).encode()).hexdigest()[:16]
    return f"{kind}-{digest}"


def cell_key(model: str, pruner: str | None, level: float, seed: int) -> str:
    """The stable id of a cell: ``yolov5n/l1/0.6/s0``, or ``yolov5n/baseline/s0`` for the baseline."""
    if pruner is None:
        return f"{model}/baseline/s{seed}"
    return f"{model}/{pruner}/{level:g}/s{seed}"


@dataclass(frozen=True)
class Cell:
    """One benchmark cell: a model, a pruner (None for the baseline), a level and a seed."""

    key: str
    model: str  # the model's label in the spec
    pruner: str | None  # the pruner's label, None for the unpruned baseline
    level: float
    seed: int
    stages: tuple[str, ...]  # stage keys in the order they run; the last one is ``evaluate``

    @property
    def is_baseline(self) -> bool:
        return self.pruner is None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "model": self.model, "pruner": self.pruner, "level": self.level,
                "seed": self.seed, "stages": list(self.stages)}


@dataclass
class Plan:
    """Cells and stages (stages in a topological order: every stage after its dependencies)."""

    cells: list[Cell]
    stages: dict[str, Stage]
    #: keys of the stages whose results are already in the run folder's store (set by the runner)
    cached: set[str] = field(default_factory=set)

    def stage_list(self) -> list[Stage]:
        return list(self.stages.values())

    def cells_of(self, stage_key: str) -> list[Cell]:
        """The cells that need a stage (a shared baseline training belongs to many)."""
        return [c for c in self.cells if stage_key in c.stages]

    def cell(self, key: str) -> Cell:
        for c in self.cells:
            if c.key == key:
                return c
        raise KeyError(key)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.stages.values():
            out[s.kind] = out.get(s.kind, 0) + 1
        return out


@dataclass(frozen=True)
class _ModelSeed:
    """What every stage of one model and seed shares: the hashed ``common`` inputs and the budgets."""

    entry: Any  # the spec's model entry
    seed: int
    common: dict[str, Any]  # hashed: model reference, seed, device
    params: dict[str, Any]  # not hashed: the model's label and weights path
    train_cfg: Any
    finetune_cfg: Any
    eval_cfg: dict[str, Any]

    @property
    def label(self) -> str:
        return str(self.entry.key)


def _with_loader(params: dict[str, Any], cfg: Any) -> dict[str, Any]:
    """A training stage's unhashed params: the loader's throughput-only settings travel here, not in the key."""
    return {**params, "loader": cfg.throughput_dump()}


class _Builder:
    """Adds keyed stages (one per key: shared stages are added once) and the cells that chain them."""

    def __init__(self, spec: Spec, catalogue: Catalogue, threads: int) -> None:
        self.spec = spec
        self.cat = catalogue
        self.stages: dict[str, Stage] = {}
        self.cells: list[Cell] = []
        self.common = {"plugins": list(spec.plugins), "threads": threads}
        self.metrics = [{"name": m.name, "options": m.options} for m in spec.metrics]
        self.data = ""

    def add(self, kind: str, inputs: dict[str, Any], deps: tuple[str, ...], label: str,
            params: dict[str, Any] | None = None) -> str:
        key = stage_key(kind, inputs, deps)
        if key not in self.stages:
            self.stages[key] = Stage(key=key, kind=kind, deps=deps, inputs=inputs,
                                     params={**self.common, **(params or {})}, label=label)
        return key

    def add_data(self) -> None:
        ds = self.spec.dataset
        provider = ds.instantiate(self.cat.datasets.get(ds.name))
        self.data = self.add("data", {"dataset": ds.name, "options": ds.options,
                                      "fingerprint": provider.fingerprint()}, (), f"data {ds.name}")

    def model_seed(self, entry: Any, seed: int) -> _ModelSeed:
        model_ref = {"name": entry.name, "options": entry.options,
                     "weights_sha256": file_sha256(Path(entry.weights)) if entry.weights else None}
        train_cfg = self.spec.train_for(entry.key)
        eval_cfg = self.spec.evaluate.model_dump(mode="json")
        if eval_cfg.get("imgsz") is None:
            eval_cfg["imgsz"] = train_cfg.imgsz
        if eval_cfg.get("bootstrap") == BootstrapConfig().model_dump(mode="json"):
            del eval_cfg["bootstrap"]  # the default bootstrap leaves the evaluate keys as they were before it
        return _ModelSeed(entry=entry, seed=seed,
                          common={"model": model_ref, "seed": seed, "device": self.spec.device},
                          params={"model_label": entry.key, "weights": str(entry.weights) if entry.weights else None},
                          train_cfg=train_cfg, finetune_cfg=self.spec.finetune_for(entry.key), eval_cfg=eval_cfg)

    def train(self, ms: _ModelSeed) -> str:
        return self.add("train", {**ms.common, "budget": ms.train_cfg.result_dump()}, (self.data,),
                        f"train {ms.label} s{ms.seed}", _with_loader(ms.params, ms.train_cfg))

    def evaluate(self, ms: _ModelSeed, upstream: str, cell: str) -> str:
        return self.add("evaluate", {**ms.common, "eval": ms.eval_cfg, "metrics": self.metrics},
                        (self.data, upstream), f"evaluate {cell}", ms.params)

    def baseline_cell(self, ms: _ModelSeed, train: str) -> None:
        ck = cell_key(ms.label, None, 0.0, ms.seed)
        self.cells.append(Cell(ck, ms.label, None, 0.0, ms.seed, (self.data, train, self.evaluate(ms, train, ck))))

    def sparsity(self, ms: _ModelSeed, p: Any, train: str) -> str | None:
        """The pruner's sparsity-training stage (shared by its levels), or None when it needs none."""
        pruner_cls = self.cat.pruners.get(p.name)
        if not getattr(pruner_cls, "needs_sparsity_training", False):
            return None
        if self.spec.sparsity is not None:
            sp_cfg = self.spec.sparsity
        else:
            sp_cfg = ms.train_cfg.model_copy(update={"epochs": int(p.instantiate(pruner_cls).sparsity_epochs())})
        if sp_cfg.epochs <= 0:
            return None
        return self.add("sparsity", {**ms.common, "pruner": {"name": p.name, "options": p.options},
                                     "budget": sp_cfg.result_dump()},
                        (self.data, train), f"sparsity {ms.label} {p.key} s{ms.seed}", _with_loader(ms.params, sp_cfg))

    def pruner_cells(self, ms: _ModelSeed, p: Any, train: str) -> None:
        """One cell per level: [sparsity →] prune → finetune → evaluate."""
        sparse = self.sparsity(ms, p, train)
        upstream = sparse or train
        chain = (self.data, train) if sparse is None else (self.data, train, sparse)
        pruner_ref = {"name": p.name, "options": p.options}
        for level in p.levels:
            ck = cell_key(ms.label, p.key, level, ms.seed)
            prune = self.add("prune", {**ms.common, "pruner": pruner_ref, "level": level,
                                       "imgsz": ms.train_cfg.imgsz,
                                       "calibration_batches": self.spec.calibration_batches,
                                       "calibration_batch_size": ms.finetune_cfg.batch_size},
                             (self.data, upstream), f"prune {ck}", ms.params)
            finetune = self.add("finetune", {**ms.common, "budget": ms.finetune_cfg.result_dump()},
                                (self.data, prune), f"finetune {ck}", _with_loader(ms.params, ms.finetune_cfg))
            self.cells.append(Cell(ck, ms.label, p.key, float(level), ms.seed,
                                   (*chain, prune, finetune, self.evaluate(ms, finetune, ck))))

    def speed(self, ms: _ModelSeed, train: str) -> None:
        """The baseline and every pruned variant of this model and seed, timed together in one stage."""
        base_key = cell_key(ms.label, None, 0.0, ms.seed)
        weights = {base_key: train, **{c.key: c.stages[-2] for c in self.cells
                                       if c.model == ms.label and c.seed == ms.seed and not c.is_baseline}}
        self.add(SPEED_KIND, {**ms.common, **speed_stage_inputs(self.spec.speed, base_key, weights)},
                 tuple(dict.fromkeys(weights.values())), f"speed {ms.label} s{ms.seed}", ms.params)


def build_plan(spec: Spec, catalogue: Catalogue, *, threads: int | None = None) -> Plan:
    """Expand ``spec`` into cells (model x pruner x level x seed, plus baselines) and keyed stages."""
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    spec = resolve_spec(spec, catalogue)  # options canonical and validated once, whatever the spec's loading
    if spec.speed is not None:
        check_runtimes(spec.speed.runtimes, spec.device)  # a runtime that is not installed: exit 2, pip command
    b = _Builder(spec, catalogue, threads)
    b.add_data()
    for entry in spec.models:
        for seed in spec.seeds:
            ms = b.model_seed(entry, seed)
            train = b.train(ms)
            if spec.baseline:
                b.baseline_cell(ms, train)
            for p in spec.pruners:
                b.pruner_cells(ms, p, train)
            if spec.speed is not None:
                b.speed(ms, train)
    return Plan(cells=b.cells, stages=b.stages)
