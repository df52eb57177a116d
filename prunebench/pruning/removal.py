"""Channel removal: score, plan and physically remove channels through the dependency graph."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from prunebench.contracts import ModelFamily, PruneContext, PruneRecord, PruneResult
from prunebench.errors import UsageError
from prunebench.pruning import levels
from prunebench.pruning.costs import CostModel, measure_costs
from prunebench.pruning.groups import ScopeGroups, build_groups, check_scope, prune_group
from prunebench.pruning.importance import CRITERIA, GLOBAL_RAW, Criterion, accumulate_taylor_grads, normalise
from prunebench.pruning.options import AUTO, PrunerOptions, resolve_round_to, round_min_channels

__all__ = ["PruneSetup", "PruningWarning", "check_matched_target", "coupled_groups", "plan_counts", "prune_by_indices",
           "prune_model", "start_prune"]


class PruningWarning(UserWarning):
    """Something about a prune the user should know (rounding raised GFLOPs, tied scores, ...)."""


def _warn(notes: list[str], message: str) -> None:
    notes.append(message)
    warnings.warn(message, PruningWarning, stacklevel=3)


def _device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover - a model without parameters cannot be pruned
        return torch.device("cpu")


def _probe(family: ModelFamily, example_inputs: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """A one-image input of the family's stride size: enough to trace couplings and count GFLOPs.

    Channel couplings do not depend on the spatial size, and YOLOv5 itself measures GFLOPs at a
    stride-sized input and scales them to 640 x 640. Device and dtype follow the model's parameters.
    """
    p = next(model.parameters())
    device, dtype = p.device, p.dtype
    side = max(int(getattr(family, "stride", 32) or 32), 1)
    return torch.zeros(1, int(example_inputs.shape[1]), side, side, device=device, dtype=dtype)


def coupled_groups(model: nn.Module, family: ModelFamily, scope: str,
                   example_inputs: torch.Tensor) -> list[list[str]]:
    """Names of the convs whose output channels are coupled, one list per prunable group of ``scope``.

    Every conv of a list must keep the same output channel indices (a residual sum or a shared
    BatchNorm ties them); a single-element list is an uncoupled conv. Lists are in module order.
    The model is not changed.
    """
    example = _probe(family, example_inputs, model)
    return [list(v) for v in build_groups(model, family, scope, example).members.values()]


def _predict(cost: CostModel, groups: ScopeGroups, channels: Mapping[str, int],
             counts: Mapping[str, int]) -> tuple[int, float]:
    removed_out: dict[str, float] = {}
    removed_in: dict[str, float] = {}
    for key, keep in counts.items():
        k = channels[key] - keep
        if k <= 0:
            continue
        for name in groups.members[key]:  # a partly tied conv loses its share of the removed channels
            removed_out[name] = removed_out.get(name, 0) + k * groups.shares.get(key, {}).get(name, 1.0)
        for name, per_channel in groups.inputs[key]:
            removed_in[name] = removed_in.get(name, 0) + k * per_channel
    return cost.predict(removed_out, removed_in)


def _record(name: str, level: float, target: str, scope: str, before: CostModel, after: CostModel,
            members: Mapping[str, list[str]], channels: Mapping[str, int], kept: Mapping[str, int],
            notes: list[str], extra: dict[str, Any]) -> PruneRecord:
    removed: dict[str, int] = {}
    ch_before = ch_after = 0
    for key, names in members.items():
        for conv in names:
            ch_before += channels[key]
            ch_after += kept[key]
            if channels[key] > kept[key]:
                removed[conv] = channels[key] - kept[key]
    return PruneRecord(pruner=name, level=float(level), target=target, scope=scope,
                       params_before=before.params, params_after=after.params,
                       gflops_before=before.gflops, gflops_after=after.gflops,
                       channels_before=ch_before, channels_after=ch_after, removed=removed,
                       notes=notes, extra=extra)


# --------------------------------------------------------------------------------------------------
# Pruning to given indices (used by the NNI plugin and by anyone with their own masks)
# --------------------------------------------------------------------------------------------------


def prune_by_indices(model: nn.Module, family: ModelFamily, keep: Mapping[str, Sequence[int]], *,
                     example_inputs: torch.Tensor, scope: str = "all",
                     record_meta: Mapping[str, Any] | None = None, inplace: bool = False) -> PruneResult:
    """Keep exactly the given OUTPUT channel indices of the named convs; remove the rest physically.

    ``keep`` maps conv module names to the output channels to keep. Coupled convs (see
    :func:`coupled_groups`) must be given the same indices, or only one of them; convs not named keep
    everything. ``record_meta`` may set ``pruner``, ``level``, ``target`` and ``notes`` of the record;
    everything in it is also copied to ``record.extra``. The model is copied unless ``inplace``.
    """
    check_scope(scope)
    meta = dict(record_meta or {})
    model = model if inplace else copy.deepcopy(model)
    example = _probe(family, example_inputs, model)
    before = measure_costs(model, example)
    groups = build_groups(model, family, scope, example)
    owner = groups.group_of()
    chosen: dict[str, tuple[str, list[int]]] = {}
    for conv, idxs in keep.items():
        if conv not in owner:
            allowed = sorted(owner)
            raise UsageError(
                f"keep[{conv!r}]: {conv!r} is not a prunable conv of scope {scope!r}.",
                hint=f"Prunable convs ({len(allowed)}): {', '.join(allowed[:12])}"
                     f"{' ...' if len(allowed) > 12 else ''}. Use coupled_groups() to list them.")
        key = owner[conv]
        c = groups.views[key].channels
        clean = sorted({int(i) for i in idxs})
        if not clean:
            raise UsageError(f"keep[{conv!r}] is empty: a conv must keep at least one output channel.")
        if clean[0] < 0 or clean[-1] >= c:
            raise UsageError(f"keep[{conv!r}] holds index {clean[0] if clean[0] < 0 else clean[-1]}, "
                             f"but the conv has {c} output channels (allowed 0..{c - 1}).")
        if key in chosen and chosen[key][1] != clean:
            raise UsageError(
                f"keep[{conv!r}] and keep[{chosen[key][0]!r}] differ, but their output channels are coupled "
                f"(group {groups.members[key]}).",
                hint="Reconcile the masks of a coupled group first (union or intersection) and record the rule.")
        chosen[key] = (conv, clean)
    channels = {k: v.channels for k, v in groups.views.items()}
    kept = dict(channels)
    notes: list[str] = []
    for key, (conv, idxs) in chosen.items():
        fixed = groups.keep_parts(key, idxs, torch.zeros(channels[key]))
        if fixed != idxs:  # e.g. a mask that empties one half of a YOLOv8 C2f
            notes.append(f"keep[{conv!r}] left a part of group {key!r} without channels: kept "
                         f"{sorted(set(fixed) - set(idxs))} instead of {sorted(set(idxs) - set(fixed))}")
            idxs = fixed
        remove = sorted(set(range(channels[key])) - set(idxs))
        prune_group(groups, key, remove)
        kept[key] = len(idxs)
    after = measure_costs(model, example)
    record = _record(str(meta.get("pruner", "indices")), 0.0, str(meta.get("target", "channels")), scope,
                     before, after, groups.members, channels, kept,
                     list(groups.notes) + notes + [str(n) for n in meta.get("notes", [])],
                     {**meta, "group_keep": kept})
    record.level = float(meta.get("level", record.channel_reduction))
    return PruneResult(model=model, record=record)


# --------------------------------------------------------------------------------------------------
# Criterion-driven pruning (every bundled pruner)
# --------------------------------------------------------------------------------------------------


@dataclass
class _Scorer:
    criterion: str
    context: PruneContext
    taylor_batches: int
    batches: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    fn: Criterion | None = None

    def __post_init__(self) -> None:
        if self.criterion == "taylor":
            if self.context.calibration is None or self.context.loss_fn is None:
                missing = [n for n, v in (("calibration", self.context.calibration),
                                          ("loss_fn", self.context.loss_fn)) if v is None]
                raise UsageError(
                    f"The taylor pruner needs gradients, but the PruneContext has no {' and no '.join(missing)}.",
                    hint="Pass calibration batches of (images, targets) and the family's loss_fn "
                         "(family.loss(model, family.default_hyp())) in the PruneContext.")
            self.batches = []
            for i, batch in enumerate(self.context.calibration):
                if i >= self.taylor_batches:
                    break
                self.batches.append(batch)
            if not self.batches:
                raise UsageError("The taylor pruner got an empty calibration iterable.",
                                 hint="Give at least one (images, targets) batch.")

    def scores(self, model: nn.Module, groups: ScopeGroups, step: int) -> dict[str, torch.Tensor]:
        fn = self.fn or CRITERIA[self.criterion]
        gen = torch.Generator().manual_seed(int(self.context.seed) * 1000 + step)
        if self.criterion == "taylor" and self.batches is not None and self.context.loss_fn is not None:
            accumulate_taylor_grads(model, self.batches, self.context.loss_fn, len(self.batches),
                                    _device(model))
        out: dict[str, torch.Tensor] = {}
        for key, view in groups.views.items():
            score = torch.as_tensor(fn(view, gen)).detach().flatten().cpu()
            if score.numel() != view.channels:
                raise UsageError(f"Criterion {self.criterion!r} returned {score.numel()} scores for group {key!r}, "
                                 f"which has {view.channels} output channels.",
                                 hint="A criterion returns one score per output channel of the group.")
            out[key] = score
        if self.criterion == "taylor":
            model.zero_grad(set_to_none=True)
        return out


#: what a matched-cost target reduces, in an error message
_QUANTITY_WORDS = {"params": "fused parameters", "flops": "GFLOPs", "latency": "predicted latency"}


def _search(level: float, quantity: str, base: float, tolerance: float,
            counts_for: Callable[[float], dict[str, int]],
            cost_of: Callable[[Mapping[str, int]], tuple[int, float]],
            channels: Mapping[str, int], scope: str, notes: list[str]) -> dict[str, int]:
    """Bisection on the channel ratio, then group-by-group refinement, to hit ``level`` of ``quantity``."""

    def reduction(counts: Mapping[str, int]) -> float:
        params, gflops = cost_of(counts)
        return 1.0 - (params if quantity == "params" else gflops) / base

    most = counts_for(1.0)
    if reduction(most) < level - tolerance and quantity == "latency":
        # a latency level is a measured figure, known only once the table is built: prune as far as the scope
        # allows and say so (check_latency_target then measures what that achieved), rather than fail a run
        # that validate could not have refused without timing the model
        _warn(notes, f"target latency at level {level}: scope {scope!r} can remove at most {reduction(most):.1%} "
                     f"of the predicted latency (every group down to its guard); pruned that far. Lower the level "
                     f"or widen the scope ('backbone+neck' or 'all') to reach it.")
        return dict(most)
    if reduction(most) < level - tolerance:
        raise UsageError(
            f"target {quantity!r} at level {level}: scope {scope!r} can remove at most "
            f"{reduction(most):.1%} of the {_QUANTITY_WORDS.get(quantity, quantity)} "
            f"(every group down to its guard).",
            hint="Lower the level, widen the scope ('backbone+neck' or 'all') or raise max_level_per_layer.")
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if reduction(counts_for(mid)) < level:
            lo = mid
        else:
            hi = mid
    low, high = counts_for(lo), counts_for(hi)
    candidates = [dict(low), dict(high)]
    current = dict(low)
    differing = sorted((k for k in channels if high[k] < low[k]), key=lambda k: -channels[k])
    for key in differing:  # move one group at a time from the lower to the higher ratio
        current[key] = high[key]
        candidates.append(dict(current))
    best = min(candidates, key=lambda c: abs(reduction(c) - level))
    achieved = reduction(best)
    notes.append(f"matched {quantity}: channel ratio {hi:.4f} searched, predicted reduction {achieved:.4f} "
                 f"for level {level}")
    return best



def plan_counts(level: float, options: PrunerOptions, *, before: CostModel, groups: ScopeGroups,
                ranked: Mapping[str, torch.Tensor], round_to: int | None, round_min: int, notes: list[str],
                latency_table: Any = None) -> dict[str, int]:
    """Channels each group keeps at ``level`` under ``options``: rounding, ``round_to``, global ranking and
    the matched-cost search (``target: params|flops``). Shared by every pruner that ranks channels, so that
    they all read ``level`` the same way; warnings and notes are appended to ``notes``.
    """
    channels = {k: v.channels for k, v in groups.views.items()}

    def counts_for(ratio: float, rt: int | None = round_to) -> dict[str, int]:
        kw = {"rounding": options.rounding, "round_to": rt, "max_level_per_layer": options.max_level_per_layer,
              "round_min": round_min}
        if options.global_pruning:
            return levels.global_counts(ranked, ratio, **kw)  # type: ignore[arg-type]
        return levels.local_counts(channels, ratio, **kw)  # type: ignore[arg-type]

    def cost_of(counts: Mapping[str, int]) -> tuple[int, float]:
        return _predict(before, groups, channels, counts)

    if options.target == "latency":  # the search on a per-layer latency table (prunebench.speed.latency_table)
        if latency_table is None:
            raise UsageError("target: latency needs a latency table, and this pruner did not build one.",
                             hint="Use a bundled pruner (l1, l2, fpgm, taylor, bn-scale, random) for target: latency, "
                                  "or target: flops.")
        from prunebench.speed.latency_target import LatencyCost

        lat = LatencyCost(latency_table)
        return _search(level, "latency", latency_table.model_ms, options.tolerance, counts_for,
                       lambda counts: _predict(lat, groups, channels, counts), channels,  # type: ignore[arg-type]
                       options.scope, notes)
    if options.target != "channels":
        base = before.params if options.target == "params" else before.gflops
        return _search(level, options.target, base, options.tolerance, counts_for, cost_of, channels,
                       options.scope, notes)
    final = counts_for(level)
    if round_to:
        exact = counts_for(level, None)
        g_exact, g_round = cost_of(exact)[1], cost_of(final)[1]
        unpruned = [k for k in final if final[k] == channels[k] and exact[k] < channels[k]]
        if unpruned:
            notes.append(f"round_to={round_to} left {len(unpruned)} group(s) unpruned (too few channels "
                         f"to remove a whole multiple): {', '.join(unpruned)}")
        if g_round > g_exact:
            _warn(notes, f"round_to={round_to} raised GFLOPs from {g_exact:.3f} (exact counts) to "
                         f"{g_round:.3f} at level {level}")
    return final

@dataclass
class PruneSetup:
    """The shared start of a prune (:func:`start_prune`): what every pruner's removal loop works on."""

    model: nn.Module  #: the model being pruned (a copy unless ``inplace``)
    family: ModelFamily
    example: torch.Tensor  #: a one-image probe input on the model's device (couplings and GFLOPs)
    device: torch.device
    round_to: int | None  #: ``options.round_to`` resolved for the device
    round_min: int  #: groups under this many channels are not rounded
    before: CostModel  #: fused params and GFLOPs before pruning
    groups: ScopeGroups  #: the coupled groups of ``options.scope``
    channels: dict[str, int]  #: output channels per group before pruning
    notes: list[str]  #: the record's notes so far (the groups' own notes first)


