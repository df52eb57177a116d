"""Expand a spec into benchmark cells and their stages, each with a cache key hashed from its inputs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
STAGE_VERSIONS: dict[str, int] = {"data": 1, "train": 1, "sparsity": 1, "prune": 1, "finetune": 1, "evaluate": 2,
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


class _Builder:
    def __init__(self, spec: Spec, catalogue: Catalogue, threads: int) -> None:
        self.spec = spec
        self.cat = catalogue
        self.stages: dict[str, Stage] = {}
        self.common = {"plugins": list(spec.plugins), "threads": threads}

    def add(self, kind: str, inputs: dict[str, Any], deps: tuple[str, ...], label: str,
            params: dict[str, Any] | None = None) -> str:
        key = stage_key(kind, inputs, deps)
        if key not in self.stages:
            self.stages[key] = Stage(key=key, kind=kind, deps=deps, inputs=inputs,
                                     params={**self.common, **(params or {})}, label=label)
        return key


def build_plan(spec: Spec, catalogue: Catalogue, *, threads: int | None = None) -> Plan:
    """Expand ``spec`` into cells (model x pruner x level x seed, plus baselines) and keyed stages."""
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    spec = resolve_spec(spec, catalogue)  # options canonical and validated once, whatever the spec's loading
    b = _Builder(spec, catalogue, threads)
    device = spec.device
    ds = spec.dataset
    provider = ds.instantiate(catalogue.datasets.get(ds.name))
    data = b.add("data", {"dataset": ds.name, "options": ds.options, "fingerprint": provider.fingerprint()},
                 (), f"data {ds.name}")
    metrics = [{"name": m.name, "options": m.options} for m in spec.metrics]
    if spec.speed is not None:
        check_runtimes(spec.speed.runtimes, device)  # a runtime that is not installed: exit 2 with the pip command
    cells: list[Cell] = []
    for entry in spec.models:
        model_ref = {"name": entry.name, "options": entry.options,
                     "weights_sha256": file_sha256(Path(entry.weights)) if entry.weights else None}
        train_cfg = spec.train_for(entry.key)
        finetune_cfg = spec.finetune_for(entry.key)
        imgsz = train_cfg.imgsz
        eval_cfg = spec.evaluate.model_dump(mode="json")
        if eval_cfg.get("imgsz") is None:
            eval_cfg["imgsz"] = imgsz
        for seed in spec.seeds:
            common = {"model": model_ref, "seed": seed, "device": device}
            model_params = {"model_label": entry.key,
                            "weights": str(entry.weights) if entry.weights else None}
            train = b.add("train", {**common, "budget": train_cfg.model_dump(mode="json")}, (data,),
                          f"train {entry.key} s{seed}", model_params)

            def evaluate(upstream: str, cell: str) -> str:
                return b.add("evaluate", {**common, "eval": eval_cfg, "metrics": metrics},  # noqa: B023
                             (data, upstream), f"evaluate {cell}", model_params)  # noqa: B023

            if spec.baseline:
                ck = cell_key(entry.key, None, 0.0, seed)
                cells.append(Cell(ck, entry.key, None, 0.0, seed, (data, train, evaluate(train, ck))))
            for p in spec.pruners:
                pruner_cls = catalogue.pruners.get(p.name)
                pruner = p.instantiate(pruner_cls)
                pruner_ref = {"name": p.name, "options": p.options}
                upstream = train
                chain: list[str] = [data, train]
                if getattr(pruner_cls, "needs_sparsity_training", False):
                    if spec.sparsity is not None:
                        sp_cfg = spec.sparsity
                    else:
                        sp_cfg = train_cfg.model_copy(update={"epochs": int(pruner.sparsity_epochs())})
                    if sp_cfg.epochs > 0:
                        upstream = b.add("sparsity", {**common, "pruner": pruner_ref,
                                                      "budget": sp_cfg.model_dump(mode="json")},
                                         (data, train), f"sparsity {entry.key} {p.key} s{seed}", model_params)
                        chain.append(upstream)
                for level in p.levels:
                    ck = cell_key(entry.key, p.key, level, seed)
                    prune = b.add("prune", {**common, "pruner": pruner_ref, "level": level, "imgsz": imgsz,
                                            "calibration_batches": spec.calibration_batches,
                                            "calibration_batch_size": finetune_cfg.batch_size},
                                  (data, upstream), f"prune {ck}", model_params)
                    finetune = b.add("finetune", {**common, "budget": finetune_cfg.model_dump(mode="json")},
                                     (data, prune), f"finetune {ck}", model_params)
                    cells.append(Cell(ck, entry.key, p.key, float(level), seed,
                                      (*chain, prune, finetune, evaluate(finetune, ck))))
            if spec.speed is not None:  # baseline and every pruned variant of this model and seed, timed together
                base_key = cell_key(entry.key, None, 0.0, seed)
                weights = {base_key: train, **{c.key: c.stages[-2] for c in cells
                                               if c.model == entry.key and c.seed == seed and not c.is_baseline}}
                b.add(SPEED_KIND, {**common, **speed_stage_inputs(spec.speed, base_key, weights)},
                      tuple(dict.fromkeys(weights.values())), f"speed {entry.key} s{seed}", model_params)
    return Plan(cells=cells, stages=b.stages)

