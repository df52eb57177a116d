"""YOLOv5's optimizer set-up: three parameter groups, learning-rate schedules and the warm-up ramp."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["build_optimizer", "lr_lambda", "warmup"]


def build_optimizer(model: nn.Module, name: str = "SGD", lr: float = 0.01, momentum: float = 0.937,
                    decay: float = 5e-4) -> torch.optim.Optimizer:
    """Group 0: biases (no decay), group 1: weights (``decay``), group 2: normalisation weights (no decay).

    The order matches YOLOv5, whose results.csv calls the groups' learning rates x/lr0, x/lr1, x/lr2.
    """
    biases: list[nn.Parameter] = []
    weights: list[nn.Parameter] = []
    norm_weights: list[nn.Parameter] = []
    seen: set[int] = set()
    for module in model.modules():
        is_norm = isinstance(module, nn.modules.batchnorm._NormBase | nn.LayerNorm | nn.GroupNorm) \
            or "Norm" in type(module).__name__
        for pname, p in module.named_parameters(recurse=False):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            if pname == "bias":
                biases.append(p)
            elif is_norm:
                norm_weights.append(p)
            else:
                weights.append(p)
    if name == "SGD":
        opt: torch.optim.Optimizer = torch.optim.SGD(biases, lr=lr, momentum=momentum, nesterov=True)
    elif name == "Adam":
        opt = torch.optim.Adam(biases, lr=lr, betas=(momentum, 0.999))
    elif name == "AdamW":
        opt = torch.optim.AdamW(biases, lr=lr, betas=(momentum, 0.999), weight_decay=0.0)
    else:
        raise ValueError(f"Expected `optimizer` to be one of SGD, Adam, AdamW but got {name!r}.")
    opt.add_param_group({"params": weights, "weight_decay": decay})
    opt.add_param_group({"params": norm_weights, "weight_decay": 0.0})
    for g in opt.param_groups:
        g["initial_lr"] = lr
    return opt


def lr_lambda(epochs: int, lrf: float, cos: bool = False) -> Callable[[float], float]:
    """The learning-rate factor per epoch: linear from 1 to ``lrf``, or a cosine over ``epochs``."""
    epochs = max(int(epochs), 1)
    if cos:
        return lambda x: ((1 - math.cos(x * math.pi / epochs)) / 2) * (lrf - 1) + 1
    return lambda x: (1 - x / epochs) * (1.0 - lrf) + lrf


def warmup(optimizer: torch.optim.Optimizer, ni: int, nw: int, lr_factor: float, *, warmup_bias_lr: float,
           warmup_momentum: float, momentum: float, nbs: int, batch_size: int, betas: bool = True) -> int:
    """Apply the warm-up ramp for iteration ``ni`` of ``nw``; return the accumulation count to use.

    Bias lr falls from ``warmup_bias_lr`` to the scheduled lr, other groups rise from 0; momentum rises
    from ``warmup_momentum`` to ``momentum`` (Adam's beta1 too unless ``betas`` is false); accumulation rises
    from 1 to ``nbs / batch_size``.
    """
    xi = [0, nw]
    accumulate = max(1, int(np.interp(ni, xi, [1, nbs / batch_size]).round()))
    for j, g in enumerate(optimizer.param_groups):
        g["lr"] = float(np.interp(ni, xi, [warmup_bias_lr if j == 0 else 0.0, g["initial_lr"] * lr_factor]))
        if "momentum" in g:
            g["momentum"] = float(np.interp(ni, xi, [warmup_momentum, momentum]))
        elif "betas" in g and betas:
            g["betas"] = (float(np.interp(ni, xi, [warmup_momentum, momentum])), g["betas"][1])
    return accumulate
