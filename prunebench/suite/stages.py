"""The stage functions: each a pure function of (stage, upstream results) that returns a :class:`StageResult`.

A stage writes its artifacts under ``run_dir/stages/<key>/`` (with ``stage.json``, a copy of its result)
and returns paths relative to the run folder, so the same function runs in the driver (``local``) or in
a Ray worker (``ray``) with the same outcome. Model objects never leave a stage: the next stage loads the
checkpoint its upstream result names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prunebench.engine.seed import seed_everything
from prunebench.speed.stage import run_speed_stage
from prunebench.suite.executors.base import StageObserver
from prunebench.suite.stage import (
    Artifact,
    StageResult,
    file_sha256,
    jsonable,
    rel_path,
    resolve_path,
    write_stage_json,
)

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import ModelFamily
    from prunebench.suite.stage import Stage

__all__ = ["StageObserver", "StageRunner", "execute_stage", "jsonable", "rel_path", "resolve_path"]


class StageRunner:
    """``run_stage(stage, dep_results) -> StageResult`` as executors call it; picklable (the observer stays behind).

    ``cached`` holds the results of finished upstream stages that are not run again, so an executor only
    passes the results of the stages it ran itself. An executor that runs stages in other processes gives
    each its own observer (:meth:`with_observer`, e.g. a proxy that streams events to the driver) and
    its device (:meth:`with_device`); :attr:`observer` is the driver's.
    """

    def __init__(self, run_dir: Path, cached: Mapping[str, StageResult] | None = None,
                 observer: StageObserver | None = None, device: str | None = None) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.cached = dict(cached or {})
        self.observer = observer
        self.device = device  # overrides the spec's device (a Ray worker sees its GPU as cuda:0)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "observer": None}

    def with_device(self, device: str | None) -> StageRunner:
        return StageRunner(self.run_dir, self.cached, self.observer, device)

    def with_observer(self, observer: StageObserver | None) -> StageRunner:
        return StageRunner(self.run_dir, self.cached, observer, self.device)

    def __call__(self, stage: Stage, dep_results: Mapping[str, StageResult]) -> StageResult:
        deps = {k: self.cached[k] for k in stage.deps if k in self.cached}
        deps.update({k: v for k, v in dep_results.items() if k in stage.deps})
        missing = [k for k in stage.deps if k not in deps]
        if missing:
            raise RuntimeError(f"stage {stage.label} started without the results of {missing}")
        return execute_stage(stage, deps, self.run_dir, observer=self.observer, device=self.device)


def execute_stage(stage: Stage, deps: Mapping[str, StageResult], run_dir: Path, *,
                  observer: StageObserver | None = None, device: str | None = None) -> StageResult:
    """Run one stage: its function, then timings, artifact sizes and hashes, and ``stage.json``."""
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
        seed_everything(int(stage.inputs["seed"]))
    result = STAGE_FUNCTIONS[stage.kind](ctx)
    for art in result.artifacts.values():
        path = resolve_path(run_dir, art.path)
        art.size, art.sha256 = path.stat().st_size, file_sha256(path)
    result.started, result.finished = started, time.time()
    result.seconds, result.compute_seconds = result.finished - started, ctx.compute_seconds
    result = StageResult.from_dict(result.to_dict())  # plain JSON types from here on (arrays, NaN)
    write_stage_json(out_dir, stage, result)
    return result


class _Ctx:
    def __init__(self, stage: Stage, deps: Mapping[str, StageResult], run_dir: Path, out_dir: Path,
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

    def dep(self, kind: str) -> StageResult:
        for k in self.stage.deps:
            if k.startswith(kind + "-"):
                return self.deps[k]
        raise KeyError(f"stage {self.stage.label} has no {kind} dependency")

    def upstream(self) -> StageResult:
        """The result of the model-producing stage this one continues from."""
        return self.deps[self.stage.deps[-1]]

    @property
    def data_yaml(self) -> Path:
        return resolve_path(self.run_dir, self.dep("data").path("data_yaml"))

    def family(self) -> Any:
        m = self.stage.inputs["model"]
        return self.cat.models.get(m["name"])(m["options"])

    def load_upstream_model(self, family: Any) -> tuple[Any, Path]:
        path = resolve_path(self.run_dir, self.upstream().path("weights"))
        return family.load(path), path

    def artifact(self, path: str | Path) -> Artifact:
        """An artifact for ``path`` (size and hash are filled in when the stage finishes)."""
        return Artifact(rel_path(self.run_dir, path))

    def callbacks(self, after_backward: list[Any] | None = None) -> Any:
        from prunebench.engine.trainer import TrainCallbacks

        on_epoch_end: list[Callable[[int, Mapping[str, float]], None]] = []
        if self.observer is not None:
            observer, stage = self.observer, self.stage
            on_epoch_end.append(lambda epoch, row: observer.epoch_end(stage, epoch, dict(row)))
        return TrainCallbacks(after_backward=list(after_backward or []), on_epoch_end=on_epoch_end)

    def progress(self) -> Any:
        if self.observer is not None and self.observer.progress is not None:
            return self.observer.progress
        from rich.progress import Progress

        return Progress(disable=True)  # a worker must not draw its own bars

    def _images_per_epoch(self, cfg: Any) -> int:
        """Training images one epoch sees (the train split, capped by ``max_batches``)."""
        from prunebench.data.yolo import load_data_yaml

        n = len(load_data_yaml(self.data_yaml).split("train"))
        return n if cfg.max_batches is None else min(n, int(cfg.max_batches) * int(cfg.batch_size))

    def train(self, model: nn.Module, family: ModelFamily, budget: dict[str, Any], stage: str,
              after_backward: list[Any] | None = None) -> tuple[StageResult, nn.Module]:
        """Train ``model``; the stage's result and, separately, the trained model (it stays in-process)."""
        from prunebench.engine.config import TrainConfig
        from prunebench.engine.trainer import train

        # the key holds what decides the numbers; the loader's speed settings come unhashed (TrainConfig docs)
        cfg = TrainConfig.model_validate({**budget, **(self.stage.params.get("loader") or {})})
        t0 = time.perf_counter()
        res = train(model, family, self.data_yaml, cfg, self.out_dir, device=self.device,
                    seed=int(self.stage.inputs["seed"]), callbacks=self.callbacks(after_backward), resume=True,
                    progress=self.progress(), stage=stage, validate_first=stage == "finetune")
        self.compute_seconds += time.perf_counter() - t0
        best = Path(res.best_path) if res.best_path and Path(res.best_path).exists() else Path(res.last_path)
        result = StageResult(kind=self.stage.kind, artifacts={"weights": self.artifact(best)},
                             history=[res.initial] * (res.initial is not None) + list(res.history),
                             values={"last": rel_path(self.run_dir, res.last_path), "best_fitness": res.best_fitness,
                                     "epochs_run": res.epochs_run, "train_seconds": res.seconds,
                                     "images_seen": res.epochs_run * self._images_per_epoch(cfg)})
        return result, res.model


