"""The stage functions: each a pure function of (stage, upstream results) that returns a JSON-able result.

A stage writes its artifacts under ``run_dir/stages/<key>/`` and returns paths relative to the run folder,
so the same function runs in the driver (``local``) or in a Ray worker (``ray``) with the same outcome.
"""

from __future__ import annotations

import inspect
import math
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.suite.plan import Stage

__all__ = ["StageObserver", "StageRunner", "execute_stage", "jsonable", "rel_path", "resolve_path", "seed_all"]


class StageObserver(Protocol):
    """What the driver watches while a stage runs in its own process (``local`` executor only)."""

    progress: Any  # a rich Progress the trainer adds its epoch bar to, or None

    def stage_started(self, stage: Stage) -> None: ...

    def epoch_end(self, stage: Stage, epoch: int, row: dict[str, float]) -> None: ...


def rel_path(run_dir: Path, path: str | Path) -> str:
    """``path`` relative to the run folder when inside it (so the folder can move), else absolute."""
    p = Path(path).resolve()
    try:
        return p.relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        return str(p)


def resolve_path(run_dir: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else run_dir / p


def jsonable(obj: Any) -> Any:
    """Turn numpy arrays, tensors, dataclasses and paths into plain JSON types (NaN/inf become None)."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(asdict(obj))
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, torch tensors
        return jsonable(obj.tolist())
    if hasattr(obj, "item"):
        return jsonable(obj.item())
    return str(obj)


def seed_all(seed: int) -> None:
    """Seed every random number generator a stage may touch (python, numpy, torch incl. CUDA)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class StageRunner:
    """``run_stage(stage, dep_results)`` as executors call it; picklable (the observer stays behind).

    ``cached`` holds the results of finished upstream stages that are not run again, so an executor only
    passes the results of the stages it ran itself.
    """

    def __init__(self, run_dir: Path, cached: Mapping[str, dict[str, Any]] | None = None,
                 observer: StageObserver | None = None, device: str | None = None) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.cached = dict(cached or {})
        self.observer = observer
        self.device = device  # overrides the spec's device (a Ray worker sees its GPU as cuda:0)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "observer": None}

    def with_device(self, device: str | None) -> StageRunner:
        return StageRunner(self.run_dir, self.cached, self.observer, device)

    def __call__(self, stage: Stage, dep_results: Mapping[str, Any]) -> dict[str, Any]:
        deps = {k: self.cached[k] for k in stage.deps if k in self.cached}
        deps.update({k: v for k, v in dep_results.items() if k in stage.deps})
        missing = [k for k in stage.deps if k not in deps]
        if missing:
            raise RuntimeError(f"stage {stage.label} started without the results of {missing}")
        return execute_stage(stage, deps, self.run_dir, observer=self.observer, device=self.device)


def execute_stage(stage: Stage, deps: Mapping[str, dict[str, Any]], run_dir: Path, *,
                  observer: StageObserver | None = None, device: str | None = None) -> dict[str, Any]:
    """Run one stage and return its JSON-able result (with ``started``, ``finished``, ``seconds``)."""
    import torch

    started = time.time()
    if observer is not None:
        observer.stage_started(stage)
    out_dir = run_dir / "stages" / stage.key
    out_dir.mkdir(parents=True, exist_ok=True)
    threads = stage.params.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    ctx = _Ctx(stage, deps, run_dir, out_dir, observer, device or stage.inputs.get("device", "cpu"))
    if "seed" in stage.inputs:
        seed_all(int(stage.inputs["seed"]))
    result = _KINDS[stage.kind](ctx)
    finished = time.time()
    result.update(started=started, finished=finished, seconds=finished - started,
                  compute_seconds=ctx.compute_seconds)
    return jsonable(result)


class _Ctx:
    def __init__(self, stage: Stage, deps: Mapping[str, dict[str, Any]], run_dir: Path, out_dir: Path,
                 observer: StageObserver | None, device: str) -> None:
        self.stage = stage
        self.deps = deps
        self.run_dir = run_dir
        self.out_dir = out_dir
        self.observer = observer
        self.device = device
        self.compute_seconds = 0.0
        from prunebench.plugins import get_catalogue

        self.cat = get_catalogue(stage.params.get("plugins", ()))

    def dep(self, kind: str) -> dict[str, Any]:
        for k in self.stage.deps:
            if k.startswith(kind + "-"):
                return self.deps[k]
        raise KeyError(f"stage {self.stage.label} has no {kind} dependency")

    def upstream(self) -> dict[str, Any]:
        """The result of the model-producing stage this one continues from."""
        return self.deps[self.stage.deps[-1]]

    @property
    def data_yaml(self) -> Path:
        return resolve_path(self.run_dir, self.dep("data")["data_yaml"])

    def family(self) -> Any:
        m = self.stage.inputs["model"]
        return self.cat.models.get(m["name"])(m["options"])

    def load_upstream_model(self, family: Any) -> tuple[Any, Path]:
        path = resolve_path(self.run_dir, self.upstream()["weights"])
        return family.load(path), path

    def rel(self, path: str | Path) -> str:
        return rel_path(self.run_dir, path)

    def callbacks(self, after_backward: list[Any] | None = None) -> Any:
        from prunebench.engine.trainer import TrainCallbacks

        on_epoch_end = []
        if self.observer is not None:
            observer, stage = self.observer, self.stage
            on_epoch_end.append(lambda epoch, row: observer.epoch_end(stage, epoch, dict(row)))
        return TrainCallbacks(after_backward=list(after_backward or []), on_epoch_end=on_epoch_end)

    def progress(self) -> Any:
        if self.observer is not None and self.observer.progress is not None:
            return self.observer.progress
        from rich.progress import Progress

        return Progress(disable=True)  # a worker must not draw its own bars

    def train(self, model: Any, family: Any, budget: dict[str, Any], stage: str,
              after_backward: list[Any] | None = None) -> dict[str, Any]:
        from prunebench.engine.config import TrainConfig
        from prunebench.engine.trainer import train

        cfg = TrainConfig.model_validate(budget)
        t0 = time.perf_counter()
        res = train(model, family, self.data_yaml, cfg, self.out_dir, device=self.device,
                    seed=int(self.stage.inputs["seed"]), callbacks=self.callbacks(after_backward), resume=True,
                    progress=self.progress(), stage=stage)
        self.compute_seconds += time.perf_counter() - t0
        best = Path(res.best_path) if res.best_path and Path(res.best_path).exists() else Path(res.last_path)
        return {"weights": self.rel(best), "last": self.rel(res.last_path), "history": list(res.history),
                "best_fitness": res.best_fitness, "epochs_run": res.epochs_run, "train_seconds": res.seconds,
                "model": res.model}


def _data(ctx: _Ctx) -> dict[str, Any]:
    from prunebench.data.yolo import load_data_yaml

    inputs = ctx.stage.inputs
    provider = ctx.cat.datasets.get(inputs["dataset"])(inputs["options"])
    t0 = time.perf_counter()
    data_yaml = provider.prepare(ctx.out_dir)  # generating or checking the data is the stage's own work
    ctx.compute_seconds += time.perf_counter() - t0
    info = load_data_yaml(data_yaml)
    rel = ctx.rel(data_yaml)
    return {"data_yaml": rel, "nc": info.nc, "names": list(info.names), "files": {"data_yaml": rel}}


def _train(ctx: _Ctx) -> dict[str, Any]:
    family = ctx.family()
    weights = ctx.stage.params.get("weights")
    model = family.build(nc=int(ctx.dep("data")["nc"]), weights=weights)
    budget = ctx.stage.inputs["budget"]
    if int(budget["epochs"]) == 0:
        path = family.save(model, ctx.out_dir / "weights" / "model.pt", stage="train", source=weights)
        return {"weights": ctx.rel(path), "history": [], "epochs_run": 0, "files": {"weights": ctx.rel(path)}}
    res = ctx.train(model, family, budget, "train")
    res.pop("model")
    res["files"] = {"weights": res["weights"]}
    return res


def _sparsity(ctx: _Ctx) -> dict[str, Any]:
    from prunebench.pruning.bnscale import bn_gammas

    family = ctx.family()
    model, _ = ctx.load_upstream_model(family)
    ref = ctx.stage.inputs["pruner"]
    pruner = ctx.cat.pruners.get(ref["name"])(ref["options"])
    scope = getattr(pruner.options, "scope", None)
    before = bn_gammas(model, scope, family)
    if "family" in inspect.signature(pruner.regularizer).parameters:  # scope-aware regularisers
        reg = pruner.regularizer(model, family=family)
    else:
        reg = pruner.regularizer(model)
    res = ctx.train(model, family, ctx.stage.inputs["budget"], "sparsity", [reg] if reg is not None else [])
    trained = res.pop("model")
    res["gammas"] = {"before": before, "after": bn_gammas(trained, scope, family)}
    res["files"] = {"weights": res["weights"]}
    return res


class _Calibration:
    """Batches of ``(images, targets)`` for data-driven pruners; the loader is built only if iterated."""

    def __init__(self, data_yaml: Path, imgsz: int, batch_size: int, batches: int, device: str) -> None:
        self.data_yaml, self.imgsz, self.batch_size = data_yaml, imgsz, batch_size
        self.batches, self.device = batches, device

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        import torch

        from prunebench.data.loader import create_dataloader

        loader = create_dataloader(self.data_yaml, "train", self.imgsz, self.batch_size, augment=False,
                                   shuffle=False)
        for i, batch in enumerate(loader):
            if i >= self.batches:
                break
            images, targets = batch[0], batch[1]
            if images.dtype == torch.uint8:
                images = images.float() / 255.0
            yield images.to(self.device), targets.to(self.device)


def _prune(ctx: _Ctx) -> dict[str, Any]:
    from prunebench.contracts import PruneContext

    inputs = ctx.stage.inputs
    family = ctx.family()
    model, _ = ctx.load_upstream_model(family)
    pruner = ctx.cat.pruners.get(inputs["pruner"]["name"])(inputs["pruner"]["options"])
    imgsz = int(inputs["imgsz"])
    calibration = _Calibration(ctx.data_yaml, imgsz, int(inputs["calibration_batch_size"]),
                               int(inputs["calibration_batches"]), ctx.device)
    pctx = PruneContext(family=family, example_inputs=family.example_inputs(imgsz).to(ctx.device),
                        calibration=calibration, loss_fn=family.loss(model, family.default_hyp()),
                        seed=int(inputs["seed"]), device=ctx.device, imgsz=imgsz)
    model = model.to(ctx.device)
    t0 = time.perf_counter()
    result = pruner.prune(model, float(inputs["level"]), pctx)
    ctx.compute_seconds += time.perf_counter() - t0
    rec = result.record
    record = {**asdict(rec), "params_reduction": rec.params_reduction, "flops_reduction": rec.flops_reduction,
              "channel_reduction": rec.channel_reduction}
    path = family.save(result.model.cpu(), ctx.out_dir / "weights" / "pruned.pt", stage="prune",
                       pruner=inputs["pruner"]["name"], level=float(inputs["level"]))
    return {"weights": ctx.rel(path), "record": record, "files": {"weights": ctx.rel(path)}}


def _finetune(ctx: _Ctx) -> dict[str, Any]:
    budget = ctx.stage.inputs["budget"]
    if int(budget["epochs"]) == 0:
        weights = ctx.upstream()["weights"]
        return {"weights": weights, "history": [], "epochs_run": 0, "files": {"weights": weights}}
    family = ctx.family()
    model, _ = ctx.load_upstream_model(family)
    res = ctx.train(model, family, budget, "finetune")
    res.pop("model")
    res["files"] = {"weights": res["weights"]}
    return res


def _metric_info(cls: Any) -> dict[str, Any]:
    return {"unit": getattr(cls, "unit", ""), "higher_is_better": bool(getattr(cls, "higher_is_better", True)),
            "kind": getattr(cls, "kind", "accuracy"), "fmt": getattr(cls, "fmt", ".3f"),
            "description": getattr(cls, "description", "")}


def _evaluate(ctx: _Ctx) -> dict[str, Any]:
    import torch

    from prunebench.contracts import EvalContext
    from prunebench.engine.config import EvalConfig
    from prunebench.engine.validator import validate

    inputs = ctx.stage.inputs
    family = ctx.family()
    model, weights = ctx.load_upstream_model(family)
    cfg = EvalConfig.model_validate(inputs["eval"])
    imgsz = int(cfg.imgsz or 640)
    t0 = time.perf_counter()
    val = validate(model, family, ctx.data_yaml, cfg, device=ctx.device, names=ctx.dep("data").get("names"))
    fused = family.fuse(model).eval()
    ectx = EvalContext(model=fused, family=family, imgsz=imgsz, device=ctx.device, detection=val.metrics,
                       checkpoint=weights, threads=torch.get_num_threads())
    metrics: dict[str, float | None] = {}
    info: dict[str, dict[str, Any]] = {}
    for ref in inputs["metrics"]:
        cls = ctx.cat.metrics.get(ref["name"])
        value = cls(ref["options"]).compute(ectx)
        info[ref["name"]] = _metric_info(cls)
        if isinstance(value, Mapping):
            for k, v in value.items():
                metrics[str(k)] = None if v is None else float(v)
        else:
            metrics[ref["name"]] = None if value is None else float(value)
    ctx.compute_seconds += time.perf_counter() - t0
    curves = getattr(val.metrics, "curves", None) or {}
    return {"weights": ctx.rel(weights), "metrics": metrics, "metric_info": info, "curves": curves,
            "files": {"weights": ctx.rel(weights)}}


_KINDS = {"data": _data, "train": _train, "sparsity": _sparsity, "prune": _prune, "finetune": _finetune,
          "evaluate": _evaluate}