def start_prune(model: nn.Module, level: float, context: PruneContext, options: PrunerOptions, *, name: str,
                inplace: bool = False) -> PruneSetup:
    """Check ``level``, copy the model, resolve rounding for its device, measure its costs and build the
    coupled groups of the scope (an error when the scope holds no prunable convolution).

    Every pruner starts here: the bundled ones in :func:`prune_model`, a plugin with its own masks (NNI)
    before handing kept channels to :func:`prune_by_indices`.
    """
    if not 0.0 <= level < 1.0:
        raise UsageError(f"Pruning level {level} is out of range for {name}.", hint="A level is a fraction in [0, 1).")
    family = context.family
    model = model if inplace else copy.deepcopy(model)
    device = _device(model)
    example = _probe(family, context.example_inputs, model)
    before = measure_costs(model, example)
    groups = build_groups(model, family, options.scope, example)
    if not groups.views:
        raise UsageError(f"{name}: no prunable convolution in scope {options.scope!r} of this model.",
                         hint="Choose another scope, or check the family's prunable_layers().")
    return PruneSetup(model=model, family=family, example=example, device=device,
                      round_to=resolve_round_to(options.round_to, str(device)),
                      round_min=round_min_channels(options.round_to, str(device)), before=before, groups=groups,
                      channels={k: v.channels for k, v in groups.views.items()}, notes=list(groups.notes))


