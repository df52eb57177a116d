"""Exponential moving average of model weights (YOLOv5's ModelEMA: decay ramps up over the first updates)."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

__all__ = ["ModelEMA"]


class ModelEMA:
    """Keeps ``ema`` = a running average of a model's floating-point state.

    ``decay(updates) = decay * (1 - exp(-updates / tau))``, so early updates follow the model closely.
    Works for any module, including pruned ones (the EMA is a deep copy of the model it follows).
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999, tau: float = 2000.0, updates: int = 0) -> None:
        self.ema = copy.deepcopy(model).eval()
        self.updates = int(updates)
        self.decay_max = float(decay)
        self.tau = float(tau)
        for p in self.ema.parameters():
            p.requires_grad_(False)

    def decay(self) -> float:
        return self.decay_max * (1 - math.exp(-self.updates / self.tau))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Blend the model's current weights into the average (call after each optimizer step)."""
        self.updates += 1
        d = self.decay()
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach().to(v.dtype), alpha=1 - d)

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights and the update count (plain tensors: loadable with weights_only=True)."""
        return {"updates": self.updates,
                "weights": {k: v.detach().cpu().clone() for k, v in self.ema.state_dict().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        self.ema.load_state_dict(state["weights"])
