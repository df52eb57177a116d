"""The NNI pruners: NNI 3.0 computes output-channel masks; prunebench's engine removes the channels."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from prunebench.contracts import PruneContext, Pruner, PruneRecord, PruneResult
from prunebench.errors import UsageError
from prunebench.pruning.options import PrunerOptions

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = [
    "PRUNERS",
    "NNIFPGMPruner",
    "NNIL1Pruner",
    "NNIL2Pruner",
    "NNIPruner",
    "NNISlimPruner",
    "NNITaylorPruner",
]


class _DataDrivenOptions(PrunerOptions):
    """Shared options plus the training NNI runs on the calibration batches before it scores channels."""

    training_steps: int = Field(
        20, ge=1, le=100_000,
        description="Optimizer steps NNI trains on context.calibration (cycled) before it scores the channels.",
    )
    training_epochs: int | None = Field(
        None, ge=1, le=1000,
        description="If set, train this many passes over context.calibration instead of training_steps "
        "(needs a calibration with a length, such as a list or a DataLoader).",
    )
    lr: float = Field(
        0.0, ge=0.0, le=1.0,
        description="SGD learning rate of the model's own weights during NNI's training (on a copy); 0 keeps "
        "them fixed so only NNI's statistics (Taylor gradients, Slim scale factors) change.",
    )


def _device_of(model: nn.Module) -> str:
    try:
        return str(next(model.parameters()).device)
    except StopIteration:  # pragma: no cover - nothing to prune
        return "cpu"


class NNIPruner(Pruner):
    """A pruner whose masks come from an NNI 3.0 pruner; channels go through prunebench's engine."""

    method: ClassVar[str] = ""
    Options = PrunerOptions  # type: ignore[assignment]
    options: PrunerOptions

    def _plan(self, context: PruneContext) -> Any:
        return None

    def prune(self, model: nn.Module, level: float, context: PruneContext) -> PruneResult:
        from prunebench.pruning import levels
        from prunebench.pruning.groups import build_groups
        from prunebench.pruning.removal import check_matched_target, prune_by_indices, start_prune

        opts = self.options
        setup = start_prune(model, level, context, opts, name=self.name)
        work, family, example, groups, channels = setup.model, setup.family, setup.example, setup.groups, setup.channels
        before, notes, round_to, round_min = setup.before, setup.notes, setup.round_to, setup.round_min
        plan = self._plan(context)

        # Step 0: NNI scores the unpruned model; the final per-group counts follow from them.
        masks = self._masks(work, groups.members, level, context, plan)
        final = self._final_counts(level, groups, channels, masks, before, round_to, round_min, notes)

        steps = opts.iterative_steps
        stats = {"groups": 0, "coupled_groups": 0, "channels_disagreed": 0, "votes_overridden": 0}
        step_records: list[PruneRecord] = []
        steps_run = 0
        ratios: list[float] = []
        ratio = level
        for step in range(1, steps + 1):
            if step > 1:
                groups = build_groups(work, family, opts.scope, example)
                current = {k: v.channels for k, v in groups.views.items()}
                planned = levels.interpolate_counts(channels, final, step, steps)
                goal = {k: min(current[k], n) for k, n in planned.items() if k in current}
                ratio = 1.0 - sum(goal.values()) / max(1, sum(current.values()))
                masks = self._masks(work, groups.members, max(0.0, ratio), context, plan)
            else:
                goal = levels.interpolate_counts(channels, final, step, steps)
            steps_run += masks.steps_run
            res = _resolve(groups.members, masks, goal)
            for key in ("channels_disagreed", "votes_overridden"):
                stats[key] += getattr(res, key)
            for key in ("groups", "coupled_groups"):  # the same groups at every step
                stats[key] = max(stats[key], getattr(res, key))
            ratios.append(round(float(level if step == 1 else ratio), 6))
            result = prune_by_indices(work, family, res.keep, example_inputs=example, scope=opts.scope,
                                      inplace=True)
            step_records.append(result.record)
        record = self._record(level, before, step_records, notes, final, masks, stats, steps_run, round_to)
        if steps > 1:
            record.extra["nni"]["step_sparse_ratios"] = ratios
        check_matched_target(record, level, opts)
        return PruneResult(model=work, record=record)

    # ----------------------------------------------------------------------------------------------

    def _masks(self, model: nn.Module, members: Mapping[str, list[str]], ratio: float, context: PruneContext,
               plan: Any) -> Any:
        from prunebench_nni._masks import compute_masks

        conv_names = [name for names in members.values() for name in names]
        ctx = copy.copy(context)
        ctx.device = _device_of(model)
        ctx.example_inputs = context.example_inputs.to(ctx.device)
        return compute_masks(model, conv_names, ratio, self.method, ctx, plan, what=self.name)

    def _final_counts(self, level: float, groups: Any, channels: dict[str, int], masks: Any, before: Any,
                      round_to: int | None, round_min: int, notes: list[str]) -> dict[str, int]:
        """Per-group kept channels from NNI's importance, read exactly as the bundled pruners read a level."""
        from prunebench.pruning.importance import normalise
        from prunebench.pruning.removal import plan_counts
        from prunebench_nni._resolve import combined_importance

        ranked = {key: normalise(combined_importance(names, masks.scores, channels[key]).float())
                  for key, names in groups.members.items()}
        return plan_counts(level, self.options, before=before, groups=groups, ranked=ranked, round_to=round_to,
                           round_min=round_min, notes=notes)

    def _record(self, level: float, before: Any, steps: list[PruneRecord], notes: list[str],
                final: dict[str, int], masks: Any, stats: dict[str, int], steps_run: int,
                round_to: int | None) -> PruneRecord:
        from prunebench_nni._nni import nni_version
        from prunebench_nni._resolve import RULE

        opts = self.options
        first, last = steps[0], steps[-1]
        removed: dict[str, int] = {}
        for rec in steps:
            for conv, n in rec.removed.items():
                removed[conv] = removed.get(conv, 0) + n
        for rec in steps:
            notes.extend(n for n in rec.notes if n not in notes)
        notes.append(
            f"NNI {masks.nni_class} masks, resolved per coupled group by the rule {RULE.split(':')[0]!r}: "
            f"{stats['channels_disagreed']} channel(s) disagreed inside {stats['coupled_groups']} coupled "
            f"group(s) and {stats['votes_overridden']} NNI keep/remove decision(s) were overridden"
            + (f" over {len(steps)} iterative steps" if len(steps) > 1 else ""))
        nni_info: dict[str, Any] = {
            "class": masks.nni_class,
            "version": nni_version(),
            "sparse_ratio": float(level),
            "rule": RULE,
            **stats,
        }
        if steps_run:
            nni_info["training_steps_run"] = steps_run
        extra: dict[str, Any] = {
            "criterion": f"nni-{self.method}",
            "round_to": round_to,
            "global_pruning": opts.global_pruning,
            "iterative_steps": opts.iterative_steps,
            "group_keep": dict(final),
            "gflops_imgsz": 640,
            "options": opts.model_dump(mode="json", by_alias=True),
            "nni": nni_info,
        }
        return PruneRecord(
            pruner=self.name, level=float(level), target=opts.target, scope=opts.scope,
            params_before=before.params, params_after=last.params_after,
            gflops_before=before.gflops, gflops_after=last.gflops_after,
            channels_before=first.channels_before, channels_after=last.channels_after,
            removed=removed, notes=notes, extra=extra,
        )