def check_matched_target(record: PruneRecord, level: float, options: PrunerOptions) -> None:
    """With ``target: params | flops``: store the achieved reduction and warn when it misses ``level``."""
    if options.target in ("channels", "latency"):  # latency: measured by check_latency_target
        return
    achieved = record.params_reduction if options.target == "params" else record.flops_reduction
    record.extra["achieved_target"] = achieved
    if abs(achieved - level) > options.tolerance:
        _warn(record.notes, f"matched {options.target}: achieved reduction {achieved:.4f} misses level {level} "
                            f"by more than {options.tolerance} (channel counts are discrete)")


def _measured_round_to(model: nn.Module, level: float, options: PrunerOptions, context: PruneContext, *,
                       family: ModelFamily, before: CostModel, groups: ScopeGroups,
                       ranked: Mapping[str, torch.Tensor], example: torch.Tensor,
                       latency_table: Any) -> tuple[int | None, int, dict[str, Any]]:
    """``round_to: auto`` on CPU: the multiple chosen by timing each candidate plan's pruned copy whole
    (:func:`prunebench.speed.round_choice.choose_round_to`)."""
    from prunebench.speed.round_choice import choose_round_to

    channels = {k: v.channels for k, v in groups.views.items()}

    def plan(rt: int | None, rmin: int) -> dict[str, int]:
        with warnings.catch_warnings():  # a candidate's notes are not the record's: only the chosen plan warns
            warnings.simplefilter("ignore", PruningWarning)
            return plan_counts(level, options, before=before, groups=groups, ranked=ranked, round_to=rt,
                               round_min=rmin, notes=[], latency_table=latency_table)

    def build(counts: Mapping[str, int]) -> nn.Module:
        """A pruned copy with ``counts`` (which channels go does not change the time, only how many)."""
        with torch.no_grad():
            copy_ = copy.deepcopy(model).cpu().eval()
        probe = example.cpu()
        copy_groups = build_groups(copy_, family, options.scope, probe)
        for key, view in copy_groups.views.items():
            keep = int(counts[key])
            if keep < view.channels:
                idx = copy_groups.keep_parts(key, levels.keep_indices(ranked[key].cpu(), keep), ranked[key].cpu())
                prune_group(copy_groups, key, sorted(set(range(view.channels)) - set(idx)))
        return copy_

    return choose_round_to(options, context, example, plan, build,
                           lambda counts: _predict(before, groups, channels, counts)[1])


