"""Structured pruning: level semantics, importance criteria and physical channel removal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prunebench.pruning.options import PrunerOptions
from prunebench.pruning.pruners import CriterionPruner

if TYPE_CHECKING:  # pragma: no cover
    from prunebench.pruning.bnscale import SparsityRegularizer, bn_gammas
    from prunebench.pruning.importance import GroupView
    from prunebench.pruning.removal import PruningWarning, coupled_groups, prune_by_indices, prune_model

__all__ = [
    "CriterionPruner",
    "GroupView",
    "PrunerOptions",
    "PruningWarning",
    "SparsityRegularizer",
    "bn_gammas",
    "coupled_groups",
    "prune_by_indices",
    "prune_model",
]

_LAZY = {
    "PruningWarning": "prunebench.pruning.removal",
    "coupled_groups": "prunebench.pruning.removal",
    "prune_by_indices": "prunebench.pruning.removal",
    "prune_model": "prunebench.pruning.removal",
    "SparsityRegularizer": "prunebench.pruning.bnscale",
    "bn_gammas": "prunebench.pruning.bnscale",
    "GroupView": "prunebench.pruning.importance",
}


def __getattr__(name: str) -> Any:  # torch and torch_pruning load on first use only
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'prunebench.pruning' has no attribute {name!r}")
