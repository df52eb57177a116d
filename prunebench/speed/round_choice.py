"""``round_to: auto`` from measurement: the channel multiple that makes a plan's latency drop the most per GFLOP.

For each candidate multiple (:data:`CANDIDATES`) the planned channel counts are rounded to it (groups of
fewer than :data:`~prunebench.pruning.options.AUTO_MIN_BLOCKS` multiples keep exact counts) and their
latency is predicted by the model's per-layer latency table (:mod:`prunebench.speed.latency_table`: every
convolution timed alone at three widths on ``latency_runtime`` / ``latency_threads`` / ``latency_imgsz``,
with channels padded to the channel block the measurements fit best; cached in the run folder's
``cache/``). The chosen multiple maximises the predicted *efficiency*, latency reduction / GFLOPs
reduction: a multiple that keeps channels the runtime computes anyway (padding) gains accuracy for free
and scores higher; one that only moves GFLOPs up or down scores the same (ties go to the smaller multiple,
1 meaning exact counts). The record says what was chosen, from which table and with which predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from prunebench.contracts import PruneContext
    from prunebench.pruning.costs import CostModel
    from prunebench.pruning.options import PrunerOptions

__all__ = ["CANDIDATES", "TIE", "choose_round_to"]

#: channel multiples ``auto`` chooses between (1: exact counts)
CANDIDATES = (1, 4, 8, 16)
#: efficiencies closer than this are a tie (the smaller multiple wins)
TIE = 0.01

Counts = Mapping[str, int]


def choose_round_to(model: nn.Module, before: CostModel, example: Any, options: PrunerOptions,
                    context: PruneContext, plan: Callable[[int | None, int], Counts],
                    latency_of: Callable[[Any, Counts], float],
                    gflops_of: Callable[[Counts], float]) -> tuple[int | None, int, dict[str, Any]]:
    """The measured ``round_to`` for ``auto`` on CPU: ``(multiple or None, round_min, why)``.

    ``plan(round_to, round_min)`` gives the kept channels per group, ``latency_of(table, counts)`` their
    predicted latency (ms) and ``gflops_of(counts)`` their GFLOPs.
    """
    from prunebench.pruning.options import AUTO_MIN_BLOCKS
    from prunebench.speed.latency_table import build_latency_table

    cache = getattr(context, "cache_dir", None)
    table = build_latency_table(model, before, runtime=options.latency_runtime, threads=options.latency_threads,
                                imgsz=options.latency_imgsz, probe_side=int(example.shape[-1]),
                                cache_dir=Path(cache) if cache is not None else None,
                                in_channels=int(example.shape[1]))
    full_ms, full_g = table.predict(), before.gflops
    rows: dict[str, dict[str, float | None]] = {}
    best, best_eff = 1, None
    for m in CANDIDATES:
        counts = plan(m if m > 1 else None, AUTO_MIN_BLOCKS * m if m > 1 else 0)
        ms, g = latency_of(table, counts), gflops_of(counts)
        g_red = 1.0 - g / full_g if full_g > 0 else 0.0
        eff = (1.0 - ms / full_ms) / g_red if g_red > 1e-9 and full_ms > 0 else None
        rows[str(m)] = {"predicted_ms": ms, "gflops": g, "efficiency": eff}
        if eff is not None and (best_eff is None or eff > best_eff + TIE):
            best, best_eff = m, eff
    block = table.info.get("block")
    why = (f"round_to auto: multiple {best} chosen on {options.latency_runtime} ({options.latency_threads} threads, "
           f"{options.latency_imgsz}px): predicted latency reduction / GFLOPs reduction "
           + ", ".join(f"{k}: " + ("-" if v["efficiency"] is None else f"{v['efficiency']:.3f}")
                       for k, v in rows.items())
           + f" (per-layer table fits a channel block of {block}; ties within {TIE} go to the smaller multiple)")
    record = {"chosen": best, "candidates": rows, "table_block": block, "block_fit": table.info.get("block_fit"),
              "table_key": table.key, "table_model_ms": table.model_ms, "runtime": options.latency_runtime,
              "threads": options.latency_threads, "imgsz": options.latency_imgsz, "why": why}
    return (best if best > 1 else None), (AUTO_MIN_BLOCKS * best if best > 1 else 0), record