def _data(ctx: _Ctx) -> StageResult:
    from prunebench.data.yolo import load_data_yaml

    inputs = ctx.stage.inputs
    provider = ctx.cat.datasets.get(inputs["dataset"])(inputs["options"])
    t0 = time.perf_counter()
    data_yaml = provider.prepare(ctx.out_dir)  # generating or checking the data is the stage's own work
    ctx.compute_seconds += time.perf_counter() - t0
    info = load_data_yaml(data_yaml)
    return StageResult(kind="data", artifacts={"data_yaml": ctx.artifact(data_yaml)},
                       values={"nc": info.nc, "names": list(info.names)})


def _train(ctx: _Ctx) -> StageResult:
    family = ctx.family()
    weights = ctx.stage.params.get("weights")
    model = family.build(nc=int(ctx.dep("data").values["nc"]), weights=weights)
    budget = ctx.stage.inputs["budget"]
    if int(budget["epochs"]) == 0:
        path = family.save(model, ctx.out_dir / "weights" / "model.pt", stage="train", source=weights)
        return StageResult(kind="train", artifacts={"weights": ctx.artifact(path)}, values={"epochs_run": 0})
    result, _ = ctx.train(model, family, budget, "train")
    return result


def _pruner_diagnostics(pruner: Any, model: nn.Module, family: ModelFamily) -> dict[str, Any]:
    return {str(k): jsonable(v) for k, v in (pruner.diagnostics(model, family) or {}).items()}