def _resolve(members: Mapping[str, list[str]], masks: Any, counts: Mapping[str, int]) -> Any:
    from prunebench_nni._resolve import resolve_groups

    return resolve_groups(members, masks.votes, masks.scores, counts)


class NNIL1Pruner(NNIPruner):
    name = "nni-l1"
    description = "NNI 3.0 L1NormPruner masks (filter L1 norm, Li et al. 2017); channels physically removed."
    method = "l1"


class NNIL2Pruner(NNIPruner):
    name = "nni-l2"
    description = "NNI 3.0 L2NormPruner masks (filter L2 norm); channels physically removed."
    method = "l2"


class NNIFPGMPruner(NNIPruner):
    name = "nni-fpgm"
    description = "NNI 3.0 FPGMPruner masks (geometric median, He et al. 2019); channels physically removed."
    method = "fpgm"


class _DataDrivenPruner(NNIPruner):
    Options = _DataDrivenOptions  # type: ignore[assignment]
    options: _DataDrivenOptions

    def _plan(self, context: PruneContext) -> Any:
        from prunebench_nni._masks import TrainingPlan

        opts = self.options
        steps = opts.training_steps
        if opts.training_epochs is not None:
            try:
                n = len(context.calibration)  # type: ignore[arg-type]
            except TypeError:
                raise UsageError(
                    f"{self.name}: training_epochs={opts.training_epochs} needs a calibration with a length, "
                    f"but got {type(context.calibration).__name__}.",
                    hint="Use training_steps instead, or pass a list or a DataLoader as calibration.") from None
            steps = max(1, opts.training_epochs * n)
        return TrainingPlan(steps=steps, lr=opts.lr, regular_scale=getattr(opts, "regular_scale", 1.0))


class NNITaylorPruner(_DataDrivenPruner):
    name = "nni-taylor"
    description = ("NNI 3.0 TaylorPruner masks: first-order Taylor importance (Molchanov et al. 2019) summed "
                   "over training steps on calibration batches; channels physically removed.")
    method = "taylor"


class _SlimOptions(_DataDrivenOptions):
    regular_scale: float = Field(
        1.0, ge=0.0, le=1000.0,
        description="NNI's L1 penalty weight on its own per-channel scale factors (SlimPruner regular_scale).",
    )


class NNISlimPruner(_DataDrivenPruner):
    name = "nni-slim"
    description = ("NNI 3.0 SlimPruner masks: NNI learns its own per-channel scale factors with an L1 penalty "
                   "during a short training (not prunebench's bn-scale on BatchNorm gammas).")
    method = "slim"
    Options = _SlimOptions  # type: ignore[assignment]
    options: _SlimOptions


PRUNERS: tuple[type[NNIPruner], ...] = (NNIL1Pruner, NNIL2Pruner, NNIFPGMPruner, NNISlimPruner, NNITaylorPruner)
