"""Network slimming helpers: the L1 sparsity regulariser on BatchNorm gammas and gamma read-outs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from prunebench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.contracts import ModelFamily

__all__ = ["SparsityRegularizer", "bn_gammas", "bns_in_scope"]


def _bn_of(model: nn.Module, conv_name: str) -> nn.Module | None:
    """The BatchNorm that follows a conv: its sibling ``bn`` (YOLOv5's Conv block: conv, bn, act)."""
    parent_name, _, _ = conv_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    bn = getattr(parent, "bn", None)
    return bn if isinstance(bn, nn.modules.batchnorm._BatchNorm) else None


def bns_in_scope(model: nn.Module, scope: str | None = None, family: ModelFamily | None = None) -> list[nn.Module]:
    """BatchNorms after the prunable convs of ``scope`` (every BatchNorm when ``scope`` is None)."""
    if scope is None:
        return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if family is None:
        raise UsageError(f"bn_gammas(scope={scope!r}) needs the model family to know the scope's layers.",
                         hint="Pass family=prunebench.get_model_family(name), or scope=None for every BN.")
    names = {m: n for n, m in model.named_modules()}
    out: list[nn.Module] = []
    for conv in family.prunable_layers(model, scope):  # type: ignore[arg-type]
        bn = _bn_of(model, names[conv])
        if bn is not None and bn not in out:
            out.append(bn)
    return out


def bn_gammas(model: nn.Module, scope: str | None = None, family: ModelFamily | None = None) -> np.ndarray:
    """The BatchNorm scale factors (gamma, signed) of ``scope`` as one float64 array, in module order.

    Store it before and after sparsity training to plot how the L1 penalty drives gammas to zero.
    """
    bns = bns_in_scope(model, scope, family)
    if not bns:
        return np.zeros(0, dtype=np.float64)
    return torch.cat([bn.weight.detach().flatten().double().cpu() for bn in bns]).numpy()


class SparsityRegularizer:
    """After ``backward()``: adds ``strength * sign(gamma)`` to every chosen BatchNorm's gamma gradient.

    That is the subgradient of ``strength * sum(|gamma|)`` (Liu et al. 2017). Call it after the
    gradients are unscaled (AMP) and before the optimiser step. The object pickles (Ray workers).
    """

    def __init__(self, model: nn.Module, strength: float, scope: str | None = None,
                 family: ModelFamily | None = None) -> None:
        self.strength = float(strength)
        self.scope = scope
        self.family = family
        self._model_id = id(model)
        self._bns = bns_in_scope(model, scope, family)

    def __call__(self, model: nn.Module) -> None:
        bns = self._bns if id(model) == self._model_id else bns_in_scope(model, self.scope, self.family)
        for bn in bns:
            w = bn.weight
            if w.grad is None:
                w.grad = torch.zeros_like(w)
            w.grad.add_(torch.sign(w.detach()), alpha=self.strength)

    @property
    def n_layers(self) -> int:
        return len(self._bns)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_bns"] = []
        state["_model_id"] = None
        return state