def prune_model(model: nn.Module, level: float, context: PruneContext, options: PrunerOptions, *,
                criterion: str | Criterion, name: str, taylor_batches: int = 4, inplace: bool = False) -> PruneResult:
    """Prune ``model`` at ``level`` with ``criterion`` under the shared ``options``; return model and record.

    ``criterion`` is a bundled criterion's name or a function ``(group: GroupView, generator) -> scores``
    giving one score per output channel of the group (higher = keep); scores of a custom function are
    divided by their group's mean under global ranking.
    """
    custom: Criterion | None = None
    if callable(criterion):
        custom, criterion = criterion, str(getattr(criterion, "__name__", "custom"))
    elif criterion not in CRITERIA:
        raise UsageError(f"Unknown criterion {criterion!r}.", hint="Known: " + ", ".join(sorted(CRITERIA)))
    setup = start_prune(model, level, context, options, name=name, inplace=inplace)
    model, family, example, groups, channels = setup.model, setup.family, setup.example, setup.groups, setup.channels
    before, notes, round_to, round_min = setup.before, setup.notes, setup.round_to, setup.round_min
    scorer = _Scorer(criterion if custom is None else f"custom:{criterion}", context, taylor_batches, fn=custom)
    scores = scorer.scores(model, groups, 0)
    ranked = {k: (s if custom is None and criterion in GLOBAL_RAW else normalise(s)) for k, s in scores.items()}

    if level > 0 and all(levels.all_equal(s.tolist()) for s in scores.values() if s.numel() > 1):
        values = sorted({round(float(s[0]), 6) for s in scores.values()})
        shown = ", ".join(f"{v:.4g}" for v in values[:4]) + (" ..." if len(values) > 4 else "")
        _warn(notes, f"all {criterion} scores in scope {options.scope!r} are equal within every group "
                     f"({shown}): the ranking is arbitrary (lower channel indices kept); a global threshold "
                     "on these scores would prune nothing"
                     + (" - was the model sparsity-trained?" if criterion == "bn-scale" else "."))
    table = original = None
    if options.target == "latency":
        from prunebench.speed.latency_target import latency_table_for

        original = copy.deepcopy(model)
        table = latency_table_for(original, before, example, options, context)
    auto_record = None
    if options.round_to == AUTO and setup.device.type == "cpu" and level > 0:
        round_to, round_min, auto_record = _measured_round_to(
            model, level, options, context, family=family, before=before, groups=groups, ranked=ranked,
            example=example, latency_table=table)
        notes.append(auto_record["why"])
    final = plan_counts(level, options, before=before, groups=groups, ranked=ranked, round_to=round_to,
                        round_min=round_min, notes=notes, latency_table=table)
    steps = options.iterative_steps
    tied: set[str] = set()
    for step in range(1, steps + 1):
        target_counts = levels.interpolate_counts(channels, final, step, steps)
        if step > 1:
            groups = build_groups(model, family, options.scope, example)
            scores = scorer.scores(model, groups, step - 1)
        for key, view in groups.views.items():
            keep = target_counts[key]
            if keep >= view.channels:
                continue
            if levels.cut_is_tied(scores[key], keep):
                tied.add(key)
            idx = groups.keep_parts(key, levels.keep_indices(scores[key], keep), scores[key])
            prune_group(groups, key, sorted(set(range(view.channels)) - set(idx)))
    if tied and criterion != "random":
        notes.append(f"tied scores at the cut in {len(tied)} of {len(channels)} groups (lower channel "
                     f"indices kept): {', '.join(sorted(tied)[:8])}{' ...' if len(tied) > 8 else ''}")
    after = measure_costs(model, example)
    members = groups.members
    extra: dict[str, Any] = {"criterion": criterion, "round_to": round_to, "round_min_channels": round_min,
                             "global_pruning": options.global_pruning,
                             "iterative_steps": steps, "group_keep": dict(final), "gflops_imgsz": 640,
                             "options": options.model_dump(mode="json", by_alias=True)}
    if auto_record is not None:
        extra["round_to_auto"] = auto_record
    record = _record(name, level, options.target, options.scope, before, after, members, channels, final,
                     notes, extra)
    check_matched_target(record, level, options)
    if table is not None and original is not None:
        from prunebench.speed.latency_target import LatencyCost, check_latency_target

        predicted = _predict(LatencyCost(table), groups, channels, final)[1]  # type: ignore[arg-type]
        if check_latency_target(record, level, options, original, model, table, predicted, example):
            # missed by more than the tolerance: the table was re-calibrated on this plan's measurement
            # (closer to the level than its first calibration); plan and measure once more from the start
            return prune_model(original, level, context, options, criterion=custom or criterion, name=name,
                               taylor_batches=taylor_batches)
    return PruneResult(model=model, record=record)
