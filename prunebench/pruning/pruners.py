"""The bundled pruners: one class per importance criterion, all removing channels through `removal.prune_model`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict, Field

from prunebench.contracts import PruneContext, Pruner, PruneResult
from prunebench.pruning.options import PrunerOptions

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import ModelFamily

__all__ = [
    "BNScalePruner",
    "CriterionPruner",
    "FPGMPruner",
    "L1Pruner",
    "L2Pruner",
    "LAMPPruner",
    "RandomPruner",
    "TaylorPruner",
]


class CriterionPruner(Pruner):
    """A pruner defined by its importance criterion; everything else is ``removal.prune_model``.

    ``criterion`` is a bundled criterion's name (``l1``, ``l2``, ``random``, ``lamp``, ``fpgm``,
    ``taylor``, ``bn-scale``) or, for a third-party pruner, ``staticmethod(fn)`` with
    ``fn(group, generator=None) -> Tensor`` scoring each output channel of a coupled group (higher =
    keep; ``group.channels``, ``group.convs_out``, ``group.bns`` describe it).
    """

    criterion: ClassVar[Any] = ""
    Options = PrunerOptions  # type: ignore[assignment]
    options: PrunerOptions

    def prune(self, model: nn.Module, level: float, context: PruneContext) -> PruneResult:
        from prunebench.pruning.removal import prune_model  # torch is imported only when pruning

        return prune_model(model, level, context, self.options, criterion=self.criterion, name=self.name)


class L1Pruner(CriterionPruner):
    name = "l1"
    description = "L1-norm magnitude of each filter (Li et al. 2017); channels physically removed."
    criterion = "l1"


class L2Pruner(CriterionPruner):
    name = "l2"
    description = "L2-norm magnitude of each filter; channels physically removed."
    criterion = "l2"


class RandomPruner(CriterionPruner):
    name = "random"
    description = "Random channels (seeded by the cell's seed): the baseline every criterion must beat."
    criterion = "random"


class LAMPPruner(CriterionPruner):
    name = "lamp"
    description = "LAMP scores (Lee et al. 2021): magnitudes normalised within each layer, made for global ranking."
    criterion = "lamp"


class FPGMPruner(CriterionPruner):
    name = "fpgm"
    description = "Filter pruning via geometric median (He et al. 2019): removes the most replaceable filters."
    criterion = "fpgm"


class TaylorPruner(CriterionPruner):
    name = "taylor"
    description = ("First-order Taylor importance (Molchanov et al. 2019) from gradients on calibration "
                   "batches; needs calibration data and the loss.")
    criterion = "taylor"

    class Options(PrunerOptions):
        batches: int = Field(4, ge=1, le=1000, description="Calibration batches whose gradients are summed.")

    options: Options  # type: ignore[assignment]

    def prune(self, model: nn.Module, level: float, context: PruneContext) -> PruneResult:
        from prunebench.pruning.removal import prune_model

        return prune_model(model, level, context, self.options, criterion=self.criterion, name=self.name,
                           taylor_batches=self.options.batches)


class BNScalePruner(CriterionPruner):
    name = "bn-scale"
    description = ("Network slimming (Liu et al. 2017): L1 sparsity training on BatchNorm gammas, then "
                   "channels with the smallest |gamma| removed.")
    criterion = "bn-scale"
    needs_sparsity_training: ClassVar[bool] = True

    class Options(PrunerOptions):
        model_config = ConfigDict(populate_by_name=True)

        strength: float = Field(
            1e-4, alias="lambda", ge=0.0, le=1.0,
            description="lambda, the L1 penalty on BatchNorm gammas during sparsity training (Liu et al. "
                        "2017 used 1e-4 to 1e-5).")
        sparsity_epochs: int = Field(10, ge=0, le=1000, description="Epochs of sparsity training before pruning.")

    options: Options  # type: ignore[assignment]

    def sparsity_epochs(self) -> int:
        return int(self.options.sparsity_epochs)

    def regularizer(self, model: nn.Module, family: ModelFamily | None = None
                    ) -> Callable[[nn.Module], None] | None:
        """The after-backward callback: gamma.grad += lambda * sign(gamma) for the BNs of the scope.

        With ``family`` the penalty covers the scope's BatchNorms only; without it, every BatchNorm
        (the original method).
        """
        from prunebench.pruning.bnscale import SparsityRegularizer

        if self.options.strength == 0.0:
            return None
        scope = self.options.scope if family is not None else None
        return SparsityRegularizer(model, self.options.strength, scope, family)

    def diagnostics(self, model: nn.Module, family: ModelFamily) -> dict[str, Any]:
        """``bn_gamma``: the BatchNorm γ (signed) of the pruner's scope, before and after sparsity training."""
        from prunebench.pruning.bnscale import bn_gammas

        return {"bn_gamma": bn_gammas(model, self.options.scope, family)}


BUNDLED: tuple[type[CriterionPruner], ...] = (
    L1Pruner, L2Pruner, RandomPruner, LAMPPruner, FPGMPruner, TaylorPruner, BNScalePruner,
)
