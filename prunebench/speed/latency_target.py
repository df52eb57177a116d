"""``target: latency``: plan channel counts from a per-layer latency table, then measure what was achieved.

The pruner's ``level`` is the fraction of measured latency to remove on ``latency_runtime`` at
``latency_threads`` threads and ``latency_imgsz`` pixels. :func:`latency_table_for` builds (or reads from
the run folder's ``cache/``) the :class:`~prunebench.speed.latency_table.LatencyTable` of the unpruned
model; the matched-cost search picks the channel counts whose *predicted* reduction is closest to the
level; :func:`check_latency_target` then times the pruned model interleaved with the unpruned one and
records the *measured* reduction with its interval, warning when it misses the level by more than
``tolerance``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import PruneContext, PruneRecord
    from prunebench.pruning.costs import CostModel
    from prunebench.pruning.options import PrunerOptions
    from prunebench.speed.latency_table import LatencyTable

__all__ = ["LatencyCost", "check_latency_target", "latency_table_for"]

#: how often a missed level re-calibrates the table on the latest measured plan and plans again
MAX_CORRECTIONS = 3


class LatencyCost:
    """A :class:`LatencyTable` with the ``predict(removed_out, removed_in) -> (params, cost)`` shape of a
    :class:`~prunebench.pruning.costs.CostModel`, so the matched-cost search can use it (params unused)."""

    def __init__(self, table: LatencyTable) -> None:
        self.table = table

    def predict(self, removed_out: Any, removed_in: Any) -> tuple[int, float]:
        return 0, self.table.predict(removed_out, removed_in)


def latency_table_for(model: nn.Module, before: CostModel, example: Any, options: PrunerOptions,
                      context: PruneContext) -> LatencyTable:
    """The calibrated latency table of the unpruned ``model`` for the options' runtime, threads, image size
    and scope (cached in ``context.cache_dir`` when the context has one)."""
    import copy
    import json

    import torch

    from prunebench.pruning.costs import measure_costs
    from prunebench.pruning.groups import build_groups, prune_group
    from prunebench.speed.latency_table import LatencyTable, build_latency_table, measure_latency_reduction
    from prunebench.speed.runtimes import check_runtimes

    check_runtimes([options.latency_runtime], "cpu", where="latency_runtime")
    cache = getattr(context, "cache_dir", None)
    m = model.to("cpu")
    ex = example.to("cpu")
    table = build_latency_table(m, before, runtime=options.latency_runtime, threads=options.latency_threads,
                                imgsz=options.latency_imgsz, probe_side=int(ex.shape[-1]),
                                cache_dir=Path(cache) if cache is not None else None, in_channels=int(ex.shape[1]))
    calibrated = Path(cache) / f"latency-{table.key}-{options.scope}-calibrated.json" if cache is not None else None
    if calibrated is not None and calibrated.is_file():
        try:
            cached = LatencyTable.from_dict(json.loads(calibrated.read_text()))
            cached.info["calibrated_path"] = str(calibrated)  # the run folder may have moved
            return cached
        except (OSError, ValueError, TypeError, KeyError):
            pass
    # one pruned plan (half the channels of every group of the scope) measured beside the unpruned model
    half = copy.deepcopy(m)
    groups = build_groups(half, context.family, options.scope, ex)
    for key, view in groups.views.items():
        keep = max(1, view.channels // 2)
        # every part of a partly coupled group (YOLOv8 C2f's halves) keeps a channel
        idx = groups.keep_parts(key, list(range(keep)), torch.zeros(view.channels))
        prune_group(groups, key, sorted(set(range(view.channels)) - set(idx)))
    after = measure_costs(half, ex)
    removed_out = {n: s.cout - after.convs[n].cout for n, s in before.convs.items() if n in after.convs}
    removed_in = {n: float(s.cin - after.convs[n].cin) for n, s in before.convs.items() if n in after.convs}
    measured = measure_latency_reduction(m, half, runtime=options.latency_runtime, threads=options.latency_threads,
                                         imgsz=options.latency_imgsz, in_channels=int(ex.shape[1]), time_cap_s=15)
    table.calibrate(measured["before_ms"], measured["after_ms"], removed_out, removed_in)
    table.info["calibrated_path"] = str(calibrated) if calibrated is not None else None
    if calibrated is not None:
        table.save(calibrated)
    return table


def check_latency_target(record: PruneRecord, level: float, options: PrunerOptions, original: nn.Module,
                         pruned: nn.Module, table: LatencyTable, predicted_ms: float, example: Any) -> bool:
    """Measure the achieved latency reduction, store it in ``record.extra`` and warn when it misses ``level``.

    Returns True (plan again) when it missed and the cached table was corrected fewer than
    :data:`MAX_CORRECTIONS` times for this level: the table is then re-calibrated on this plan's measurement
    (a point nearer the level than the last one: a secant step) and written back to the cache.
    """
    import warnings

    from prunebench.pruning.costs import measure_costs
    from prunebench.pruning.removal import PruningWarning
    from prunebench.speed.latency_table import measure_latency_reduction

    device = next(pruned.parameters()).device
    measured = measure_latency_reduction(original.cpu(), pruned.cpu(), runtime=options.latency_runtime,
                                         threads=options.latency_threads, imgsz=options.latency_imgsz,
                                         in_channels=int(example.shape[1]))
    pruned.to(device)
    achieved = measured["reduction"]
    record.extra["achieved_target"] = achieved
    record.extra["latency"] = {**measured, "predicted_reduction": 1.0 - predicted_ms / table.model_ms,
                               "predicted_ms": predicted_ms, "table_model_ms": table.model_ms,
                               "table_key": table.key}
    if abs(achieved - level) > options.tolerance:
        path = table.info.get("calibrated_path")
        corrected = list(table.info.get("corrected_levels") or [])
        if path and corrected.count(level) < MAX_CORRECTIONS and measured["after_ms"] < measured["before_ms"]:
            after = measure_costs(pruned, example.to(device))
            removed_out = {n: c.cout - after.convs[n].cout for n, c in table.convs.items() if n in after.convs}
            removed_in = {n: float(c.cin - after.convs[n].cin) for n, c in table.convs.items() if n in after.convs}
            table.calibrate(measured["before_ms"], measured["after_ms"], removed_out, removed_in)
            table.info["corrected_levels"] = [*corrected, level]
            table.save(path)
            return True
        message = (f"target latency: measured reduction {achieved:.3f} [{measured['reduction_lo']:.3f}, "
                   f"{measured['reduction_hi']:.3f}] on {options.latency_runtime} ({options.latency_threads} threads, "
                   f"{options.latency_imgsz}px) misses level {level} by more than {options.tolerance} "
                   f"(the table predicted {1.0 - predicted_ms / table.model_ms:.3f})")
        record.notes.append(message)
        warnings.warn(message, PruningWarning, stacklevel=3)
    return False
