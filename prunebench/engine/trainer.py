"""The training loop (baseline, sparsity training, fine-tuning) as YOLOv5's train.py runs it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from prunebench.engine.checkpoint import load_state, save_model, save_state, write_results_csv
from prunebench.engine.config import EvalConfig, TrainConfig
from prunebench.engine.ema import ModelEMA
from prunebench.engine.optim import build_optimizer, lr_lambda, warmup
from prunebench.engine.recipe import resolve_recipe
from prunebench.engine.seed import seed_everything
from prunebench.engine.validator import resolve_device, validate
from prunebench.errors import PrunebenchError, UsageError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from rich.progress import Progress

    from prunebench.contracts import ModelFamily

__all__ = ["RESULTS_COLUMNS", "TrainCallbacks", "TrainResult", "TrainingDiverged", "results_columns", "seed_everything",
           "train"]


def results_columns(loss_names: tuple[str, ...] | list[str] = ("box", "obj", "cls")) -> tuple[str, ...]:
    """results.csv columns, in order, for a family whose loss parts are ``loss_names`` (YOLOv5's layout)."""
    return ("epoch", *(f"train/{n}_loss" for n in loss_names), "metrics/precision", "metrics/recall",
            "metrics/mAP_0.5", "metrics/mAP_0.5:0.95", *(f"val/{n}_loss" for n in loss_names),
            "x/lr0", "x/lr1", "x/lr2")


#: YOLOv5's results.csv columns, in order (a family's own: :func:`results_columns` of its ``loss_names``)
RESULTS_COLUMNS: tuple[str, ...] = results_columns(("box", "obj", "cls"))

_STATE_VERSION = 1


class TrainingDiverged(PrunebenchError):
    """The loss became NaN or infinite; the message names the stage, epoch and batch."""


@dataclass
class TrainCallbacks:
    """Hooks into the loop: ``after_backward(model)`` after every ``backward()`` (gradients are in
    unscaled units even under AMP), and ``on_epoch_end(epoch, row)`` with the results.csv row."""

    after_backward: list[Callable[[nn.Module], None]] = field(default_factory=list)
    on_epoch_end: list[Callable[[int, dict[str, float]], None]] = field(default_factory=list)


@dataclass
class TrainResult:
    """The best EMA model (eval mode), checkpoint paths, per-epoch history and timing."""

    model: nn.Module
    best_path: Path
    last_path: Path
    history: list[dict[str, float]]
    best_fitness: float
    epochs_run: int
    seconds: float
    #: with ``validate_first``: the validation of the model as it came in (``epoch`` -1, losses NaN)
    initial: dict[str, float] | None = None


def _merge_hyp(family: ModelFamily, cfg: TrainConfig) -> dict[str, float]:
    hyp = dict(family.default_hyp())
    unknown = [k for k in cfg.hyp if k not in hyp]
    if unknown:
        k = unknown[0]
        raise UsageError(f"train.hyp: unknown hyper-parameter {k!r}.{did_you_mean(k, hyp)}",
                         hint="Allowed: " + ", ".join(sorted(hyp)))
    hyp.update({k: float(v) for k, v in cfg.hyp.items()})
    return hyp


def _config_key(cfg: TrainConfig, seed: int, stage: str) -> str:
    return json.dumps({"cfg": cfg.result_dump(), "seed": seed, "stage": stage}, sort_keys=True)


@contextmanager
def _own_progress(progress: Progress | None) -> Iterator[tuple[Progress, bool]]:
    if progress is not None:
        yield progress, False
        return
    from prunebench.progress import new_progress

    own = new_progress()
    with own:
        yield own, True


def _run_after_backward(hooks: list[Callable[[nn.Module], None]], model: nn.Module, scale: float) -> None:
    """Call the regularisers with gradients in true units (divide out the AMP loss scale around them)."""
    if scale != 1.0:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        torch._foreach_div_(grads, scale)
    for hook in hooks:
        hook(model)
    if scale != 1.0:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        torch._foreach_mul_(grads, scale)


def _check_nc(model: nn.Module, nc: int, data_yaml: Path) -> None:
    model_nc = getattr(model, "nc", None)
    if isinstance(model_nc, int) and model_nc != nc:
        raise UsageError(f"The model predicts {model_nc} classes but {data_yaml} has nc={nc}.",
                         hint=f"Build the model with nc={nc} (e.g. prunebench.create_model(name, nc={nc})).")


def _nan_row(epoch: int, mloss: torch.Tensor, lrs: list[float], loss_names: tuple[str, ...]) -> dict[str, float]:
    row = {c: float("nan") for c in results_columns(loss_names)}
    row["epoch"] = float(epoch)
    for n, v in zip(loss_names, mloss, strict=True):
        row[f"train/{n}_loss"] = float(v)
    for j, lr in enumerate(lrs[:3]):
        row[f"x/lr{j}"] = float(lr)
    return row


def _add_val(row: dict[str, float], val: Any, loss_names: tuple[str, ...]) -> None:
    """Write a validation's metrics (and losses, when computed) into a results.csv row."""
    m = val.metrics
    row.update({"metrics/precision": m.precision, "metrics/recall": m.recall,
                "metrics/mAP_0.5": m.map50, "metrics/mAP_0.5:0.95": m.map50_95})
    if val.loss is not None:
        for n, v in zip(loss_names, val.loss, strict=True):
            row[f"val/{n}_loss"] = float(v)


def train(model: nn.Module, family: ModelFamily, data_yaml: Path, cfg: TrainConfig, out_dir: Path, *,
          device: str = "cpu", seed: int = 0, callbacks: TrainCallbacks | None = None, resume: bool = True,
          progress: Progress | None = None, stage: str = "train", validate_first: bool = False) -> TrainResult:
    """Train ``model`` on ``data_yaml`` for ``cfg.epochs`` and return the best EMA model.

    Writes ``out_dir/results.csv`` and ``out_dir/weights/{last,best}.pt`` (``family.save`` checkpoints of
    the EMA weights) plus ``weights/last_state.pt`` (model, EMA, optimizer and scaler state, epoch,
    history; plain tensors) after every epoch, each atomically. With ``resume`` a run continues after the
    epoch recorded in ``last_state.pt`` when it was written with the same config, seed and stage; a
    finished run returns at once. The model keeps its architecture (a pruned model trains as it is).
    With ``validate_first`` the model is validated once before the first epoch (a pruned model before
    fine-tuning: the start of its recovery curve); that row (``epoch`` -1) is ``TrainResult.initial``, kept
    in ``last_state.pt`` and not part of ``history``, results.csv, the best model or early stopping.
    """
    t0 = time.perf_counter()
    from prunebench.data.check import check_split
    from prunebench.data.loader import create_dataloader, set_epoch
    from prunebench.data.yolo import load_data_yaml

    callbacks = callbacks or TrainCallbacks()
    out_dir = Path(out_dir)
    wdir = out_dir / "weights"
    wdir.mkdir(parents=True, exist_ok=True)
    last_path, best_path, state_path = wdir / "last.pt", wdir / "best.pt", wdir / "last_state.pt"
    dev = resolve_device(device)
    seed_everything(seed)
    hyp = _merge_hyp(family, cfg)
    info = load_data_yaml(data_yaml)
    _check_nc(model, info.nc, Path(data_yaml))
    stride = int(getattr(family, "stride", 32))
    train_index = check_split(info, "train")
    val_index = check_split(info, "val", require_labels=False)
    from rich.console import Console

    console = progress.console if progress is not None else Console(stderr=True)
    io = {"workers": cfg.workers, "cache": cfg.cache, "stride": stride, "prefetch": cfg.prefetch,
          "pin_memory": cfg.pin_memory and dev.type == "cuda", "persistent": cfg.persistent_workers,
          "log": lambda msg: console.print(msg, markup=False, highlight=False)}
    train_loader = create_dataloader(info, "train", cfg.imgsz, cfg.batch_size, augment=True, hyp=hyp, seed=seed,
                                     index=train_index, **io)
    val_loader = create_dataloader(info, "val", cfg.imgsz, cfg.batch_size * 2, augment=False, rect=True, pad=0.5,
                                   index=val_index, **io)
    nb = len(train_loader) if cfg.max_batches is None else min(len(train_loader), cfg.max_batches)
    key = _config_key(cfg, seed, stage)

    state: dict[str, Any] | None = None
    if resume and state_path.is_file() and last_path.is_file():
        loaded = load_state(state_path)
        if loaded.get("version") == _STATE_VERSION and loaded.get("key") == key:
            state = loaded
            model = family.load(last_path)  # the architecture of the run being resumed (pruned or not)
            model.load_state_dict(state["model"])
    model = model.to(dev).float()
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    if cfg.channels_last:
        model = model.to(memory_format=memory_format)
    model.train()

    accumulate = max(round(cfg.nbs / cfg.batch_size), 1)
    weight_decay = hyp["weight_decay"] * cfg.batch_size * accumulate / cfg.nbs
    recipe = resolve_recipe(family, cfg, hyp, nc=info.nc, images=len(train_loader.dataset))
    optimizer = build_optimizer(model, recipe.optimizer, recipe.lr0, recipe.momentum, weight_decay)
    lf = lr_lambda(cfg.epochs, hyp["lrf"], cfg.cos_lr)
    ema = ModelEMA(model)
    amp = bool(cfg.amp and dev.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    history: list[dict[str, float]] = []
    start_epoch, best_fitness, best_epoch, last_opt_step = 0, 0.0, -1, -1
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        ema.load_state_dict(state["ema"])
        if amp and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start_epoch = int(state["epoch"]) + 1
        best_fitness, best_epoch = float(state["best_fitness"]), int(state["best_epoch"])
        last_opt_step = int(state["last_opt_step"])
        history = [dict(r) for r in state["history"]]
        accumulate = int(state.get("accumulate", accumulate))
    loss_fn = family.loss(model, {**hyp, "imgsz": cfg.imgsz})
    loss_names = tuple(family.loss_names)
    total_iters = nb * cfg.epochs
    nw = 0 if cfg.warmup_epochs <= 0 else min(max(round(cfg.warmup_epochs * nb), recipe.warmup_min_iters),
                                               total_iters // 2)
    eval_cfg = EvalConfig(imgsz=cfg.imgsz, batch_size=cfg.batch_size * 2)
    stopped = bool(state is not None and state.get("finished"))  # finished (or stopped by patience) before
    initial: dict[str, float] | None = dict(state["initial"]) if state is not None and state.get("initial") else None
    if validate_first and state is None:  # a fresh start: the model is still the one that came in
        initial = _nan_row(-1, torch.full((len(loss_names),), float("nan")), [], loss_names)
        val = validate(ema.ema, family, None, eval_cfg, device=str(dev), names=info.names, loss_fn=loss_fn,
                       dataloader=val_loader)
        _add_val(initial, val, loss_names)

    with _own_progress(progress) as (prog, own):
        task = None if own else prog.add_task(f"{stage}", total=nb)
        for epoch in range(start_epoch, cfg.epochs):
            if stopped:
                break
            model.train()
            set_epoch(train_loader, epoch, mosaic=hyp.get("mosaic", 0) > 0 and not (
                recipe.close_mosaic and epoch >= cfg.epochs - recipe.close_mosaic))
            for g in optimizer.param_groups:
                g["lr"] = g["initial_lr"] * lf(epoch)
            desc = f"{stage} {epoch + 1}/{cfg.epochs}"
            if own:
                task = prog.add_task(desc, total=nb)
            else:
                prog.reset(task, total=nb, description=desc)
            mloss = torch.zeros(len(loss_names))
            optimizer.zero_grad(set_to_none=True)
            for i, (imgs, targets, _, _) in enumerate(train_loader):
                if i >= nb:
                    break
                ni = i + nb * epoch
                if nw and ni <= nw:
                    accumulate = warmup(optimizer, ni, nw, lf(epoch), warmup_bias_lr=recipe.warmup_bias_lr,
                                        warmup_momentum=hyp["warmup_momentum"], momentum=recipe.warmup_momentum_to,
                                        nbs=cfg.nbs, batch_size=cfg.batch_size, betas=recipe.warmup_betas)
                imgs = imgs.to(dev, non_blocking=True).float().div_(255)  # uint8 over the bus, float on the device
                if cfg.channels_last:
                    imgs = imgs.contiguous(memory_format=memory_format)
                with torch.autocast("cuda", enabled=amp) if amp else _null():
                    pred = model(imgs)
                    loss, items = loss_fn(pred, targets.to(dev, non_blocking=True))
                if not torch.isfinite(loss).all():
                    parts = ", ".join(f"{n}={float(v):.4g}" for n, v in zip(loss_names, items, strict=False))
                    raise TrainingDiverged(
                        f"Training diverged ({stage}): the loss became {float(loss.detach().sum())} at epoch "
                        f"{epoch + 1}/{cfg.epochs}, batch {i + 1}/{nb} ({parts}).",
                        hint="Lower the learning rate (train.hyp.lr0), check the labels with "
                             f"`prunebench data check {data_yaml}`, or set amp: false.")
                scaler.scale(loss).backward()
                if callbacks.after_backward:
                    _run_after_backward(callbacks.after_backward, model, float(scaler.get_scale()) if amp else 1.0)
                if ni - last_opt_step >= accumulate or i + 1 == nb:  # no accumulation across epochs
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                    ema.update(model)
                    last_opt_step = ni
                mloss = (mloss * i + items.detach().float().cpu()) / (i + 1)
                parts = " ".join(f"{n} {float(v):.4f}" for n, v in zip(loss_names, mloss, strict=True))
                prog.update(task, advance=1, description=f"{desc} {parts} inst {targets.shape[0]}")
            lrs = [float(g["lr"]) for g in optimizer.param_groups]
            final = epoch + 1 == cfg.epochs
            row = _nan_row(epoch, mloss, lrs, loss_names)
            fitness = None
            if final or (epoch + 1) % cfg.val_every == 0:
                val = validate(ema.ema, family, None, eval_cfg, device=str(dev), names=info.names, loss_fn=loss_fn,
                               dataloader=val_loader)
                m = val.metrics
                _add_val(row, val, loss_names)
                fitness = float(m.fitness) if recipe.fitness == "map50-weighted" else float(m.map50_95)
                if own:
                    prog.console.print(f"{desc}: P {m.precision:.3f} R {m.recall:.3f} mAP50 {m.map50:.3f} "
                                       f"mAP50-95 {m.map50_95:.3f} ({val.seconds:.1f} s val)")
            history.append(row)
            meta = {"epoch": epoch, "stage": stage, "fitness": fitness, "best_fitness": best_fitness}
            if fitness is not None and fitness >= best_fitness:
                best_fitness, best_epoch = fitness, epoch
                meta["best_fitness"] = best_fitness
                save_model(family, ema.ema, best_path, **meta)
            save_model(family, ema.ema, last_path, **meta)
            if cfg.patience and fitness is not None and epoch - best_epoch >= cfg.patience:
                stopped = True
            save_state({
                "version": _STATE_VERSION, "key": key, "epoch": epoch, "finished": final or stopped,
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if amp else {}, "best_fitness": best_fitness,
                "best_epoch": best_epoch, "last_opt_step": last_opt_step, "accumulate": accumulate,
                "history": history, "initial": initial,
            }, state_path)
            write_results_csv(history, out_dir / "results.csv", results_columns(loss_names))
            for cb in callbacks.on_epoch_end:
                cb(epoch, dict(row))
        if not own and task is not None:
            prog.remove_task(task)
    if not best_path.is_file():
        save_model(family, ema.ema, best_path, epoch=start_epoch - 1, stage=stage)
    if not last_path.is_file():
        save_model(family, ema.ema, last_path, epoch=start_epoch - 1, stage=stage)
    best = family.load(best_path).to(dev).eval()
    epochs_run = len(history)
    return TrainResult(model=best, best_path=best_path, last_path=last_path, history=history,
                       best_fitness=float(best_fitness), epochs_run=epochs_run, seconds=time.perf_counter() - t0,
                       initial=initial)


@contextmanager
def _null() -> Iterator[None]:
    yield
