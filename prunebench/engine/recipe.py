"""A model family's training recipe applied to a budget: optimizer (incl. Ultralytics' ``auto``), warm-up floor,
close-mosaic epochs and the fitness that picks best.pt."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import ModelFamily
    from prunebench.engine.config import TrainConfig

__all__ = ["Recipe", "resolve_recipe"]


@dataclass(frozen=True)
class Recipe:
    """What the trainer runs with once the spec's budget and the family's recipe are combined."""

    optimizer: str  #: SGD, Adam or AdamW
    lr0: float
    momentum: float  #: the optimizer's momentum (SGD) / beta1 (Adam, AdamW)
    warmup_momentum_to: float  #: what the warm-up ramps momentum to
    warmup_bias_lr: float
    warmup_betas: bool  #: also ramp Adam's beta1 during warm-up (Ultralytics only ramps SGD momentum)
    warmup_min_iters: int
    close_mosaic: int
    fitness: str  #: map50-weighted (0.1 mAP50 + 0.9 mAP50-95) or map50-95


def resolve_recipe(family: ModelFamily, cfg: TrainConfig, hyp: Mapping[str, float], *, nc: int,
                   images: int) -> Recipe:
    """Fill ``cfg``'s ``family`` / unset settings from ``family.train_recipe()`` and apply ``auto``.

    ``auto`` is Ultralytics 8.4's rule: with ``ceil(images / max(batch, 64)) * epochs`` iterations above
    10000, SGD at lr 0.01 (8.4 uses its MuSGD there), otherwise AdamW at ``round(0.01 / (4 + nc), 6)``; both
    with momentum 0.9 and ``warmup_bias_lr`` 0. The warm-up still ramps SGD momentum to ``hyp["momentum"]``.
    """
    fam: dict[str, Any] = {"optimizer": "SGD", "close_mosaic": 0, "warmup_min_iters": 100, "fitness": "map50-weighted",
                           "warmup_betas": True, **family.train_recipe()}
    name = fam["optimizer"] if cfg.optimizer == "family" else cfg.optimizer
    lr0, momentum, bias_lr = float(hyp["lr0"]), float(hyp["momentum"]), float(hyp["warmup_bias_lr"])
    if name == "auto":
        iterations = math.ceil(images / max(cfg.batch_size, 64)) * cfg.epochs
        name, lr0 = ("SGD", 0.01) if iterations > 10_000 else ("AdamW", round(0.01 / (4 + nc), 6))
        momentum, bias_lr = 0.9, 0.0
    return Recipe(
        optimizer=name, lr0=lr0, momentum=momentum, warmup_momentum_to=float(hyp["momentum"]),
        warmup_bias_lr=bias_lr, warmup_betas=bool(fam["warmup_betas"]),
        warmup_min_iters=int(fam["warmup_min_iters"] if cfg.warmup_min_iters is None else cfg.warmup_min_iters),
        close_mosaic=int(fam["close_mosaic"] if cfg.close_mosaic is None else cfg.close_mosaic),
        fitness=str(fam["fitness"] if cfg.fitness == "family" else cfg.fitness))