def _sparsity(ctx: _Ctx) -> StageResult:
    family = ctx.family()
    model, _ = ctx.load_upstream_model(family)
    ref = ctx.stage.inputs["pruner"]
    pruner = ctx.cat.pruners.get(ref["name"])(ref["options"])
    before = _pruner_diagnostics(pruner, model, family)
    reg = pruner.regularizer(model, family=family)
    result, trained = ctx.train(model, family, ctx.stage.inputs["budget"], "sparsity",
                                [reg] if reg is not None else [])
    after = _pruner_diagnostics(pruner, trained, family)
    result.diagnostics = {name: {"before": before.get(name), "after": after.get(name)}
                          for name in dict.fromkeys([*before, *after])}
    return result


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


def _prune(ctx: _Ctx) -> StageResult:
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
                        seed=int(inputs["seed"]), device=ctx.device, imgsz=imgsz,
                        cache_dir=ctx.run_dir / "cache")
    model = model.to(ctx.device)
    t0 = time.perf_counter()
    result = pruner.prune(model, float(inputs["level"]), pctx)
    ctx.compute_seconds += time.perf_counter() - t0
    rec = result.record
    record = {**asdict(rec), "params_reduction": rec.params_reduction, "flops_reduction": rec.flops_reduction,
              "channel_reduction": rec.channel_reduction}
    path = family.save(result.model.cpu(), ctx.out_dir / "weights" / "pruned.pt", stage="prune",
                       pruner=inputs["pruner"]["name"], level=float(inputs["level"]))
    return StageResult(kind="prune", artifacts={"weights": ctx.artifact(path)}, record=record,
                       diagnostics={str(k): jsonable(v) for k, v in (result.diagnostics or {}).items()})


def _finetune(ctx: _Ctx) -> StageResult:
    budget = ctx.stage.inputs["budget"]
    if int(budget["epochs"]) == 0:
        return StageResult(kind="finetune", artifacts={"weights": Artifact(ctx.upstream().path("weights"))},
                           values={"epochs_run": 0})
    family = ctx.family()
    model, _ = ctx.load_upstream_model(family)
    result, _ = ctx.train(model, family, budget, "finetune")
    return result


def _metric_info(cls: Any) -> dict[str, Any]:
    return dict(cls.info())  # the metric class's own metadata (Metric.info), stored for the reports


def _evaluate(ctx: _Ctx) -> StageResult:
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
    val = validate(model, family, ctx.data_yaml, cfg, device=ctx.device, names=ctx.dep("data").values.get("names"))
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
    per_image, bootstrap = _image_bootstrap(ctx, val, cfg.bootstrap.resamples, cfg.bootstrap.seed)
    return StageResult(kind="evaluate", artifacts={"weights": ctx.artifact(weights), "per_image": per_image},
                       metrics=metrics, metric_info=info, curves=jsonable(curves),
                       diagnostics={} if bootstrap is None else {"bootstrap": bootstrap})


def _image_bootstrap(ctx: _Ctx, val: Any, resamples: int, seed: int) -> tuple[Artifact, dict[str, Any] | None]:
    """Per-image statistics (an .npz artifact) and the image bootstrap of P, R, F1 and mAP (a diagnostic;
    None with 0 resamples)."""
    from prunebench.stats.cell import bootstrap_diagnostic
    from prunebench.stats.images import ImageStats

    st = ImageStats.from_images(val.images, names=list(getattr(val.metrics, "curves", {}).get("names", [])))
    path = st.save(ctx.out_dir / "per_image.npz")
    return ctx.artifact(path), bootstrap_diagnostic(st, resamples, seed) if resamples else None


#: stage kind -> the function that computes it (each returns a :class:`StageResult`)
STAGE_FUNCTIONS: dict[str, Callable[[_Ctx], StageResult]] = {
    "data": _data, "train": _train, "sparsity": _sparsity, "prune": _prune, "finetune": _finetune,
    "evaluate": _evaluate,
    "speed": run_speed_stage,  # prunebench.speed.stage: baseline and variants timed interleaved
}
